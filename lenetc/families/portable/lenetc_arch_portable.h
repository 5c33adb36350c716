/* lenetc primitives, portable C99: the fallback of every CPU family, and the primitive contract.
 * A family header, inlined before this one, defines LENETC_HAVE_<NAME> for each routine it
 * implements faster; this file (and lenetc_arch_portable_f32.h for the f32 ones) fills in the
 * rest. Every routine is compiled only where the model's code defines LENETC_USE_<NAME>, and
 * each gives exactly the same result on every path. The contract is every routine defined
 * here: a kernel template calls only these (or, under #if defined(LENETC_HAVE_<NAME>) with its
 * own fallback after #else, a routine of its family's header), so a file generated for any
 * family compiles with any C99 compiler (tests/test_families.py checks it).
 *
 *   lenetc_dot_s16s8                      int16 x int8 dot product
 *   lenetc_i32x8_*, lenetc_i32x16_*        int32 lanes, pairwise int16 multiply-add
 *   lenetc_dot1/dot4/dot2x2/dotsp2_s16s8p  dot products on SXTB16-packed int8 weights
 *   lenetc_gather_s8, lenetc_dot1/dot4/dot2x1/dot2x2_s8   int8 x int8 (gathered windows)
 *   lenetc_f32x8_*, lenetc_f32x16_*        f32 lanes, fused multiply-add (the _f32 header)
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

/* Packed int8 weights (the Cortex-M DSP kernels): in every group of four, (w0, w1, w2, w3) is
 * stored as (w0, w2, w1, w3) at generation time (SXTB16 order); n is a multiple of 4.
 *
 * lenetc_dot1_s16s8p: sum of x[i] * w[i] over one packed row, returned.
 * lenetc_dot4_s16s8p: acc[r] += the same for the four packed rows w + r * stride.
 * lenetc_dot2x2_s16s8p: rows w, w + stride times input rows x, x + n: acc[0] += x0.w0,
 *   acc[1] += x0.w1, acc[2] += x1.w0, acc[3] += x1.w1.
 * lenetc_dotsp2_s16s8p: one output map of a sparse table at two pixels interleaved word by
 *   word in the patch (segment src[l] of each of nl links, packed row w + l * n). */
#if defined(LENETC_USE_DOT1_S16S8P) && !defined(LENETC_HAVE_DOT1_S16S8P)
static inline int32_t lenetc_dot1_s16s8p(const int16_t *restrict x, const int8_t *restrict w, int32_t n)
{
    int32_t a = 0;
    int32_t i;
    for (i = 0; i < n; i += 4) {
        a += (int32_t)x[i] * w[i] + (int32_t)x[i + 1] * w[i + 2] + (int32_t)x[i + 2] * w[i + 1] +
             (int32_t)x[i + 3] * w[i + 3];
    }
    return a;
}
#endif
#if defined(LENETC_USE_DOT4_S16S8P) && !defined(LENETC_HAVE_DOT4_S16S8P)
static inline void lenetc_dot4_s16s8p(const int16_t *restrict x, const int8_t *restrict w, int32_t stride, int32_t n,
                                      int32_t *restrict acc)
{
    int32_t r, i;
    for (r = 0; r < 4; ++r) {
        const int8_t *restrict wr = w + r * stride;
        int32_t a = 0;
        for (i = 0; i < n; i += 4) {
            a += (int32_t)x[i] * wr[i] + (int32_t)x[i + 1] * wr[i + 2] + (int32_t)x[i + 2] * wr[i + 1] +
                 (int32_t)x[i + 3] * wr[i + 3];
        }
        acc[r] += a;
    }
}
#endif
#if defined(LENETC_USE_DOT2X2_S16S8P) && !defined(LENETC_HAVE_DOT2X2_S16S8P)
static inline void lenetc_dot2x2_s16s8p(const int16_t *restrict x, const int8_t *restrict w, int32_t stride,
                                        int32_t n, int32_t *restrict acc)
{
    int32_t r, i;
    for (r = 0; r < 4; ++r) {
        const int16_t *restrict xr = x + (r >> 1) * n;
        const int8_t *restrict wr = w + (r & 1) * stride;
        int32_t a = 0;
        for (i = 0; i < n; i += 4) {
            a += (int32_t)xr[i] * wr[i] + (int32_t)xr[i + 1] * wr[i + 2] + (int32_t)xr[i + 2] * wr[i + 1] +
                 (int32_t)xr[i + 3] * wr[i + 3];
        }
        acc[r] += a;
    }
}
#endif
#if defined(LENETC_USE_DOTSP2_S16S8P) && !defined(LENETC_HAVE_DOTSP2_S16S8P)
static void lenetc_dotsp2_s16s8p(const int16_t *restrict x, const int8_t *restrict w, const int16_t *restrict src,
                                 int32_t nl, int32_t n, int32_t *restrict acc)
{
    int32_t l, i, p;
    for (l = 0; l < nl; ++l) {
        const int16_t *restrict xs = x + 2 * n * src[l];
        const int8_t *restrict wl = w + l * n;
        for (p = 0; p < 2; ++p) {
            int32_t a = 0;
            for (i = 0; i < n; i += 4) {
                const int16_t *restrict xi = xs + 2 * i + 2 * p;
                a += (int32_t)xi[0] * wl[i] + (int32_t)xi[1] * wl[i + 2] + (int32_t)xi[4] * wl[i + 1] +
                     (int32_t)xi[5] * wl[i + 3];
            }
            acc[p] += a;
        }
    }
}
#endif
