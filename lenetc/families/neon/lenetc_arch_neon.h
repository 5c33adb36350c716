/* lenetc primitives for Arm NEON (Arm64). Elsewhere the portable routines are used: same results. */
/* A block primitive may be compiled for one path of a kernel and called only from the other
 * (e.g. the 16-bit madd where vpdpbusd runs): unused there, which clang reports. */
#ifndef LENETC_UNUSED
#if defined(__GNUC__)
#define LENETC_UNUSED __attribute__((unused))
#else
#define LENETC_UNUSED
#endif
#endif
#if defined(LENETC_USE_DOT_S16S8) && defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define LENETC_HAVE_DOT_S16S8 1
/* smlal/smlal2: widening multiply-accumulate of int16 lanes into int32 lanes. */
static inline LENETC_UNUSED int32_t lenetc_dot_s16s8(const int16_t *restrict x, const int8_t *restrict w, int32_t n)
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

/* lenetc_i32x{8,16}_dot4 with the dot-product extension (Armv8.2 DotProd, sdot): lane l +=
 * sum over t < 4 of x[t] * w[4l + t], x four signed bytes (the int8 input itself:
 * LENETC_DOT4_SIGNED tells the kernels to skip x86's +128 offset and keep the plain bias).
 * Without dotprod the kernels keep their 16-bit multiply-add loop (the portable lenetc_i32x*
 * routines, which GCC turns into smlal). */
#if (defined(LENETC_USE_I32X8_DOT4) || defined(LENETC_USE_I32X16_DOT4)) && defined(__ARM_NEON) && \
    defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
#include <arm_neon.h>
#define LENETC_DOT4_SIGNED 1
#endif
#if (defined(LENETC_USE_I32X16_MADD) || defined(LENETC_USE_I32X16_DOT4)) && defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define LENETC_HAVE_I32X16 1
typedef struct {
    int32x4_t v[4];
} lenetc_i32x16;
static inline LENETC_UNUSED lenetc_i32x16 lenetc_i32x16_load(const int32_t *p)
{
    lenetc_i32x16 r;
    r.v[0] = vld1q_s32(p);
    r.v[1] = vld1q_s32(p + 4);
    r.v[2] = vld1q_s32(p + 8);
    r.v[3] = vld1q_s32(p + 12);
    return r;
}
static inline LENETC_UNUSED void lenetc_i32x16_store(int32_t *p, lenetc_i32x16 a)
{
    vst1q_s32(p, a.v[0]);
    vst1q_s32(p + 4, a.v[1]);
    vst1q_s32(p + 8, a.v[2]);
    vst1q_s32(p + 12, a.v[3]);
}
/* the 16-bit madd of the kernels' other path, kept for the same type */
static inline LENETC_UNUSED lenetc_i32x16 lenetc_i32x16_madd(lenetc_i32x16 acc, const int16_t *x, const int16_t *w)
{
    const int16x4_t xv = vreinterpret_s16_s32(vdup_n_s32((int32_t)(uint16_t)x[0] | (int32_t)((uint32_t)(uint16_t)x[1] << 16)));
    int k;
    for (k = 0; k < 4; ++k) {
        const int16x8_t wv = vld1q_s16(w + 8 * k);
        const int32x4_t lo = vmull_s16(vget_low_s16(wv), xv), hi = vmull_s16(vget_high_s16(wv), xv);
        acc.v[k] = vaddq_s32(acc.v[k], vpaddq_s32(lo, hi));
    }
    return acc;
}
#if defined(LENETC_USE_I32X16_DOT4) && defined(LENETC_DOT4_SIGNED)
#define LENETC_FAST_I32X16_DOT4 1
#define LENETC_HAVE_I32X16_DOT4 1
static inline LENETC_UNUSED lenetc_i32x16 lenetc_i32x16_dot4(lenetc_i32x16 acc, const uint8_t *x, const int8_t *w)
{
    int32_t quad;
    int8x16_t xv;
    memcpy(&quad, x, sizeof quad);
    xv = vreinterpretq_s8_s32(vdupq_n_s32(quad));
    acc.v[0] = vdotq_s32(acc.v[0], xv, vld1q_s8(w));
    acc.v[1] = vdotq_s32(acc.v[1], xv, vld1q_s8(w + 16));
    acc.v[2] = vdotq_s32(acc.v[2], xv, vld1q_s8(w + 32));
    acc.v[3] = vdotq_s32(acc.v[3], xv, vld1q_s8(w + 48));
    return acc;
}
#endif
#endif
#if (defined(LENETC_USE_I32X8_MADD) || defined(LENETC_USE_I32X8_LOAD) || defined(LENETC_USE_I32X8_DOT4)) && \
    defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define LENETC_HAVE_I32X8 1
