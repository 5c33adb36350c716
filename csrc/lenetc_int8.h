/* lenetc int8 helpers: integer-only requantization in portable ISO C99. Inlined into each
 * generated int8 model; all static, so models link together.
 *
 * lenetc_requant: zp + round_half_away_from_zero(acc * mult / 2^shift), saturated to [lo, hi].
 *   One rounding step on the exact 64-bit product (TFLite/CMSIS-NN "single rounding" with
 *   ties away from zero). mult < 2^31 and |acc| < 2^31 give |acc * mult| < 2^62, and the
 *   rounding term 2^(shift-1) <= 2^61, so the sum never overflows int64. The shift acts on
 *   the magnitude, so no negative value is ever shifted (fully defined ISO C).
 * lenetc_round_div: round_half_away_from_zero(num / den) for den > 0 and |num| < 2^29
 *   (average pooling: |num| <= 255 * window cells).
 * Each routine is compiled only where the model's code defines LENETC_USE_<NAME>.
 * Kernels with a vector path (Helium) call the requantization routines only in their portable
 * fallback branch, which the preprocessor drops when the vector path is taken: the routines are
 * marked LENETC_MAYBE_UNUSED so that clang's -Wunused-function stays quiet under -Werror.
 */
#if !defined(LENETC_MAYBE_UNUSED)
#if defined(__GNUC__) || defined(__clang__)
#define LENETC_MAYBE_UNUSED __attribute__((unused))
#else
#define LENETC_MAYBE_UNUSED
#endif
#endif
#if defined(LENETC_USE_REQUANT) && !defined(LENETC_HAVE_REQUANT)
LENETC_MAYBE_UNUSED static inline int8_t lenetc_requant(int32_t acc, int32_t mult, int32_t shift, int32_t zp, int32_t lo, int32_t hi)
{
    const int64_t prod = (int64_t)acc * (int64_t)mult;
    const int64_t half = (int64_t)1 << (shift - 1);
    const int64_t mag = ((prod < 0 ? -prod : prod) + half) >> shift;
    int64_t v = (prod < 0 ? -mag : mag) + (int64_t)zp;
    v = v < (int64_t)lo ? (int64_t)lo : v;
    v = v > (int64_t)hi ? (int64_t)hi : v;
    return (int8_t)v;
}
#endif

#ifdef LENETC_USE_ROUND_DIV
LENETC_MAYBE_UNUSED static inline int32_t lenetc_round_div(int32_t num, int32_t den)
{
    const int32_t mag = (2 * (num < 0 ? -num : num) + den) / (2 * den);
    return num < 0 ? -mag : mag;
}
#endif

/* lenetc_requant_tflm (--requant tflm): TensorFlow Lite Micro's reference requantization,
 *   MultiplyByQuantizedMultiplier with two roundings: gemmlowp's SaturatingRoundingDoublingHighMul
 *   (high word of 2 * x * mult with a nudge of 2^30, ties toward +inf, C division toward zero)
 *   then RoundingDivideByPOT (ties away from zero). `shift` is lenetc's 31 - TFLite's exponent.
 *   Right shifts of negative values are written as divisions or on magnitudes: defined ISO C.
 *   A positive TFLite exponent (scales >= 0.5) left-shifts acc first, as TFLM does; lenetc
 *   checks at build time that |acc| << exponent stays inside int32 (QLayer.acc_bound).
 */
#if defined(LENETC_USE_REQUANT_TFLM) || defined(LENETC_USE_SOFTMAX_TFLM)
static inline int32_t lenetc_srdhm(int32_t a, int32_t b)
{
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudged = ab + (ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30)));
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    return (int32_t)(nudged / ((int64_t)1 << 31));
}

