/* lenetc float primitives for x86-64 (included in float models only, after lenetc_arch_x86.h). */
/* A block primitive may be compiled for one path of a kernel and called only from the other
 * (e.g. the 16-bit madd where vpdpbusd runs): unused there, which clang reports. */
#ifndef LENETC_UNUSED
#if defined(__GNUC__)
#define LENETC_UNUSED __attribute__((unused))
#else
#define LENETC_UNUSED
#endif
#endif
/* lenetc_f32x8_*: eight float lanes for the blocked float kernels (output channels in the
 * lanes). _mm256_fmadd_ps rounds each lane once, exactly like fmaf, so the bits are those of
 * the portable routines. */
#if (defined(LENETC_USE_F32X8_FMA) || defined(LENETC_USE_F32X8_FMA_M)) && defined(__AVX__) && defined(__FMA__)
#include <immintrin.h>
#define LENETC_HAVE_F32X8 1
typedef __m256 lenetc_f32x8;
static inline LENETC_UNUSED lenetc_f32x8 lenetc_f32x8_load(const float *p)
{
    return _mm256_loadu_ps(p);
}
static inline LENETC_UNUSED lenetc_f32x8 lenetc_f32x8_set1(float x)
{
    return _mm256_set1_ps(x);
}
static inline LENETC_UNUSED lenetc_f32x8 lenetc_f32x8_fma(lenetc_f32x8 a, lenetc_f32x8 b, lenetc_f32x8 c)
{
    return _mm256_fmadd_ps(a, b, c);
}
static inline LENETC_UNUSED void lenetc_f32x8_store(float *p, lenetc_f32x8 v)
{
    _mm256_storeu_ps(p, v);
}
#endif

/* lenetc_f32x16_*: sixteen float lanes, one __m512 under AVX-512F (LENETC_F32X16_NATIVE:
 * kernels then keep more pixels in registers), else two __m256 halves under AVX+FMA. Either
 * way one rounding per lane, as fmaf. */
#if (defined(LENETC_USE_F32X16_FMA) || defined(LENETC_USE_F32X16_FMA_M)) && defined(__AVX512F__)
#include <immintrin.h>
#define LENETC_HAVE_F32X16 1
#define LENETC_F32X16_NATIVE 1
typedef __m512 lenetc_f32x16;
static inline LENETC_UNUSED lenetc_f32x16 lenetc_f32x16_load(const float *p)
{
    return _mm512_loadu_ps(p);
}
static inline LENETC_UNUSED lenetc_f32x16 lenetc_f32x16_set1(float x)
{
    return _mm512_set1_ps(x);
}
static inline LENETC_UNUSED lenetc_f32x16 lenetc_f32x16_fma(lenetc_f32x16 a, lenetc_f32x16 b, lenetc_f32x16 c)
{
    return _mm512_fmadd_ps(a, b, c);
}
static inline LENETC_UNUSED void lenetc_f32x16_store(float *p, lenetc_f32x16 v)
{
    _mm512_storeu_ps(p, v);
}
#elif (defined(LENETC_USE_F32X16_FMA) || defined(LENETC_USE_F32X16_FMA_M)) && defined(__AVX__) && defined(__FMA__)
#include <immintrin.h>
#define LENETC_HAVE_F32X16 1
typedef struct {
    __m256 lo, hi;
} lenetc_f32x16;
static inline LENETC_UNUSED lenetc_f32x16 lenetc_f32x16_load(const float *p)
{
    lenetc_f32x16 r;
    r.lo = _mm256_loadu_ps(p);
    r.hi = _mm256_loadu_ps(p + 8);
    return r;
}
static inline LENETC_UNUSED lenetc_f32x16 lenetc_f32x16_set1(float x)
{
    lenetc_f32x16 r;
    r.lo = _mm256_set1_ps(x);
    r.hi = r.lo;
    return r;
}
static inline LENETC_UNUSED lenetc_f32x16 lenetc_f32x16_fma(lenetc_f32x16 a, lenetc_f32x16 b, lenetc_f32x16 c)
{
    lenetc_f32x16 r;
    r.lo = _mm256_fmadd_ps(a.lo, b.lo, c.lo);
    r.hi = _mm256_fmadd_ps(a.hi, b.hi, c.hi);
    return r;
}
static inline LENETC_UNUSED void lenetc_f32x16_store(float *p, lenetc_f32x16 v)
{
    _mm256_storeu_ps(p, v.lo);
    _mm256_storeu_ps(p + 8, v.hi);
}
#endif

/* lenetc_f32x8_fma_nz: acc + x * w in every lane, one rounding, except that a zero x leaves acc
 * as it is (what the one-image dense kernels do by skipping a zero input). AVX-512 VL: one
 * masked vfmadd with an all-or-nothing mask; AVX2: the fused result blended on x != 0. */
#if defined(LENETC_USE_F32X8_FMA_NZ) && defined(LENETC_HAVE_F32X8)
#define LENETC_HAVE_F32X8_FMA_NZ 1
static inline LENETC_UNUSED lenetc_f32x8 lenetc_f32x8_fma_nz(float x, lenetc_f32x8 w, lenetc_f32x8 acc)
{
#if defined(__AVX512F__) && defined(__AVX512VL__)
    return _mm256_mask3_fmadd_ps(_mm256_set1_ps(x), w, acc, (__mmask8)(x != 0.0f ? 0xFF : 0));
#else
    const __m256 xv = _mm256_set1_ps(x);
    return _mm256_blendv_ps(acc, _mm256_fmadd_ps(xv, w, acc), _mm256_cmp_ps(xv, _mm256_setzero_ps(), _CMP_NEQ_UQ));
#endif
}
#endif

/* lenetc_f32x{8,16}_fma_m: a * b + c in the lanes whose bit is set in m, c elsewhere (a sparse
 * connection table: unconnected output maps are not touched). AVX-512: one masked vfmadd. */
#if defined(LENETC_USE_F32X8_FMA_M) && defined(LENETC_HAVE_F32X8)
#define LENETC_HAVE_F32X8_FMA_M 1
static inline LENETC_UNUSED lenetc_f32x8 lenetc_f32x8_fma_m(lenetc_f32x8 a, lenetc_f32x8 b, lenetc_f32x8 c, uint32_t m)
{
#if defined(__AVX512F__) && defined(__AVX512VL__)
    return _mm256_mask3_fmadd_ps(a, b, c, (__mmask8)m);
#else
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const __m256i on = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)m), bit), bit);
    return _mm256_blendv_ps(c, _mm256_fmadd_ps(a, b, c), _mm256_castsi256_ps(on));
#endif
}
#endif
#if defined(LENETC_USE_F32X16_FMA_M) && defined(LENETC_HAVE_F32X16)
#define LENETC_HAVE_F32X16_FMA_M 1
static inline LENETC_UNUSED lenetc_f32x16 lenetc_f32x16_fma_m(lenetc_f32x16 a, lenetc_f32x16 b, lenetc_f32x16 c, uint32_t m)
{
#if defined(LENETC_F32X16_NATIVE)
    return _mm512_mask3_fmadd_ps(a, b, c, (__mmask16)m);
#else
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const __m256i on_lo = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)(m & 0xFFu)), bit), bit);
    const __m256i on_hi = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)(m >> 8)), bit), bit);
    lenetc_f32x16 r;
    r.lo = _mm256_blendv_ps(c.lo, _mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_castsi256_ps(on_lo));
    r.hi = _mm256_blendv_ps(c.hi, _mm256_fmadd_ps(a.hi, b.hi, c.hi), _mm256_castsi256_ps(on_hi));
    return r;
#endif
}
#endif
