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
/* GCC's first scheduling pass hoists the many independent vector loads of an unrolled kernel
 * row ahead of their uses, runs out of the eight Q registers and spills (measured on the float
 * convolution: 75 instructions a kernel row instead of 46); the Helium kernels are compiled
 * without it. */
#if defined(__ARM_FEATURE_MVE) && defined(__GNUC__) && !defined(__clang__)
#define LENETC_MVE_KERNEL __attribute__((optimize("no-schedule-insns")))
#else
#define LENETC_MVE_KERNEL
#endif

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

/* ---- requantization, four accumulators per vector ----
 * One parameter struct and one `apply` per rule, built once per channel (rows) or per four
 * channels (rqvec); the row routines below are stamped out for every rule by one macro.
 *
 * i, the integer rule (lenetc_requant): round_half_away(|a| * M / 2^n) for 32 <= n <= 62. With
 *   H = floor(|a| * 2M / 2^32) = floor(|a| * M / 2^31), (|a| M + 2^(n-1)) >> n equals
 *   (H + 2^(n-32)) >> (n-31) exactly (bit n-1 of the rounding term sits above every low bit of
 *   the product that H drops), which is one VMULH.U32 and one rounding shift VRSHL; 2M < 2^32
 *   fits the unsigned lane. The sign goes back as (m ^ s) - s with s = a >> 31. The kernels use
 *   it only where every channel has n >= 32 or M = 0 (checked at generation time).
 * t, TFLM's rule (lenetc_requant_tflm): gemmlowp's SaturatingRoundingDoublingHighMul is exactly
 *   VQRDMULH (both round half toward +inf: for a negative product the nudge 1 - 2^30 and the
 *   truncating division give the same floor), and RoundingDivideByPOT (ties away from zero)
 *   is VRSHL (ties toward +inf) after subtracting 1 from negative values when shifting.
 * f, the float rule (lenetc_requant_f): (float)acc * scale (VCVT from int32 rounds to nearest
 *   like the C conversion; one VMUL), clamped to [-256, 256], rounded to nearest with ties to
 *   even by VCVTN, plus the zero point, clamped. MVE flushes subnormals, but a subnormal
 *   product rounds to 0 either way. */
/* Which rules any routine of the model uses: each rule's helpers are compiled only then, and
 * each routine only where its own LENETC_USE_<NAME> asks for it (clang warns of an unused
 * static function). */
#if defined(LENETC_USE_RQROW_I) || defined(LENETC_USE_RQROW32_I) || defined(LENETC_USE_RQMAX2X2_I) \
    || defined(LENETC_USE_SUB2X2_I) || defined(LENETC_USE_RQVEC_I)
#define LENETC_MVE_RULE_I 1
#endif
#if defined(LENETC_USE_RQROW_T) || defined(LENETC_USE_RQROW32_T) || defined(LENETC_USE_RQMAX2X2_T) \
    || defined(LENETC_USE_SUB2X2_T) || defined(LENETC_USE_RQVEC_T)
#define LENETC_MVE_RULE_T 1
#endif
#if (__ARM_FEATURE_MVE & 2) && (defined(LENETC_USE_RQROW_F) || defined(LENETC_USE_RQROW32_F) \
    || defined(LENETC_USE_RQMAX2X2_F) || defined(LENETC_USE_SUB2X2_F) || defined(LENETC_USE_RQVEC_F))
#define LENETC_MVE_RULE_F 1
#endif

#if defined(LENETC_MVE_RULE_I) || defined(LENETC_MVE_RULE_T) || defined(LENETC_MVE_RULE_F)
/* the clamped value through the activation table (index q + 128), or as it is */
static inline int32x4_t lenetc_mve_lut4(int32x4_t r, const int8_t *lut)
{
    return lut ? vldrbq_gather_offset_s32(lut, vreinterpretq_u32_s32(vaddq_n_s32(r, 128))) : r;
}
static inline int32x4_t lenetc_mve_clamp4(int32x4_t r, int32_t zp, int32_t lo, int32_t hi)
{
    return vminq_s32(vmaxq_s32(vaddq_n_s32(r, zp), vdupq_n_s32(lo)), vdupq_n_s32(hi));
}
#endif

