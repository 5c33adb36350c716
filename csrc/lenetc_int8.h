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
 */
#if defined(LENETC_USE_REQUANT) && !defined(LENETC_HAVE_REQUANT)
static inline int8_t lenetc_requant(int32_t acc, int32_t mult, int32_t shift, int32_t zp, int32_t lo, int32_t hi)
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
static inline int32_t lenetc_round_div(int32_t num, int32_t den)
{
    const int32_t mag = (2 * (num < 0 ? -num : num) + den) / (2 * den);
    return num < 0 ? -mag : mag;
}
#endif
