/* lenetc float primitives for Cortex-M Helium/MVE with floating point (M55, M85): float models only.
 *
 * MVE computes four float lanes per instruction, each lane rounding exactly as the scalar FPU,
 * with one difference: MVE flushes subnormal inputs and results to zero (Arm's fixed
 * floating-point behaviour for MVE), where the scalar FPU and every other target keep them.
 * The Helium float kernels therefore run their vector path only when it cannot meet a
 * subnormal: weights and biases are checked at generation time, the input tensor by
 * lenetc_f32_subnormal_free below, and a result flushed to zero sets FPSCR.UFC, after which the
 * kernel recomputes the layer on the scalar path. So the output bits are those of every other
 * target whatever the data.
 */
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)

/* FPSCR.UFC: the cumulative underflow flag, set when MVE flushes a tiny result */
#define LENETC_FPSCR_UFC 0x8u

#if defined(LENETC_USE_F32_SUBNORMAL_FREE)
#define LENETC_HAVE_F32_SUBNORMAL_FREE 1
/* 1 when no x[i] (i < n) is subnormal: |bits| - 1 (unsigned) is below 0x7fffff exactly for them */
static inline int lenetc_f32_subnormal_free(const float *restrict x, int32_t n)
{
    uint32x4_t m = vdupq_n_u32(0xffffffffu);
    int32_t i;
    for (i = 0; i < n; i += 4) {
        const mve_pred16_t p = vctp32q((uint32_t)(n - i));
        const uint32x4_t u = vldrwq_z_u32((const uint32_t *)(const void *)(x + i), p);
        m = vpselq_u32(vminq_u32(m, vsubq_n_u32(vandq_u32(u, vdupq_n_u32(0x7fffffffu)), 1u)), m, p);
    }
    return vminvq_u32(0xffffffffu, m) >= 0x7fffffu;
}
#endif

/* the vector path of a kernel: UFC cleared before it, and its verdict after (1: no result was
 * flushed, the output stands); the caller's cumulative flags are kept */
static inline uint32_t lenetc_mve_fp_begin(void)
{
    const uint32_t saved = __builtin_arm_get_fpscr();
    __builtin_arm_set_fpscr(saved & ~LENETC_FPSCR_UFC);
    return saved;
}
static inline int lenetc_mve_fp_end(uint32_t saved)
{
    const uint32_t now = __builtin_arm_get_fpscr();
    __builtin_arm_set_fpscr(saved | (now & ~LENETC_FPSCR_UFC));
    return (now & LENETC_FPSCR_UFC) == 0u;
}

/* lenetc_tanhf of four lanes, the same operations in the same order (lenetc_float.h); the
 * divisions are the scalar VDIV, lane by lane (MVE has no vector divide) */
#if defined(LENETC_USE_MVE_TANH4)
static inline float32x4_t lenetc_mve_tanh4(float32x4_t x)
{
    const float32x4_t lo = vpselq_f32(vdupq_n_f32(-7.90531111f), x, vcmpltq_n_f32(x, -7.90531111f));
    const float32x4_t c = vpselq_f32(vdupq_n_f32(7.90531111f), lo, vcmpgtq_n_f32(lo, 7.90531111f));
    const float32x4_t s = vmulq_f32(c, c);
    float32x4_t p = vmulq_n_f32(s, -1.16600468e-13f);
    float32x4_t q = vmulq_n_f32(s, 2.61316891e-4f);
    float32x4_t cp;
    /* vector + scalar (VADD Qd, Qn, Rm) keeps the constants out of vector registers */
    p = vmulq_f32(s, vaddq_n_f32(p, 6.38806993e-11f));
    p = vmulq_f32(s, vaddq_n_f32(p, -2.23393872e-8f));
    p = vmulq_f32(s, vaddq_n_f32(p, 1.16449719e-5f));
    p = vmulq_f32(s, vaddq_n_f32(p, 3.14942771e-3f));
    p = vmulq_f32(s, vaddq_n_f32(p, 1.31243557e-1f));
    p = vaddq_n_f32(p, 1.0f);
    q = vmulq_f32(s, vaddq_n_f32(q, 2.46750936e-2f));
    q = vmulq_f32(s, vaddq_n_f32(q, 4.64576870e-1f));
    q = vaddq_n_f32(q, 1.0f);
    cp = vmulq_f32(c, p);
    cp = vsetq_lane_f32(vgetq_lane_f32(cp, 0) / vgetq_lane_f32(q, 0), cp, 0);
    cp = vsetq_lane_f32(vgetq_lane_f32(cp, 1) / vgetq_lane_f32(q, 1), cp, 1);
    cp = vsetq_lane_f32(vgetq_lane_f32(cp, 2) / vgetq_lane_f32(q, 2), cp, 2);
    cp = vsetq_lane_f32(vgetq_lane_f32(cp, 3) / vgetq_lane_f32(q, 3), cp, 3);
    return cp;
}
#endif

#endif /* MVE with floating point */
