/* lenetc primitives for Arm NEON (Arm64). Elsewhere the portable routines are used: same results. */
#if defined(LENETC_USE_DOT_S16S8) && defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define LENETC_HAVE_DOT_S16S8 1
/* smlal/smlal2: widening multiply-accumulate of int16 lanes into int32 lanes. */
static inline int32_t lenetc_dot_s16s8(const int16_t *restrict x, const int8_t *restrict w, int32_t n)
{
    int32x4_t acc = vdupq_n_s32(0);
    int32_t i;
    for (i = 0; i < n; i += 16) {
        const int8x16_t wv = vld1q_s8(w + i);
        const int16x8_t w0 = vmovl_s8(vget_low_s8(wv));
        const int16x8_t w1 = vmovl_high_s8(wv);
        const int16x8_t x0 = vld1q_s16(x + i);
        const int16x8_t x1 = vld1q_s16(x + i + 8);
        acc = vmlal_s16(acc, vget_low_s16(x0), vget_low_s16(w0));
        acc = vmlal_high_s16(acc, x0, w0);
        acc = vmlal_s16(acc, vget_low_s16(x1), vget_low_s16(w1));
        acc = vmlal_high_s16(acc, x1, w1);
    }
    return vaddvq_s32(acc);
}
#endif