static inline int32_t lenetc_rdbpot(int32_t x, int32_t exponent)
{
    /* floor(x / 2^e) from the magnitude (no shift of a negative value), remainder x mod 2^e */
    const uint32_t mask = (uint32_t)(((uint64_t)1 << exponent) - 1u);
    const uint32_t ux = (uint32_t)x;
    const uint32_t threshold = (mask >> 1) + (x < 0 ? 1u : 0u);
    const int64_t floor_q = x >= 0 ? (int64_t)(ux >> exponent) : -(int64_t)(((0u - ux) + mask) >> exponent);
    return (int32_t)(floor_q + ((ux & mask) > threshold ? 1 : 0));
}
#endif

#if defined(LENETC_USE_REQUANT_TFLM) && !defined(LENETC_HAVE_REQUANT_TFLM)
LENETC_MAYBE_UNUSED static inline int8_t lenetc_requant_tflm(int32_t acc, int32_t mult, int32_t shift, int32_t zp, int32_t lo, int32_t hi)
{
    const int32_t exponent = 31 - shift;
    const int32_t left = exponent > 0 ? exponent : 0;
    const int32_t right = exponent > 0 ? 0 : -exponent;
    int32_t v = lenetc_rdbpot(lenetc_srdhm((int32_t)((uint32_t)acc << left), mult), right) + zp;
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    return (int8_t)v;
}
#endif

/* lenetc_softmax_tflm: TFLM's reference int8 softmax over n values (output scale 1/256, zero
 *   point -128). exp_tab[d] is gemmlowp's exp of the difference -d from the row maximum (Q0.31;
 *   -1 where d is beyond TFLM's diff_min), computed at generation time; the sum, its reciprocal
 *   (three Newton-Raphson steps in Q2.29, gemmlowp's one_over_one_plus_x_for_x_in_0_1) and the
 *   outputs are computed here exactly as TFLM computes them.
 */
#ifdef LENETC_USE_SOFTMAX_TFLM
static inline int32_t lenetc_sat_shl(int32_t x, int32_t e)
{
    const int32_t t = (int32_t)(((int64_t)1 << (31 - e)) - 1);
    return x > t ? INT32_MAX : (x < -t ? INT32_MIN : (int32_t)((int64_t)x * ((int64_t)1 << e)));
}

static inline int32_t lenetc_wrap_add(int32_t a, int32_t b)
{
    return (int32_t)(uint32_t)((uint32_t)a + (uint32_t)b);
}

static void lenetc_softmax_tflm(const int8_t *in, int8_t *out, int n, const int32_t *exp_tab)
{
    int32_t top = in[0], sum = 0, half_den, x, scale, headroom = 0, i, k;
    int64_t s;
    uint32_t u;
    for (i = 1; i < n; ++i) {
        top = in[i] > top ? in[i] : top;
    }
    for (i = 0; i < n; ++i) {
        const int32_t e = exp_tab[top - in[i]];
        if (e >= 0) {
            sum = lenetc_wrap_add(sum, lenetc_rdbpot(e, 12));
        }
    }
    u = (uint32_t)sum; /* > 0: the maximum itself always counts */
    while (!(u & 0x80000000u)) {
        u <<= 1;
        ++headroom;
    }
    x = (int32_t)(u - 0x80000000u); /* sum scaled to [1, 2), minus one */
    s = (int64_t)x + INT32_MAX;
    s += s >= 0 ? 1 : -1;
    half_den = (int32_t)(s / 2);
    x = lenetc_wrap_add(1515870810, lenetc_srdhm(half_den, -1010580540));
    for (k = 0; k < 3; ++k) {
        const int32_t one_minus = lenetc_wrap_add((int32_t)1 << 29, -lenetc_srdhm(half_den, x));
        x = lenetc_wrap_add(x, lenetc_sat_shl(lenetc_srdhm(x, one_minus), 2));
    }
    scale = lenetc_sat_shl(x, 1);
    for (i = 0; i < n; ++i) {
        const int32_t e = exp_tab[top - in[i]];
        int32_t v = -128;
        if (e >= 0) {
            v = lenetc_rdbpot(lenetc_srdhm(scale, e), 12 - headroom + 23) - 128;
            v = v > 127 ? 127 : (v < -128 ? -128 : v);
        }
        out[i] = (int8_t)v;
    }
}
#endif
