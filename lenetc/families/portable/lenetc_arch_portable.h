/* lenetc primitives, portable C99: the fallback of every CPU family. A family header, inlined
 * before this one, defines LENETC_HAVE_<NAME> for each routine it implements faster; this file
 * fills in the rest. Every routine is compiled only where the model's code defines
 * LENETC_USE_<NAME>, and each gives exactly the same result on every path.
 *
 * lenetc_dot_s16s8: sum of x[i] * w[i] for i < n, n a multiple of 16; x holds int8 values
 *   widened to int16, w int8. |sum| stays below 2^31 (the planner proves the bound), and
 *   integer sums are exact in any order, so every family may reorder them.
 */
/* A block primitive may be compiled for one path of a kernel and called only from the other
 * (e.g. the 16-bit madd where vpdpbusd runs): unused there, which clang reports. */
#ifndef LENETC_UNUSED
#if defined(__GNUC__)
#define LENETC_UNUSED __attribute__((unused))
#else
#define LENETC_UNUSED
#endif
#endif
#if defined(LENETC_USE_DOT_S16S8) && !defined(LENETC_HAVE_DOT_S16S8)
static inline LENETC_UNUSED int32_t lenetc_dot_s16s8(const int16_t *restrict x, const int8_t *restrict w, int32_t n)
{
    int32_t acc = 0;
    int32_t i;
    for (i = 0; i < n; ++i) {
        acc += (int32_t)x[i] * (int32_t)(int16_t)w[i];
    }
    return acc;
}
#endif

/* lenetc_i32x8_*: eight int32 lanes; madd adds x[0] * w[2l] + x[1] * w[2l + 1] to lane l. */
#if (defined(LENETC_USE_I32X8_MADD) || defined(LENETC_USE_I32X8_LOAD)) && !defined(LENETC_HAVE_I32X8)
typedef struct {
    int32_t v[8];
} lenetc_i32x8;
static inline LENETC_UNUSED lenetc_i32x8 lenetc_i32x8_load(const int32_t *p)
{
    lenetc_i32x8 r;
    int l;
    for (l = 0; l < 8; ++l) {
        r.v[l] = p[l];
    }
    return r;
}
static inline LENETC_UNUSED lenetc_i32x8 lenetc_i32x8_madd(lenetc_i32x8 acc, const int16_t *x, const int16_t *w)
{
    int l;
    for (l = 0; l < 8; ++l) {
        acc.v[l] += (int32_t)x[0] * (int32_t)w[2 * l] + (int32_t)x[1] * (int32_t)w[2 * l + 1];
    }
    return acc;
}
static inline LENETC_UNUSED void lenetc_i32x8_store(int32_t *p, lenetc_i32x8 v)
{
    int l;
    for (l = 0; l < 8; ++l) {
        p[l] = v.v[l];
    }
}
#endif

/* lenetc_i32x16_*: sixteen int32 lanes; madd adds x[0] * w[2l] + x[1] * w[2l + 1] to lane l. */
#if defined(LENETC_USE_I32X16_MADD) && !defined(LENETC_HAVE_I32X16)
typedef struct {
    int32_t v[16];
} lenetc_i32x16;
static inline LENETC_UNUSED lenetc_i32x16 lenetc_i32x16_load(const int32_t *p)
{
    lenetc_i32x16 r;
    int l;
    for (l = 0; l < 16; ++l) {
        r.v[l] = p[l];
    }
    return r;
}
static inline LENETC_UNUSED lenetc_i32x16 lenetc_i32x16_madd(lenetc_i32x16 acc, const int16_t *x, const int16_t *w)
{
    int l;
    for (l = 0; l < 16; ++l) {
        acc.v[l] += (int32_t)x[0] * (int32_t)w[2 * l] + (int32_t)x[1] * (int32_t)w[2 * l + 1];
    }
    return acc;
}
static inline LENETC_UNUSED void lenetc_i32x16_store(int32_t *p, lenetc_i32x16 v)
{
    int l;
    for (l = 0; l < 16; ++l) {
        p[l] = v.v[l];
    }
}
#endif

/* The int8 x int8 routines of the Helium kernels (lenetc_arch_cortexm_mve.h), n a multiple of 16:
 * lenetc_gather_s8: dst[i] = src[off[i]] for i < n (an im2col segment from a table of offsets).
 * lenetc_dot2x2_s8: acc[2r + c] += sum of p[r * pstride + i] * w[c * wstride + i] (r, c in {0, 1}).
 * lenetc_dot2x1_s8: acc[r] += sum of p[r * pstride + i] * w[i].
 * lenetc_dot4_s8: acc[c] += sum of x[i] * w[c * wstride + i] (c < 4).
 * lenetc_dot1_s8: sum of x[i] * w[i]. */
#if defined(LENETC_USE_GATHER_S8) && !defined(LENETC_HAVE_GATHER_S8)
static inline LENETC_UNUSED void lenetc_gather_s8(int8_t *restrict dst, const int8_t *restrict src, const uint8_t *restrict off,
                                    int32_t n)
{
    int32_t i;
    for (i = 0; i < n; ++i) {
        dst[i] = src[off[i]];
    }
}
#endif

#if defined(LENETC_USE_DOT2X2_S8) && !defined(LENETC_HAVE_DOT2X2_S8)
static inline LENETC_UNUSED void lenetc_dot2x2_s8(const int8_t *restrict p, int32_t pstride, const int8_t *restrict w,
                                    int32_t wstride, int32_t n, int32_t *restrict acc)
{
    int32_t i;
    for (i = 0; i < n; ++i) {
        acc[0] += (int32_t)p[i] * (int32_t)w[i];
        acc[1] += (int32_t)p[i] * (int32_t)w[wstride + i];
        acc[2] += (int32_t)p[pstride + i] * (int32_t)w[i];
        acc[3] += (int32_t)p[pstride + i] * (int32_t)w[wstride + i];
    }
}
#endif

#if defined(LENETC_USE_DOT2X1_S8) && !defined(LENETC_HAVE_DOT2X1_S8)
static inline LENETC_UNUSED void lenetc_dot2x1_s8(const int8_t *restrict p, int32_t pstride, const int8_t *restrict w, int32_t n,
                                    int32_t *restrict acc)
{
    int32_t i;
    for (i = 0; i < n; ++i) {
        acc[0] += (int32_t)p[i] * (int32_t)w[i];
        acc[1] += (int32_t)p[pstride + i] * (int32_t)w[i];
    }
}
#endif

#if defined(LENETC_USE_DOT4_S8) && !defined(LENETC_HAVE_DOT4_S8)
static inline LENETC_UNUSED void lenetc_dot4_s8(const int8_t *restrict x, const int8_t *restrict w, int32_t wstride, int32_t n,
                                  int32_t *restrict acc)
{
    int32_t i, c;
    for (c = 0; c < 4; ++c) {
        for (i = 0; i < n; ++i) {
            acc[c] += (int32_t)x[i] * (int32_t)w[c * wstride + i];
        }
    }
}
#endif

#if defined(LENETC_USE_DOT1_S8) && !defined(LENETC_HAVE_DOT1_S8)
static inline LENETC_UNUSED int32_t lenetc_dot1_s8(const int8_t *restrict x, const int8_t *restrict w, int32_t n)
{
    int32_t i, a = 0;
    for (i = 0; i < n; ++i) {
        a += (int32_t)x[i] * (int32_t)w[i];
    }
    return a;
}
#endif
