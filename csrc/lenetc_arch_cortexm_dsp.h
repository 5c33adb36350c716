/* lenetc primitives for the Cortex-M DSP extension (M4, M7, M33). Elsewhere the portable
 * routines are used: same results. */
#if defined(LENETC_USE_DOT_S16S8) && defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#define LENETC_HAVE_DOT_S16S8 1
/* Four MACs per step with two SMLADs: sxtb16 splits four int8 weights into the pairs (w0, w2)
 * and (w1, w3); the int16 inputs are regrouped to match (the compiler emits pkhbt/pkhtb). */
static inline int32_t lenetc_dot_s16s8(const int16_t *restrict x, const int8_t *restrict w, int32_t n)
{
    int32_t acc = 0;
    int32_t i;
    for (i = 0; i < n; i += 4) {
        uint32_t x01, x23, w4;
        memcpy(&x01, x + i, 4);
        memcpy(&x23, x + i + 2, 4);
        memcpy(&w4, w + i, 4);
        {
            const int16x2_t w02 = __sxtb16((int8x4_t)w4);
            const int16x2_t w13 = __sxtb16((int8x4_t)((w4 >> 8) | (w4 << 24))); /* ror 8 */
            const int16x2_t x02 = (int16x2_t)((x01 & 0xFFFFu) | (x23 << 16));
            const int16x2_t x13 = (int16x2_t)((x01 >> 16) | (x23 & 0xFFFF0000u));
            acc = __smlad(x02, w02, acc);
            acc = __smlad(x13, w13, acc);
        }
    }
    return acc;
}
#endif
