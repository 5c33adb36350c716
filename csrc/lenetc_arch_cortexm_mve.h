/* lenetc primitives for Cortex-M Helium/MVE (M55, M85). Elsewhere the portable routines are
 * used: same results.
 *
 * The int8 Helium kernels multiply int8 by int8 with VMLADAVA (16 multiply-adds into a 32-bit
 * scalar per instruction): no widening of inputs, because the input zero point is folded into
 * the bias at generation time. Integer sums are exact in any order, so every routine gives the
 * portable result bit for bit. The requantization epilogues work on four accumulators of one
 * channel per vector and are exact for the integer rule (lenetc_requant) when the total shift
 * is at least 32 (a scale below 1/2, or a zero multiplier); the kernels are chosen only where
 * every channel qualifies, and a routine falls back to the scalar rule otherwise.
 */
#if defined(__ARM_FEATURE_MVE)
#include <arm_mve.h>

#if defined(LENETC_USE_DOT_S16S8)
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

#if defined(LENETC_USE_GATHER_S8)
#define LENETC_HAVE_GATHER_S8 1
/* one gather load per 16 taps: the im2col segment of a window costs two instructions per 16
 * bytes instead of a load and a store per byte */
static inline void lenetc_gather_s8(int8_t *restrict dst, const int8_t *restrict src, const uint8_t *restrict off,
                                    int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i += 16) {
        vst1q_s8(dst + i, vldrbq_gather_offset_s8(src, vld1q_u8(off + i)));
    }
}
#endif