#if defined(LENETC_MVE_RULE_I)
typedef struct {
    uint32x4_t m2;
    int32x4_t rs;
} lenetc_mve_rq_i;
static inline lenetc_mve_rq_i lenetc_mve_rq_i_of(int32x4_t mult, int32x4_t shift)
{
    lenetc_mve_rq_i q;
    q.m2 = vreinterpretq_u32_s32(vaddq_s32(mult, mult));
    /* a zero multiplier gives 0 whatever the shift: shift it by 1 */
    q.rs = vpselq_s32(vdupq_n_s32(-1), vsubq_s32(vdupq_n_s32(31), shift), vcmpeqq_n_s32(mult, 0));
    return q;
}
static inline int32x4_t lenetc_mve_rq_i_apply(lenetc_mve_rq_i q, int32x4_t a)
{
    const int32x4_t s = vshrq_n_s32(a, 31);
    const uint32x4_t m = vrshlq_u32(vmulhq_u32(vreinterpretq_u32_s32(vabsq_s32(a)), q.m2), q.rs);
    return vsubq_s32(veorq_s32(vreinterpretq_s32_u32(m), s), s);
}
#endif

#if defined(LENETC_MVE_RULE_T)
typedef struct {
    int32x4_t left, mult, right;
} lenetc_mve_rq_t;
static inline lenetc_mve_rq_t lenetc_mve_rq_t_of(int32x4_t mult, int32x4_t shift)
{
    const int32x4_t exponent = vsubq_s32(vdupq_n_s32(31), shift);
    lenetc_mve_rq_t q;
    q.left = vmaxq_s32(exponent, vdupq_n_s32(0));
    q.right = vminq_s32(exponent, vdupq_n_s32(0)); /* minus the right shift */
    q.mult = mult;
    return q;
}
static inline int32x4_t lenetc_mve_rq_t_apply(lenetc_mve_rq_t q, int32x4_t a)
{
    int32x4_t x = vqrdmulhq_s32(vshlq_s32(a, q.left), q.mult);
    x = vqaddq_s32(x, vshrq_n_s32(vandq_s32(x, q.right), 31));
    return vrshlq_s32(x, q.right);
}
#endif

#if defined(LENETC_MVE_RULE_F)
typedef struct {
    float32x4_t scale;
} lenetc_mve_rq_f;
static inline lenetc_mve_rq_f lenetc_mve_rq_f_of(float32x4_t scale)
{
    lenetc_mve_rq_f q;
    q.scale = scale;
    return q;
}
static inline int32x4_t lenetc_mve_rq_f_apply(lenetc_mve_rq_f q, int32x4_t a)
{
    float32x4_t y = vmulq_f32(vcvtq_f32_s32(a), q.scale);
    y = vminnmq_f32(vmaxnmq_f32(y, vdupq_n_f32(-256.0f)), vdupq_n_f32(256.0f));
    return vcvtnq_s32_f32(y);
}
#endif

/* The routines of rule S, stamped out per rule by the macros below (OF builds the rule's struct
 * from its per-channel parameters, the macro's last arguments, broadcast):
 * lenetc_rqrow_S:   dst[x] = table(rq(acc[x])), x < n, one channel.
 * lenetc_rqrow32_S: the same in place, kept as int32 (what a subsampling after it sums).
 * lenetc_rqmax2x2_S: dst[p] = table(rq(max of the 2x2 window p of rows r0, r1)): requantization
 *   and the table (checked monotone at generation time) never reorder two values, so the max of
 *   the accumulators gives the same int8 as the max of the requantized values, at a quarter of
 *   the requantizations. VLD2 splits even and odd columns; reads 8 * ceil(n / 4) values a row.
 * lenetc_sub2x2_S: LeNet-5's subsampling of two rows of int8 values held as int32:
 *   dst[p] = table(rq(coeff * (window sum) + bias)) (sums exact in any order).
 * lenetc_rqvec_S:   dst[o] = table(rq(acc[o])) with channel o's parameters (a dense layer). */