typedef struct {
    int32x4_t lo, hi;
} lenetc_i32x8;
static inline LENETC_UNUSED lenetc_i32x8 lenetc_i32x8_load(const int32_t *p)
{
    lenetc_i32x8 r;
    r.lo = vld1q_s32(p);
    r.hi = vld1q_s32(p + 4);
    return r;
}
static inline LENETC_UNUSED void lenetc_i32x8_store(int32_t *p, lenetc_i32x8 a)
{
    vst1q_s32(p, a.lo);
    vst1q_s32(p + 4, a.hi);
}
static inline LENETC_UNUSED lenetc_i32x8 lenetc_i32x8_madd(lenetc_i32x8 acc, const int16_t *x, const int16_t *w)
{
    const int16x4_t xv = vreinterpret_s16_s32(vdup_n_s32((int32_t)(uint16_t)x[0] | (int32_t)((uint32_t)(uint16_t)x[1] << 16)));
    const int16x8_t w0 = vld1q_s16(w), w1 = vld1q_s16(w + 8);
    acc.lo = vaddq_s32(acc.lo, vpaddq_s32(vmull_s16(vget_low_s16(w0), xv), vmull_s16(vget_high_s16(w0), xv)));
    acc.hi = vaddq_s32(acc.hi, vpaddq_s32(vmull_s16(vget_low_s16(w1), xv), vmull_s16(vget_high_s16(w1), xv)));
    return acc;
}
#if defined(LENETC_USE_I32X8_DOT4) && defined(LENETC_DOT4_SIGNED)
#define LENETC_FAST_I32X8_DOT4 1
#define LENETC_HAVE_I32X8_DOT4 1
static inline LENETC_UNUSED lenetc_i32x8 lenetc_i32x8_dot4(lenetc_i32x8 acc, const uint8_t *x, const int8_t *w)
{
    int32_t quad;
    int8x16_t xv;
    memcpy(&quad, x, sizeof quad);
    xv = vreinterpretq_s8_s32(vdupq_n_s32(quad));
    acc.lo = vdotq_s32(acc.lo, xv, vld1q_s8(w));
    acc.hi = vdotq_s32(acc.hi, xv, vld1q_s8(w + 16));
    return acc;
}
#endif
#endif

/* lenetc_i32x8_requant: lenetc_requant on the eight int32 at p, in place (mult >= 0, shift 1..62), exactly: the
 * magnitude times the multiplier in 64-bit lanes (umull), plus 2^(shift-1), shifted right
 * (ushl by -shift), capped at 2^16 before narrowing (the int8 clamp hides the cap), the sign
 * put back, the zero point added and the result clamped to [lo, hi]. */
#if defined(LENETC_USE_I32X8_REQUANT) && defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define LENETC_HAVE_I32X8_REQUANT 1
static inline LENETC_UNUSED uint64x2_t lenetc_neon_round_shift(uint64x2_t p, int64x2_t s)
{
    const uint64x2_t half = vshlq_u64(vdupq_n_u64(1u), vsubq_s64(s, vdupq_n_s64(1)));
    const uint64x2_t r = vshlq_u64(vaddq_u64(p, half), vnegq_s64(s));
    const uint64x2_t cap = vdupq_n_u64(65536u);
    return vbslq_u64(vcgtq_u64(r, cap), cap, r);
}
static inline LENETC_UNUSED int32x4_t lenetc_neon_requant4(int32x4_t a, const int32_t *mult, const int32_t *shift, int32_t zp,
                                             int32_t lo, int32_t hi)
{
    const uint32x4_t mag = vreinterpretq_u32_s32(vabsq_s32(a));
    const uint32x4_t m = vreinterpretq_u32_s32(vld1q_s32(mult));
    const int32x4_t s = vld1q_s32(shift);
    const uint64x2_t p0 = lenetc_neon_round_shift(vmull_u32(vget_low_u32(mag), vget_low_u32(m)), vmovl_s32(vget_low_s32(s)));
    const uint64x2_t p1 = lenetc_neon_round_shift(vmull_high_u32(mag, m), vmovl_high_s32(s));
    const int32x4_t r = vreinterpretq_s32_u32(vcombine_u32(vmovn_u64(p0), vmovn_u64(p1)));
    const int32x4_t v = vaddq_s32(vbslq_s32(vcltzq_s32(a), vnegq_s32(r), r), vdupq_n_s32(zp));
    return vminq_s32(vmaxq_s32(v, vdupq_n_s32(lo)), vdupq_n_s32(hi));
}
static inline LENETC_UNUSED void lenetc_i32x8_requant(int32_t *p, const int32_t *mult, const int32_t *shift, int32_t zp,
                                                      int32_t lo, int32_t hi)
{
    vst1q_s32(p, lenetc_neon_requant4(vld1q_s32(p), mult, shift, zp, lo, hi));
    vst1q_s32(p + 4, lenetc_neon_requant4(vld1q_s32(p + 4), mult + 4, shift + 4, zp, lo, hi));
}
#endif
