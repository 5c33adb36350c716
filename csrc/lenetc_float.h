/* lenetc float helpers: exp/tanh/sigmoid that give the same bits with every libc (libm's
 * tanhf differs between libcs) and, for tanh and sigmoid, vectorise: no branches, no bit
 * casts, no libm calls (clang as is; GCC once -fno-trapping-math lets it if-convert compares). Inlined into each generated model, all static, so
 * several models link together. Each routine is compiled only where the model's code defines
 * LENETC_USE_<NAME>.
 *
 * lenetc_tanhf: x * P(x^2) / Q(x^2), degrees 6 and 3 in x^2, fitted by lenetc (weighted
 *   least squares iterated towards minimax) on |x| <= 7.905, where float32 tanh reaches 1.
 *   Max abs error 3.3e-7 in float32 arithmetic; tests/test_layers.py checks it on a grid.
 * lenetc_sigmoidf: 0.5 + 0.5 * tanh(x / 2).
 * lenetc_expf: x = k*ln2 + r, |r| <= ln2/2, degree-7 Taylor polynomial for e^r, 2^k from
 *   the exponent bits; relative error below 2.5e-7 on [-87, 88] (inputs are clamped there).
 */
#if defined(LENETC_USE_TANHF) || defined(LENETC_USE_SIGMOIDF)
static inline float lenetc_tanhf(float x)
{
    const float lo = x < -7.90531111f ? -7.90531111f : x;
    const float c = lo > 7.90531111f ? 7.90531111f : lo;
    const float s = c * c;
    const float p = 1.0f + s * (1.31243557e-1f + s * (3.14942771e-3f + s * (1.16449719e-5f
        + s * (-2.23393872e-8f + s * (6.38806993e-11f + s * -1.16600468e-13f)))));
    const float q = 1.0f + s * (4.64576870e-1f + s * (2.46750936e-2f + s * 2.61316891e-4f));
    return c * p / q;
}
#endif

#ifdef LENETC_USE_SIGMOIDF
static inline float lenetc_sigmoidf(float x)
{
    return 0.5f + 0.5f * lenetc_tanhf(0.5f * x);
}
#endif

#ifdef LENETC_USE_EXPF
static inline float lenetc_expf(float x)
{
    float k, r, p, scale;
    int32_t bits;
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    k = x * 1.44269504f;
    k = (float)(int32_t)(k + (k < 0.0f ? -0.5f : 0.5f)); /* round half away from zero */
    r = x - k * 0.693145752f; /* ln2, high 16 bits: k * hi is exact */
    r = r - k * 1.42860677e-6f; /* ln2, remainder */
    p = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666667e-1f + r * (4.16666667e-2f
        + r * (8.33333333e-3f + r * (1.38888889e-3f + r * 1.98412698e-4f))))));
    bits = (int32_t)((int32_t)k + 127) * 8388608; /* (k + 127) << 23 without shifting a signed value */
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}
#endif