#if defined(LENETC_USE_DOT2X2_S8)
#define LENETC_HAVE_DOT2X2_S8 1
/* two patches x two weight rows: every loaded vector feeds two VMLADAVs */
static inline void lenetc_dot2x2_s8(const int8_t *restrict p, int32_t pstride, const int8_t *restrict w,
                                    int32_t wstride, int32_t n, int32_t *restrict acc)
{
    const int8_t *restrict p1 = p + pstride;
    const int8_t *restrict w1 = w + wstride;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t i;
    for (i = 0; i < n; i += 16) {
        const int8x16_t x0 = vld1q_s8(p + i);
        const int8x16_t x1 = vld1q_s8(p1 + i);
        const int8x16_t v0 = vld1q_s8(w + i);
        const int8x16_t v1 = vld1q_s8(w1 + i);
        a0 = vmladavaq_s8(a0, x0, v0);
        a1 = vmladavaq_s8(a1, x0, v1);
        a2 = vmladavaq_s8(a2, x1, v0);
        a3 = vmladavaq_s8(a3, x1, v1);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
#endif

#if defined(LENETC_USE_DOT2X1_S8)
#define LENETC_HAVE_DOT2X1_S8 1
static inline void lenetc_dot2x1_s8(const int8_t *restrict p, int32_t pstride, const int8_t *restrict w, int32_t n,
                                    int32_t *restrict acc)
{
    const int8_t *restrict p1 = p + pstride;
    int32_t a0 = acc[0], a1 = acc[1];
    int32_t i;
    for (i = 0; i < n; i += 16) {
        const int8x16_t v = vld1q_s8(w + i);
        a0 = vmladavaq_s8(a0, vld1q_s8(p + i), v);
        a1 = vmladavaq_s8(a1, vld1q_s8(p1 + i), v);
    }
    acc[0] = a0;
    acc[1] = a1;
}
#endif

#if defined(LENETC_USE_DOT4_S8)
#define LENETC_HAVE_DOT4_S8 1
/* one input vector x four weight rows per step (a dense layer: each input load feeds four VMLADAVs) */
static inline void lenetc_dot4_s8(const int8_t *restrict x, const int8_t *restrict w, int32_t wstride, int32_t n,
                                  int32_t *restrict acc)
{
    const int8_t *restrict w1 = w + wstride;
    const int8_t *restrict w2 = w1 + wstride;
    const int8_t *restrict w3 = w2 + wstride;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t i;
    for (i = 0; i < n; i += 16) {
        const int8x16_t v = vld1q_s8(x + i);
        a0 = vmladavaq_s8(a0, v, vld1q_s8(w + i));
        a1 = vmladavaq_s8(a1, v, vld1q_s8(w1 + i));
        a2 = vmladavaq_s8(a2, v, vld1q_s8(w2 + i));
        a3 = vmladavaq_s8(a3, v, vld1q_s8(w3 + i));
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
#endif

#if defined(LENETC_USE_DOT1_S8)
#define LENETC_HAVE_DOT1_S8 1
static inline int32_t lenetc_dot1_s8(const int8_t *restrict x, const int8_t *restrict w, int32_t n)
{
    int32_t a = 0;
    int32_t i;
    for (i = 0; i < n; i += 16) {
        a = vmladavaq_s8(a, vld1q_s8(x + i), vld1q_s8(w + i));
    }
    return a;
}
#endif

/* ---- requantization of four accumulators of one channel (integer rule) ----
 * round_half_away(|a| * M / 2^n) for 32 <= n <= 62: with H = floor(|a| * 2M / 2^32)
 * = floor(|a| * M / 2^31), (|a| M + 2^(n-1)) >> n = (H + 2^(n-32)) >> (n-31) exactly (the low
 * bits of the product cannot carry into bit n-1 once it is a multiple of 2^31), which is one
 * VMULH.U32 and one rounding shift VRSHL. 2M < 2^32 fits the unsigned lane. The sign goes
 * back as (m ^ s) - s with s = a >> 31. */
#if defined(LENETC_USE_RQROW_I) || defined(LENETC_USE_RQROW32_I) || defined(LENETC_USE_RQMAX2X2_I) \
    || defined(LENETC_USE_SUB2X2_I) || defined(LENETC_USE_RQVEC_I)
#define LENETC_MVE_HAVE_RQ4_I 1
static inline int32x4_t lenetc_mve_rq4_i(int32x4_t a, uint32x4_t m2, int32x4_t rs, int32x4_t zp, int32x4_t lo,
                                         int32x4_t hi)
{
    const int32x4_t s = vshrq_n_s32(a, 31);
    uint32x4_t m = vmulhq_u32(vreinterpretq_u32_s32(vabsq_s32(a)), m2);
    int32x4_t r;
    m = vrshlq_u32(m, rs);
    r = vsubq_s32(veorq_s32(vreinterpretq_s32_u32(m), s), s);
    r = vaddq_s32(r, zp);
    return vminq_s32(vmaxq_s32(r, lo), hi);
}
/* the clamped value through the activation table (index q + 128), or as it is */
static inline int32x4_t lenetc_mve_lut4(int32x4_t r, const int8_t *lut)
{
    return lut ? vldrbq_gather_offset_s32(lut, vreinterpretq_u32_s32(vaddq_n_s32(r, 128))) : r;
}
#define LENETC_MVE_RQ_I_SETUP(mult, shift, zp_, lo_, hi_)                                                        \
    const uint32x4_t m2 = vdupq_n_u32((uint32_t)(mult) * 2u);                                                   \
    const int32x4_t rs = vdupq_n_s32((mult) == 0 ? -1 : 31 - (shift));                                         \
    const int32x4_t vzp = vdupq_n_s32(zp_);                                                                     \
    const int32x4_t vlo = vdupq_n_s32(lo_);                                                                     \
    const int32x4_t vhi = vdupq_n_s32(hi_)
#define LENETC_MVE_RQ_I(a) lenetc_mve_rq4_i((a), m2, rs, vzp, vlo, vhi)
#endif

#if defined(LENETC_USE_RQVEC_I)
#define LENETC_HAVE_RQVEC_I 1
/* dst[o] = table(requant(acc[o])) with channel o's multiplier and shift, o < n (a dense layer's
 * outputs); needs every mult == 0 or shift >= 32 */
static inline void lenetc_rqvec_i(int8_t *restrict dst, const int32_t *restrict acc, int32_t n,
                                  const int32_t *restrict mult, const int8_t *restrict shift, int32_t zp, int32_t lo,
                                  int32_t hi, const int8_t *lut)
{
    const int32x4_t vzp = vdupq_n_s32(zp);
    const int32x4_t vlo = vdupq_n_s32(lo);
    const int32x4_t vhi = vdupq_n_s32(hi);
    int32_t o;
    for (o = 0; o < n; o += 4) {
        const mve_pred16_t p = vctp32q((uint32_t)(n - o));
        const int32x4_t m = vldrwq_z_s32(mult + o, p);
        const int32x4_t s = vldrbq_z_s32(shift + o, p);
        /* a zero multiplier gives 0 whatever the shift: shift it by 1 */
        const int32x4_t rs = vpselq_s32(vdupq_n_s32(-1), vsubq_s32(vdupq_n_s32(31), s), vcmpeqq_n_s32(m, 0));
        const uint32x4_t m2 = vreinterpretq_u32_s32(vaddq_s32(m, m));
        const int32x4_t r = lenetc_mve_rq4_i(vldrwq_z_s32(acc + o, p), m2, rs, vzp, vlo, vhi);
        vstrbq_p_s32(dst + o, lenetc_mve_lut4(r, lut), p);
    }
}
#endif

#if defined(LENETC_USE_RQROW_I)
#define LENETC_HAVE_RQROW_I 1
/* dst[x] = table(requant(acc[x])) for x < n; needs mult == 0 or shift >= 32 (checked at generation time) */
static inline void lenetc_rqrow_i(int8_t *restrict dst, const int32_t *restrict acc, int32_t n, int32_t mult,
                                  int32_t shift, int32_t zp, int32_t lo, int32_t hi, const int8_t *lut)
{
    LENETC_MVE_RQ_I_SETUP(mult, shift, zp, lo, hi);
    int32_t x;
    for (x = 0; x < n; x += 4) {
        const int32x4_t r = lenetc_mve_lut4(LENETC_MVE_RQ_I(vld1q_s32(acc + x)), lut);
        vstrbq_p_s32(dst + x, r, vctp32q((uint32_t)(n - x)));
    }
}
#endif

#if defined(LENETC_USE_RQROW32_I)
#define LENETC_HAVE_RQROW32_I 1
/* the same, in place, each value kept as int32 (what a subsampling after it sums) */
static inline void lenetc_rqrow32_i(int32_t *restrict acc, int32_t n, int32_t mult, int32_t shift, int32_t zp,
                                    int32_t lo, int32_t hi, const int8_t *lut)
{
    LENETC_MVE_RQ_I_SETUP(mult, shift, zp, lo, hi);
    int32_t x;
    for (x = 0; x < n; x += 4) {
        vst1q_s32(acc + x, lenetc_mve_lut4(LENETC_MVE_RQ_I(vld1q_s32(acc + x)), lut));
    }
}
#endif

#if defined(LENETC_USE_RQMAX2X2_I)
#define LENETC_HAVE_RQMAX2X2_I 1
/* dst[p] = table(requant(max of the 2x2 window p of rows r0, r1)) for p < n. Requantization
 * and the table (checked monotone at generation time) never reorder two values, so the max of
 * the accumulators gives the same int8 as the max of the requantized values, at a quarter of
 * the requantizations. VLD2 splits even and odd columns. Reads 8 * ceil(n / 4) values a row. */
static inline void lenetc_rqmax2x2_i(int8_t *restrict dst, const int32_t *restrict r0, const int32_t *restrict r1,
                                     int32_t n, int32_t mult, int32_t shift, int32_t zp, int32_t lo, int32_t hi,
                                     const int8_t *lut)
{
    LENETC_MVE_RQ_I_SETUP(mult, shift, zp, lo, hi);
    int32_t p;
    for (p = 0; p < n; p += 4) {
        const int32x4x2_t a = vld2q_s32(r0 + 2 * p);
        const int32x4x2_t b = vld2q_s32(r1 + 2 * p);
        const int32x4_t m = vmaxq_s32(vmaxq_s32(a.val[0], a.val[1]), vmaxq_s32(b.val[0], b.val[1]));
        vstrbq_p_s32(dst + p, lenetc_mve_lut4(LENETC_MVE_RQ_I(m), lut), vctp32q((uint32_t)(n - p)));
    }
}
#endif

#if defined(LENETC_USE_SUB2X2_I)
#define LENETC_HAVE_SUB2X2_I 1
/* LeNet-5's subsampling of two rows of int8 values held as int32: dst[p] =
 * table(requant(coeff * (window sum) + bias)), window sums in row-then-column order like the
 * scalar kernel (exact anyway). Reads 8 * ceil(n / 4) values a row. */
static inline void lenetc_sub2x2_i(int8_t *restrict dst, const int32_t *restrict r0, const int32_t *restrict r1,
                                   int32_t n, int32_t coeff, int32_t bias, int32_t mult, int32_t shift, int32_t zp,
                                   int32_t lo, int32_t hi, const int8_t *lut)
{
    LENETC_MVE_RQ_I_SETUP(mult, shift, zp, lo, hi);
    int32_t p;
    for (p = 0; p < n; p += 4) {
        const int32x4x2_t a = vld2q_s32(r0 + 2 * p);
        const int32x4x2_t b = vld2q_s32(r1 + 2 * p);
        const int32x4_t s = vaddq_s32(vaddq_s32(a.val[0], a.val[1]), vaddq_s32(b.val[0], b.val[1]));
        const int32x4_t acc = vaddq_n_s32(vmulq_n_s32(s, coeff), bias);
        vstrbq_p_s32(dst + p, lenetc_mve_lut4(LENETC_MVE_RQ_I(acc), lut), vctp32q((uint32_t)(n - p)));
    }
}
#endif

/* ---- the float requantization option (--requant float): ONNX Runtime's rule ----
 * (float)acc * scale (VCVT from int32 rounds to nearest like the C conversion; one VMUL),
 * clamped to [-256, 256], rounded to nearest with ties to even by VCVTN, plus the zero point,
 * clamped: lenetc_requant_f's arithmetic, lane by lane. */
#if (__ARM_FEATURE_MVE & 2) \
    && (defined(LENETC_USE_RQROW_F) || defined(LENETC_USE_RQROW32_F) || defined(LENETC_USE_RQMAX2X2_F) \
        || defined(LENETC_USE_SUB2X2_F) || defined(LENETC_USE_RQVEC_F))
static inline int32x4_t lenetc_mve_rq4_f(int32x4_t a, float scale, int32x4_t zp, int32x4_t lo, int32x4_t hi)
{
    float32x4_t y = vmulq_n_f32(vcvtq_f32_s32(a), scale);
    int32x4_t r;
    y = vminnmq_f32(vmaxnmq_f32(y, vdupq_n_f32(-256.0f)), vdupq_n_f32(256.0f));
    r = vaddq_s32(vcvtnq_s32_f32(y), zp);
    return vminq_s32(vmaxq_s32(r, lo), hi);
}
#define LENETC_MVE_RQ_F_SETUP(zp_, lo_, hi_)                                                                     \
    const int32x4_t vzp = vdupq_n_s32(zp_);                                                                     \
    const int32x4_t vlo = vdupq_n_s32(lo_);                                                                     \
    const int32x4_t vhi = vdupq_n_s32(hi_)
#define LENETC_MVE_RQ_F(a) lenetc_mve_rq4_f((a), scale, vzp, vlo, vhi)
#ifndef LENETC_MVE_LUT4
#define LENETC_MVE_LUT4 1
static inline int32x4_t lenetc_mve_lut4f(int32x4_t r, const int8_t *lut)
{
    return lut ? vldrbq_gather_offset_s32(lut, vreinterpretq_u32_s32(vaddq_n_s32(r, 128))) : r;
}
#endif
#endif

#if (__ARM_FEATURE_MVE & 2) && defined(LENETC_USE_RQVEC_F)
#define LENETC_HAVE_RQVEC_F 1
static inline void lenetc_rqvec_f(int8_t *restrict dst, const int32_t *restrict acc, int32_t n,
                                  const float *restrict scale, int32_t zp, int32_t lo, int32_t hi, const int8_t *lut)
{
    const int32x4_t vzp = vdupq_n_s32(zp);
    const int32x4_t vlo = vdupq_n_s32(lo);
    const int32x4_t vhi = vdupq_n_s32(hi);
    int32_t o;
    for (o = 0; o < n; o += 4) {
        const mve_pred16_t p = vctp32q((uint32_t)(n - o));
        float32x4_t y = vmulq_f32(vcvtq_f32_s32(vldrwq_z_s32(acc + o, p)), vldrwq_z_f32(scale + o, p));
        int32x4_t r;
        y = vminnmq_f32(vmaxnmq_f32(y, vdupq_n_f32(-256.0f)), vdupq_n_f32(256.0f));
        r = vaddq_s32(vcvtnq_s32_f32(y), vzp);
        r = vminq_s32(vmaxq_s32(r, vlo), vhi);
        vstrbq_p_s32(dst + o, lenetc_mve_lut4f(r, lut), p);
    }
}
#endif

#if (__ARM_FEATURE_MVE & 2) && defined(LENETC_USE_RQROW_F)
#define LENETC_HAVE_RQROW_F 1
static inline void lenetc_rqrow_f(int8_t *restrict dst, const int32_t *restrict acc, int32_t n, float scale, int32_t zp,
                                  int32_t lo, int32_t hi, const int8_t *lut)
{
    LENETC_MVE_RQ_F_SETUP(zp, lo, hi);
    int32_t x;
    for (x = 0; x < n; x += 4) {
        const int32x4_t r = lenetc_mve_lut4f(LENETC_MVE_RQ_F(vld1q_s32(acc + x)), lut);
        vstrbq_p_s32(dst + x, r, vctp32q((uint32_t)(n - x)));
    }
}
#endif

#if (__ARM_FEATURE_MVE & 2) && defined(LENETC_USE_RQROW32_F)
#define LENETC_HAVE_RQROW32_F 1
static inline void lenetc_rqrow32_f(int32_t *restrict acc, int32_t n, float scale, int32_t zp, int32_t lo, int32_t hi,
                                    const int8_t *lut)
{
    LENETC_MVE_RQ_F_SETUP(zp, lo, hi);
    int32_t x;
    for (x = 0; x < n; x += 4) {
        vst1q_s32(acc + x, lenetc_mve_lut4f(LENETC_MVE_RQ_F(vld1q_s32(acc + x)), lut));
    }
}
#endif

#if (__ARM_FEATURE_MVE & 2) && defined(LENETC_USE_RQMAX2X2_F)
#define LENETC_HAVE_RQMAX2X2_F 1
static inline void lenetc_rqmax2x2_f(int8_t *restrict dst, const int32_t *restrict r0, const int32_t *restrict r1,
                                     int32_t n, float scale, int32_t zp, int32_t lo, int32_t hi, const int8_t *lut)
{
    LENETC_MVE_RQ_F_SETUP(zp, lo, hi);
    int32_t p;
    for (p = 0; p < n; p += 4) {
        const int32x4x2_t a = vld2q_s32(r0 + 2 * p);
        const int32x4x2_t b = vld2q_s32(r1 + 2 * p);
        const int32x4_t m = vmaxq_s32(vmaxq_s32(a.val[0], a.val[1]), vmaxq_s32(b.val[0], b.val[1]));
        vstrbq_p_s32(dst + p, lenetc_mve_lut4f(LENETC_MVE_RQ_F(m), lut), vctp32q((uint32_t)(n - p)));
    }
}
#endif

#if (__ARM_FEATURE_MVE & 2) && defined(LENETC_USE_SUB2X2_F)
#define LENETC_HAVE_SUB2X2_F 1
static inline void lenetc_sub2x2_f(int8_t *restrict dst, const int32_t *restrict r0, const int32_t *restrict r1,
                                   int32_t n, int32_t coeff, int32_t bias, float scale, int32_t zp, int32_t lo,
                                   int32_t hi, const int8_t *lut)
{
    LENETC_MVE_RQ_F_SETUP(zp, lo, hi);
    int32_t p;
    for (p = 0; p < n; p += 4) {
        const int32x4x2_t a = vld2q_s32(r0 + 2 * p);
        const int32x4x2_t b = vld2q_s32(r1 + 2 * p);
        const int32x4_t s = vaddq_s32(vaddq_s32(a.val[0], a.val[1]), vaddq_s32(b.val[0], b.val[1]));
        const int32x4_t acc = vaddq_n_s32(vmulq_n_s32(s, coeff), bias);
        vstrbq_p_s32(dst + p, lenetc_mve_lut4f(LENETC_MVE_RQ_F(acc), lut), vctp32q((uint32_t)(n - p)));
    }
}
#endif

#endif /* __ARM_FEATURE_MVE */