#define LENETC_MVE_RQROW(S, OF, ...)                                                                               \
    static inline void lenetc_rqrow_##S(int8_t *restrict dst, const int32_t *restrict acc, int32_t n, __VA_ARGS__, \
                                        int32_t zp, int32_t lo, int32_t hi, const int8_t *lut)                     \
    {                                                                                                              \
        const lenetc_mve_rq_##S q = OF;                                                                            \
        int32_t x;                                                                                                 \
        for (x = 0; x < n; x += 4) {                                                                               \
            const int32x4_t r = lenetc_mve_clamp4(lenetc_mve_rq_##S##_apply(q, vld1q_s32(acc + x)), zp, lo, hi);   \
            vstrbq_p_s32(dst + x, lenetc_mve_lut4(r, lut), vctp32q((uint32_t)(n - x)));                            \
        }                                                                                                          \
    }
#define LENETC_MVE_RQROW32(S, OF, ...)                                                                             \
    static inline void lenetc_rqrow32_##S(int32_t *restrict acc, int32_t n, __VA_ARGS__, int32_t zp, int32_t lo,   \
                                          int32_t hi, const int8_t *lut)                                           \
    {                                                                                                              \
        const lenetc_mve_rq_##S q = OF;                                                                            \
        int32_t x;                                                                                                 \
        for (x = 0; x < n; x += 4) {                                                                               \
            const int32x4_t r = lenetc_mve_clamp4(lenetc_mve_rq_##S##_apply(q, vld1q_s32(acc + x)), zp, lo, hi);   \
            vst1q_s32(acc + x, lenetc_mve_lut4(r, lut));                                                           \
        }                                                                                                          \
    }
#define LENETC_MVE_RQMAX2X2(S, OF, ...)                                                                            \
    static inline void lenetc_rqmax2x2_##S(int8_t *restrict dst, const int32_t *restrict r0,                       \
                                           const int32_t *restrict r1, int32_t n, __VA_ARGS__, int32_t zp,         \
                                           int32_t lo, int32_t hi, const int8_t *lut)                              \
    {                                                                                                              \
        const lenetc_mve_rq_##S q = OF;                                                                            \
        int32_t p;                                                                                                 \
        for (p = 0; p < n; p += 4) {                                                                               \
            const int32x4x2_t a = vld2q_s32(r0 + 2 * p);                                                           \
            const int32x4x2_t b = vld2q_s32(r1 + 2 * p);                                                           \
            const int32x4_t m = vmaxq_s32(vmaxq_s32(a.val[0], a.val[1]), vmaxq_s32(b.val[0], b.val[1]));            \
            const int32x4_t r = lenetc_mve_clamp4(lenetc_mve_rq_##S##_apply(q, m), zp, lo, hi);                    \
            vstrbq_p_s32(dst + p, lenetc_mve_lut4(r, lut), vctp32q((uint32_t)(n - p)));                            \
        }                                                                                                          \
    }
#define LENETC_MVE_SUB2X2(S, OF, ...)                                                                              \
    static inline void lenetc_sub2x2_##S(int8_t *restrict dst, const int32_t *restrict r0,                         \
                                         const int32_t *restrict r1, int32_t n, int32_t coeff, int32_t bias,       \
                                         __VA_ARGS__, int32_t zp, int32_t lo, int32_t hi, const int8_t *lut)       \
    {                                                                                                              \
        const lenetc_mve_rq_##S q = OF;                                                                            \
        int32_t p;                                                                                                 \
        for (p = 0; p < n; p += 4) {                                                                               \
            const int32x4x2_t a = vld2q_s32(r0 + 2 * p);                                                           \
            const int32x4x2_t b = vld2q_s32(r1 + 2 * p);                                                           \
            const int32x4_t s = vaddq_s32(vaddq_s32(a.val[0], a.val[1]), vaddq_s32(b.val[0], b.val[1]));            \
            const int32x4_t v = vaddq_n_s32(vmulq_n_s32(s, coeff), bias);                                          \
            const int32x4_t r = lenetc_mve_clamp4(lenetc_mve_rq_##S##_apply(q, v), zp, lo, hi);                    \
            vstrbq_p_s32(dst + p, lenetc_mve_lut4(r, lut), vctp32q((uint32_t)(n - p)));                            \
        }                                                                                                          \
    }
#define LENETC_MVE_RQVEC_INT(S)                                                                                    \
    static inline void lenetc_rqvec_##S(int8_t *restrict dst, const int32_t *restrict acc, int32_t n,              \
                                        const int32_t *restrict mult, const int8_t *restrict shift, int32_t zp,    \
                                        int32_t lo, int32_t hi, const int8_t *lut)                                 \
    {                                                                                                              \
        int32_t o;                                                                                                 \
        for (o = 0; o < n; o += 4) {                                                                               \
            const mve_pred16_t p = vctp32q((uint32_t)(n - o));                                                     \
            const lenetc_mve_rq_##S q = lenetc_mve_rq_##S##_of(vldrwq_z_s32(mult + o, p), vldrbq_z_s32(shift + o, p)); \
            const int32x4_t r = lenetc_mve_clamp4(lenetc_mve_rq_##S##_apply(q, vldrwq_z_s32(acc + o, p)), zp, lo, hi); \
            vstrbq_p_s32(dst + o, lenetc_mve_lut4(r, lut), p);                                                     \
        }                                                                                                          \
    }
#define LENETC_MVE_BCAST_I lenetc_mve_rq_i_of(vdupq_n_s32(mult), vdupq_n_s32(shift))
#define LENETC_MVE_BCAST_T lenetc_mve_rq_t_of(vdupq_n_s32(mult), vdupq_n_s32(shift))
#define LENETC_MVE_BCAST_F lenetc_mve_rq_f_of(vdupq_n_f32(scale))

#if defined(LENETC_USE_RQROW_I)
#define LENETC_HAVE_RQROW_I 1
LENETC_MVE_RQROW(i, LENETC_MVE_BCAST_I, int32_t mult, int32_t shift)
#endif
#if defined(LENETC_USE_RQROW32_I)
#define LENETC_HAVE_RQROW32_I 1
LENETC_MVE_RQROW32(i, LENETC_MVE_BCAST_I, int32_t mult, int32_t shift)
#endif
#if defined(LENETC_USE_RQMAX2X2_I)
#define LENETC_HAVE_RQMAX2X2_I 1
LENETC_MVE_RQMAX2X2(i, LENETC_MVE_BCAST_I, int32_t mult, int32_t shift)
#endif
#if defined(LENETC_USE_SUB2X2_I)
#define LENETC_HAVE_SUB2X2_I 1
LENETC_MVE_SUB2X2(i, LENETC_MVE_BCAST_I, int32_t mult, int32_t shift)
#endif
#if defined(LENETC_USE_RQVEC_I)
#define LENETC_HAVE_RQVEC_I 1
LENETC_MVE_RQVEC_INT(i)
#endif

#if defined(LENETC_USE_RQROW_T)
#define LENETC_HAVE_RQROW_T 1
LENETC_MVE_RQROW(t, LENETC_MVE_BCAST_T, int32_t mult, int32_t shift)
#endif
#if defined(LENETC_USE_RQROW32_T)
#define LENETC_HAVE_RQROW32_T 1
LENETC_MVE_RQROW32(t, LENETC_MVE_BCAST_T, int32_t mult, int32_t shift)
#endif
#if defined(LENETC_USE_RQMAX2X2_T)
#define LENETC_HAVE_RQMAX2X2_T 1
LENETC_MVE_RQMAX2X2(t, LENETC_MVE_BCAST_T, int32_t mult, int32_t shift)
#endif
#if defined(LENETC_USE_SUB2X2_T)
#define LENETC_HAVE_SUB2X2_T 1
LENETC_MVE_SUB2X2(t, LENETC_MVE_BCAST_T, int32_t mult, int32_t shift)
#endif
#if defined(LENETC_USE_RQVEC_T)
#define LENETC_HAVE_RQVEC_T 1
LENETC_MVE_RQVEC_INT(t)
#endif

#if defined(LENETC_MVE_RULE_F)
#if defined(LENETC_USE_RQROW_F)
#define LENETC_HAVE_RQROW_F 1
LENETC_MVE_RQROW(f, LENETC_MVE_BCAST_F, float scale)
#endif
#if defined(LENETC_USE_RQROW32_F)
#define LENETC_HAVE_RQROW32_F 1
LENETC_MVE_RQROW32(f, LENETC_MVE_BCAST_F, float scale)
#endif
#if defined(LENETC_USE_RQMAX2X2_F)
#define LENETC_HAVE_RQMAX2X2_F 1
LENETC_MVE_RQMAX2X2(f, LENETC_MVE_BCAST_F, float scale)
#endif
#if defined(LENETC_USE_SUB2X2_F)
#define LENETC_HAVE_SUB2X2_F 1
LENETC_MVE_SUB2X2(f, LENETC_MVE_BCAST_F, float scale)
#endif
#if defined(LENETC_USE_RQVEC_F)
#define LENETC_HAVE_RQVEC_F 1
static inline void lenetc_rqvec_f(int8_t *restrict dst, const int32_t *restrict acc, int32_t n,
                                  const float *restrict scale, int32_t zp, int32_t lo, int32_t hi, const int8_t *lut)
{
    int32_t o;
    for (o = 0; o < n; o += 4) {
        const mve_pred16_t p = vctp32q((uint32_t)(n - o));
        const lenetc_mve_rq_f q = lenetc_mve_rq_f_of(vldrwq_z_f32(scale + o, p));
        const int32x4_t r = lenetc_mve_clamp4(lenetc_mve_rq_f_apply(q, vldrwq_z_s32(acc + o, p)), zp, lo, hi);
        vstrbq_p_s32(dst + o, lenetc_mve_lut4(r, lut), p);
    }
}
#endif
#endif

#endif /* __ARM_FEATURE_MVE */
