/* lenetc primitives for x86-64 (AVX2; AVX-512BW where the compiler enables it). Without those
 * features the portable routines (inlined after this file) are used: same results. */
#if defined(LENETC_USE_DOT_S16S8) && defined(__AVX2__)
#include <immintrin.h>
#define LENETC_HAVE_DOT_S16S8 1
/* vpmovsxbw + vpmaddwd: each pair of int16 products is summed exactly into an int32 lane
 * (|x w| <= 2^14), then the lanes are added. */
static inline int32_t lenetc_dot_s16s8(const int16_t *restrict x, const int8_t *restrict w, int32_t n)
{
    __m256i acc = _mm256_setzero_si256();
    __m128i s;
    int32_t i;
    for (i = 0; i < n; i += 16) {
        const __m256i xv = _mm256_loadu_si256((const __m256i *)(const void *)(x + i));
        const __m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(w + i)));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(xv, wv));
    }
    s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}
#endif

/* lenetc_f32x8_*: eight float lanes for the blocked float kernels (output channels in the
 * lanes). _mm256_fmadd_ps rounds each lane once, exactly like fmaf, so the bits are those of
 * the portable routines. */
#if defined(LENETC_USE_F32X8_FMA) && defined(__AVX__) && defined(__FMA__)
#include <immintrin.h>
#define LENETC_HAVE_F32X8 1
typedef __m256 lenetc_f32x8;
static inline lenetc_f32x8 lenetc_f32x8_load(const float *p)
{
    return _mm256_loadu_ps(p);
}
static inline lenetc_f32x8 lenetc_f32x8_set1(float x)
{
    return _mm256_set1_ps(x);
}
static inline lenetc_f32x8 lenetc_f32x8_fma(lenetc_f32x8 a, lenetc_f32x8 b, lenetc_f32x8 c)
{
    return _mm256_fmadd_ps(a, b, c);
}
static inline void lenetc_f32x8_store(float *p, lenetc_f32x8 v)
{
    _mm256_storeu_ps(p, v);
}
#endif

/* lenetc_f32x16_*: sixteen float lanes, one __m512 under AVX-512F (LENETC_F32X16_NATIVE:
 * kernels then keep more pixels in registers), else two __m256 halves under AVX+FMA. Either
 * way one rounding per lane, as fmaf. */
#if defined(LENETC_USE_F32X16_FMA) && defined(__AVX512F__)
#include <immintrin.h>
#define LENETC_HAVE_F32X16 1
#define LENETC_F32X16_NATIVE 1
typedef __m512 lenetc_f32x16;
static inline lenetc_f32x16 lenetc_f32x16_load(const float *p)
{
    return _mm512_loadu_ps(p);
}
static inline lenetc_f32x16 lenetc_f32x16_set1(float x)
{
    return _mm512_set1_ps(x);
}
static inline lenetc_f32x16 lenetc_f32x16_fma(lenetc_f32x16 a, lenetc_f32x16 b, lenetc_f32x16 c)
{
    return _mm512_fmadd_ps(a, b, c);
}
static inline void lenetc_f32x16_store(float *p, lenetc_f32x16 v)
{
    _mm512_storeu_ps(p, v);
}
#elif defined(LENETC_USE_F32X16_FMA) && defined(__AVX__) && defined(__FMA__)
#include <immintrin.h>
#define LENETC_HAVE_F32X16 1
typedef struct {
    __m256 lo, hi;
} lenetc_f32x16;
static inline lenetc_f32x16 lenetc_f32x16_load(const float *p)
{
    lenetc_f32x16 r;
    r.lo = _mm256_loadu_ps(p);
    r.hi = _mm256_loadu_ps(p + 8);
    return r;
}
static inline lenetc_f32x16 lenetc_f32x16_set1(float x)
{
    lenetc_f32x16 r;
    r.lo = _mm256_set1_ps(x);
    r.hi = r.lo;
    return r;
}
static inline lenetc_f32x16 lenetc_f32x16_fma(lenetc_f32x16 a, lenetc_f32x16 b, lenetc_f32x16 c)
{
    lenetc_f32x16 r;
    r.lo = _mm256_fmadd_ps(a.lo, b.lo, c.lo);
    r.hi = _mm256_fmadd_ps(a.hi, b.hi, c.hi);
    return r;
}
static inline void lenetc_f32x16_store(float *p, lenetc_f32x16 v)
{
    _mm256_storeu_ps(p, v.lo);
    _mm256_storeu_ps(p + 8, v.hi);
}
#endif

/* lenetc_i32x8_*: eight int32 lanes for the blocked int8 kernels (output channels in the
 * lanes). madd adds, per lane l, x[0] * w[2l] + x[1] * w[2l + 1] (int16 values of int8 range:
 * exact, no saturation): vpmaddwd + vpaddd, or one vpdpwssd with AVX-VNNI / AVX-512 VNNI.
 * Integer sums are exact in any order, so every path gives the portable routine's bits. */
#if defined(LENETC_USE_I32X8_MADD) && defined(__AVX2__)
#include <immintrin.h>
#define LENETC_HAVE_I32X8 1
typedef __m256i lenetc_i32x8;
static inline lenetc_i32x8 lenetc_i32x8_load(const int32_t *p)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}
static inline lenetc_i32x8 lenetc_i32x8_madd(lenetc_i32x8 acc, const int16_t *x, const int16_t *w)
{
    int32_t pair;
    __m256i xv, wv;
    memcpy(&pair, x, sizeof pair);
    xv = _mm256_set1_epi32(pair);
    wv = _mm256_loadu_si256((const __m256i *)(const void *)w);
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpwssd_epi32(acc, xv, wv);
#elif defined(__AVXVNNI__)
    return _mm256_dpwssd_avx_epi32(acc, xv, wv);
#else
    return _mm256_add_epi32(acc, _mm256_madd_epi16(xv, wv));
#endif
}
static inline void lenetc_i32x8_store(int32_t *p, lenetc_i32x8 v)
{
    _mm256_storeu_si256((__m256i *)(void *)p, v);
}
#endif
