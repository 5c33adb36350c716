/* lenetc float helpers: branch-free exp/tanh/sigmoid that compilers vectorise and that
 * give the same bits with every libc (libm's tanhf differs between libcs and does not
 * vectorise). Inlined into each generated model; all static, so models link together.
 *
 * lenetc_expf: x = k*ln2 + r, |r| <= ln2/2, degree-7 Taylor polynomial for e^r, 2^k from
 *   the exponent bits. Relative error below 2.5e-7 on [-87, 88] (inputs are clamped there).
 * lenetc_tanhf: odd Taylor polynomial (degree 9) for |x| < 0.25, else (1-e)/(1+e) with
 *   e = exp(-2|x|). Absolute error below 3e-7 everywhere; tests/test_float_helpers.py checks.
 * Each routine is compiled only where the model's code defines LENETC_USE_<NAME>.
 */
#if defined(LENETC_USE_EXPF) || defined(LENETC_USE_TANHF) || defined(LENETC_USE_SIGMOIDF)
static inline float lenetc_expf(float x)
{
    float xc, k, r, p, scale;
    int32_t bits;
    /* clamp written so that NaN takes the -87 branch: the float-to-int conversion below
     * then stays defined (UBSan float-cast-overflow); the NaN is passed on at the end. */
    xc = x > -87.0f ? (x < 88.0f ? x : 88.0f) : -87.0f;
    k = floorf(xc * 1.44269504f + 0.5f);
    r = xc - k * 0.693145752f; /* ln2, high 16 bits: k * hi is exact */
    r = r - k * 1.42860677e-6f; /* ln2, remainder */
    p = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666667e-1f + r * (4.16666667e-2f
        + r * (8.33333333e-3f + r * (1.38888889e-3f + r * 1.98412698e-4f))))));
    bits = (int32_t)((int32_t)k + 127) * 8388608; /* (k + 127) << 23 without shifting a signed value */
    memcpy(&scale, &bits, sizeof scale);
    return x != x ? x : p * scale;
}
#endif

#ifdef LENETC_USE_TANHF
static inline float lenetc_tanhf(float x)
{
    const float a = x < 0.0f ? -x : x;
    const float e = lenetc_expf(-2.0f * (a > 9.0f ? 9.0f : a));
    const float big = (1.0f - e) / (1.0f + e);
    const float a2 = a * a;
    const float small = a * (1.0f + a2 * (-3.33333333e-1f + a2 * (1.33333333e-1f
        + a2 * (-5.39682540e-2f + a2 * 2.18694885e-2f))));
    const float t = a < 0.25f ? small : big;
    return x < 0.0f ? -t : t;
}
#endif

#ifdef LENETC_USE_SIGMOIDF
static inline float lenetc_sigmoidf(float x)
{
    return 1.0f / (1.0f + lenetc_expf(-x));
}
#endif
