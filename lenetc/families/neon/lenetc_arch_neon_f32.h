/* lenetc float primitives for Arm NEON (Arm64; included in float models only, after
 * lenetc_arch_neon.h). vfmaq_f32 rounds each lane once, exactly like fmaf, so the blocked
 * kernels give the portable routines' bits: output channels in the lanes, each output's
 * multiply-adds in the fixed order. */
/* A block primitive may be compiled for one path of a kernel and called only from the other
 * (e.g. the 16-bit madd where vpdpbusd runs): unused there, which clang reports. */
#ifndef LENETC_UNUSED
#if defined(__GNUC__)
#define LENETC_UNUSED __attribute__((unused))
#else
#define LENETC_UNUSED
#endif
#endif
#if (defined(LENETC_USE_F32X8_FMA) || defined(LENETC_USE_F32X16_FMA) || defined(LENETC_USE_F32X8_FMA_M) || defined(LENETC_USE_F32X16_FMA_M)) && defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#endif
#if (defined(LENETC_USE_F32X8_FMA) || defined(LENETC_USE_F32X8_FMA_M)) && defined(__ARM_NEON) && defined(__aarch64__)
#define LENETC_HAVE_F32X8 1
typedef struct {
    float32x4_t lo, hi;
} lenetc_f32x8;
static inline LENETC_UNUSED lenetc_f32x8 lenetc_f32x8_load(const float *p)
{
    lenetc_f32x8 r;
    r.lo = vld1q_f32(p);
    r.hi = vld1q_f32(p + 4);
    return r;
}
static inline LENETC_UNUSED lenetc_f32x8 lenetc_f32x8_set1(float x)
{
    lenetc_f32x8 r;
    r.lo = vdupq_n_f32(x);
    r.hi = r.lo;
    return r;
}
/* a * b + c: vfmaq_f32(c, a, b) */
static inline LENETC_UNUSED lenetc_f32x8 lenetc_f32x8_fma(lenetc_f32x8 a, lenetc_f32x8 b, lenetc_f32x8 c)
{
    lenetc_f32x8 r;
    r.lo = vfmaq_f32(c.lo, a.lo, b.lo);
    r.hi = vfmaq_f32(c.hi, a.hi, b.hi);
    return r;
}
static inline LENETC_UNUSED void lenetc_f32x8_store(float *p, lenetc_f32x8 v)
{
    vst1q_f32(p, v.lo);
    vst1q_f32(p + 4, v.hi);
}
#endif

#if (defined(LENETC_USE_F32X16_FMA) || defined(LENETC_USE_F32X16_FMA_M)) && defined(__ARM_NEON) && defined(__aarch64__)
#define LENETC_HAVE_F32X16 1
typedef struct {
    float32x4_t v[4];
} lenetc_f32x16;
static inline LENETC_UNUSED lenetc_f32x16 lenetc_f32x16_load(const float *p)
{
    lenetc_f32x16 r;
    r.v[0] = vld1q_f32(p);
    r.v[1] = vld1q_f32(p + 4);
    r.v[2] = vld1q_f32(p + 8);
    r.v[3] = vld1q_f32(p + 12);
    return r;
}
static inline LENETC_UNUSED lenetc_f32x16 lenetc_f32x16_set1(float x)
{
    lenetc_f32x16 r;
    r.v[0] = vdupq_n_f32(x);
    r.v[1] = r.v[0];
    r.v[2] = r.v[0];
    r.v[3] = r.v[0];
    return r;
}
static inline LENETC_UNUSED lenetc_f32x16 lenetc_f32x16_fma(lenetc_f32x16 a, lenetc_f32x16 b, lenetc_f32x16 c)
{
    lenetc_f32x16 r;
    r.v[0] = vfmaq_f32(c.v[0], a.v[0], b.v[0]);
    r.v[1] = vfmaq_f32(c.v[1], a.v[1], b.v[1]);
    r.v[2] = vfmaq_f32(c.v[2], a.v[2], b.v[2]);
    r.v[3] = vfmaq_f32(c.v[3], a.v[3], b.v[3]);
    return r;
}
static inline LENETC_UNUSED void lenetc_f32x16_store(float *p, lenetc_f32x16 v)
{
    vst1q_f32(p, v.v[0]);
    vst1q_f32(p + 4, v.v[1]);
    vst1q_f32(p + 8, v.v[2]);
    vst1q_f32(p + 12, v.v[3]);
}
#endif

/* lenetc_f32x8_fma_nz: the fused result where x != 0, acc where x is zero (vbslq on the lane mask). */
#if defined(LENETC_USE_F32X8_FMA_NZ) && defined(LENETC_HAVE_F32X8)
#define LENETC_HAVE_F32X8_FMA_NZ 1
static inline LENETC_UNUSED lenetc_f32x8 lenetc_f32x8_fma_nz(float x, lenetc_f32x8 w, lenetc_f32x8 acc)
{
    const float32x4_t xv = vdupq_n_f32(x);
    const uint32x4_t keep = vceqq_f32(xv, vdupq_n_f32(0.0f));
    lenetc_f32x8 r;
    r.lo = vbslq_f32(keep, acc.lo, vfmaq_f32(acc.lo, xv, w.lo));
    r.hi = vbslq_f32(keep, acc.hi, vfmaq_f32(acc.hi, xv, w.hi));
    return r;
}
#endif

/* lenetc_f32x{8,16}_fma_m: the fused result in the lanes whose bit is set in m (vtstq builds
 * the lane mask, vbslq selects), c elsewhere. */
#if (defined(LENETC_USE_F32X8_FMA_M) || defined(LENETC_USE_F32X16_FMA_M)) && defined(__ARM_NEON) && \
    defined(__aarch64__)
static inline LENETC_UNUSED float32x4_t lenetc_neon_fma_m4(float32x4_t a, float32x4_t b, float32x4_t c, uint32_t m)
{
    static const uint32_t bits[4] = {1u, 2u, 4u, 8u};
    const uint32x4_t on = vtstq_u32(vdupq_n_u32(m), vld1q_u32(bits));
    return vbslq_f32(on, vfmaq_f32(c, a, b), c);
}
#endif
#if defined(LENETC_USE_F32X8_FMA_M) && defined(LENETC_HAVE_F32X8)
#define LENETC_HAVE_F32X8_FMA_M 1
static inline LENETC_UNUSED lenetc_f32x8 lenetc_f32x8_fma_m(lenetc_f32x8 a, lenetc_f32x8 b, lenetc_f32x8 c, uint32_t m)
{
    lenetc_f32x8 r;
    r.lo = lenetc_neon_fma_m4(a.lo, b.lo, c.lo, m);
    r.hi = lenetc_neon_fma_m4(a.hi, b.hi, c.hi, m >> 4);
    return r;
}
#endif
#if defined(LENETC_USE_F32X16_FMA_M) && defined(LENETC_HAVE_F32X16)
#define LENETC_HAVE_F32X16_FMA_M 1
static inline LENETC_UNUSED lenetc_f32x16 lenetc_f32x16_fma_m(lenetc_f32x16 a, lenetc_f32x16 b, lenetc_f32x16 c, uint32_t m)
{
    lenetc_f32x16 r;
    int k;
    for (k = 0; k < 4; ++k) {
        r.v[k] = lenetc_neon_fma_m4(a.v[k], b.v[k], c.v[k], m >> (4 * k));
    }
    return r;
}
#endif
