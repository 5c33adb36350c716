/* lenetc primitives for Cortex-M Helium/MVE (M55, M85). Elsewhere the portable routines are
 * used: same results. */
#if defined(LENETC_USE_DOT_S16S8) && defined(__ARM_FEATURE_MVE)
#include <arm_mve.h>
#define LENETC_HAVE_DOT_S16S8 1
/* vldrb.s16 widens eight int8 weights; vmladava adds eight int16 products to a scalar. */
static inline int32_t lenetc_dot_s16s8(const int16_t *restrict x, const int8_t *restrict w, int32_t n)
{
    int32_t acc = 0;
    int32_t i;
    for (i = 0; i < n; i += 8) {
        acc = vmladavaq_s16(acc, vldrhq_s16(x + i), vldrbq_s16(w + i));
    }
    return acc;
}
#endif
