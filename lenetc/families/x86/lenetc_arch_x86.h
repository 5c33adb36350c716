/* lenetc primitives for x86-64 (AVX2; AVX-512BW where the compiler enables it). Without those
 * features the portable routines (inlined after this file) are used: same results. */
/* A block primitive may be compiled for one path of a kernel and called only from the other
 * (e.g. the 16-bit madd where vpdpbusd runs): unused there, which clang reports. */
#ifndef LENETC_UNUSED
#if defined(__GNUC__)
#define LENETC_UNUSED __attribute__((unused))
#else
#define LENETC_UNUSED
#endif
#endif
#if defined(LENETC_USE_DOT_S16S8) && defined(__AVX2__)
#include <immintrin.h>
#define LENETC_HAVE_DOT_S16S8 1
/* vpmovsxbw + vpmaddwd: each pair of int16 products is summed exactly into an int32 lane
 * (|x w| <= 2^14), then the lanes are added. */
static inline LENETC_UNUSED int32_t lenetc_dot_s16s8(const int16_t *restrict x, const int8_t *restrict w, int32_t n)
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

/* lenetc_i32x8_*: eight int32 lanes for the blocked int8 kernels (output channels in the
 * lanes). madd adds, per lane l, x[0] * w[2l] + x[1] * w[2l + 1] (int16 values of int8 range:
 * exact, no saturation): vpmaddwd + vpaddd, or one vpdpwssd with AVX-VNNI / AVX-512 VNNI.
 * Integer sums are exact in any order, so every path gives the portable routine's bits. */
#if (defined(LENETC_USE_I32X8_MADD) || defined(LENETC_USE_I32X8_LOAD)) && defined(__AVX2__)
#include <immintrin.h>
#define LENETC_HAVE_I32X8 1
typedef __m256i lenetc_i32x8;
static inline LENETC_UNUSED lenetc_i32x8 lenetc_i32x8_load(const int32_t *p)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}
static inline LENETC_UNUSED lenetc_i32x8 lenetc_i32x8_madd(lenetc_i32x8 acc, const int16_t *x, const int16_t *w)
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
static inline LENETC_UNUSED void lenetc_i32x8_store(int32_t *p, lenetc_i32x8 v)
{
    _mm256_storeu_si256((__m256i *)(void *)p, v);
}
#endif

/* lenetc_i32x8_requant: lenetc_requant (lenetc_int8.h) on the eight int32 at p, in place,
 * channel l's multiplier mult[l] >= 0 and shift[l] in 1..62:
 * zp + sign(acc) * ((|acc| * mult + 2^(shift-1)) >> shift), saturated to [lo, hi]. The
 * magnitude is computed exactly in 64-bit lanes (vpmuludq, vpsrlvq) and capped at 2^16 before
 * narrowing, which the final clamp to int8 makes invisible. It reads and writes memory itself,
 * so a 16-lane kernel calling it needs none of the other lenetc_i32x8 routines. */
#if defined(LENETC_USE_I32X8_REQUANT) && defined(__AVX2__)
#include <immintrin.h>
#define LENETC_HAVE_I32X8_REQUANT 1
static inline LENETC_UNUSED void lenetc_i32x8_requant(int32_t *p, const int32_t *mult, const int32_t *shift, int32_t zp,
                                        int32_t lo, int32_t hi)
{
    const __m256i acc = _mm256_loadu_si256((const __m256i *)(const void *)p);
    const __m256i m = _mm256_loadu_si256((const __m256i *)(const void *)mult);
    const __m256i s = _mm256_loadu_si256((const __m256i *)(const void *)shift);
    const __m256i one = _mm256_set1_epi64x(1), cap = _mm256_set1_epi64x(65536);
    const __m256i lo32 = _mm256_set1_epi64x(0xFFFFFFFF);
    const __m256i mag = _mm256_abs_epi32(acc);
    const __m256i se = _mm256_and_si256(s, lo32), so = _mm256_srli_epi64(s, 32);
    __m256i pe = _mm256_mul_epu32(mag, m);
    __m256i po = _mm256_mul_epu32(_mm256_srli_epi64(mag, 32), _mm256_srli_epi64(m, 32));
    __m256i r;
    pe = _mm256_srlv_epi64(_mm256_add_epi64(pe, _mm256_sllv_epi64(one, _mm256_sub_epi64(se, one))), se);
    po = _mm256_srlv_epi64(_mm256_add_epi64(po, _mm256_sllv_epi64(one, _mm256_sub_epi64(so, one))), so);
    pe = _mm256_blendv_epi8(pe, cap, _mm256_cmpgt_epi64(pe, cap));
    po = _mm256_blendv_epi8(po, cap, _mm256_cmpgt_epi64(po, cap));
    r = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
    r = _mm256_add_epi32(_mm256_sign_epi32(r, acc), _mm256_set1_epi32(zp));
    r = _mm256_max_epi32(r, _mm256_set1_epi32(lo));
    _mm256_storeu_si256((__m256i *)(void *)p, _mm256_min_epi32(r, _mm256_set1_epi32(hi)));
}
#endif

/* lenetc_i32x16_*: sixteen int32 lanes, one __m512i under AVX-512 (LENETC_I32X16_NATIVE;
 * vpdpwssd with AVX-512 VNNI), else two AVX2 halves; requant works on the halves. */
#if (defined(LENETC_USE_I32X16_MADD) || defined(LENETC_USE_I32X16_DOT4)) && defined(__AVX512F__) && defined(__AVX512BW__)
#include <immintrin.h>
#define LENETC_HAVE_I32X16 1
#define LENETC_I32X16_NATIVE 1
typedef __m512i lenetc_i32x16;
static inline LENETC_UNUSED lenetc_i32x16 lenetc_i32x16_load(const int32_t *p)
{
    return _mm512_loadu_si512((const void *)p);
}
static inline LENETC_UNUSED lenetc_i32x16 lenetc_i32x16_madd(lenetc_i32x16 acc, const int16_t *x, const int16_t *w)
{
    int32_t pair;
    __m512i xv, wv;
    memcpy(&pair, x, sizeof pair);
    xv = _mm512_set1_epi32(pair);
    wv = _mm512_loadu_si512((const void *)w);
#if defined(__AVX512VNNI__)
    return _mm512_dpwssd_epi32(acc, xv, wv);
#else
    return _mm512_add_epi32(acc, _mm512_madd_epi16(xv, wv));
#endif
}
static inline LENETC_UNUSED void lenetc_i32x16_store(int32_t *p, lenetc_i32x16 v)
{
    _mm512_storeu_si512((void *)p, v);
}
#elif (defined(LENETC_USE_I32X16_MADD) || defined(LENETC_USE_I32X16_DOT4)) && defined(__AVX2__)
#define LENETC_HAVE_I32X16 1
typedef struct {
    __m256i lo, hi;
} lenetc_i32x16;
static inline LENETC_UNUSED lenetc_i32x16 lenetc_i32x16_load(const int32_t *p)
{
    lenetc_i32x16 r;
    r.lo = _mm256_loadu_si256((const __m256i *)(const void *)p);
    r.hi = _mm256_loadu_si256((const __m256i *)(const void *)(p + 8));
    return r;
}
static inline LENETC_UNUSED lenetc_i32x16 lenetc_i32x16_madd(lenetc_i32x16 acc, const int16_t *x, const int16_t *w)
{
    int32_t pair;
    __m256i xv;
    memcpy(&pair, x, sizeof pair);
    xv = _mm256_set1_epi32(pair);
#if defined(__AVXVNNI__)
    acc.lo = _mm256_dpwssd_avx_epi32(acc.lo, xv, _mm256_loadu_si256((const __m256i *)(const void *)w));
    acc.hi = _mm256_dpwssd_avx_epi32(acc.hi, xv, _mm256_loadu_si256((const __m256i *)(const void *)(w + 16)));
#else
    acc.lo = _mm256_add_epi32(acc.lo, _mm256_madd_epi16(xv, _mm256_loadu_si256((const __m256i *)(const void *)w)));
    acc.hi = _mm256_add_epi32(acc.hi,
                              _mm256_madd_epi16(xv, _mm256_loadu_si256((const __m256i *)(const void *)(w + 16))));
#endif
    return acc;
}
static inline LENETC_UNUSED void lenetc_i32x16_store(int32_t *p, lenetc_i32x16 v)
{
    _mm256_storeu_si256((__m256i *)(void *)p, v.lo);
    _mm256_storeu_si256((__m256i *)(void *)(p + 8), v.hi);
}
#endif

/* lenetc_i32x{8,16}_dot4: lane l += sum over t < 4 of x[t] * w[4l + t], x four unsigned bytes
 * (the int8 input plus 128, the offset folded into the bias at generation time), w int8. One
 * vpdpbusd per 8 or 16 lanes: AVX-512 VNNI, or AVX-VNNI at 256 bits. The sums wrap modulo 2^32
 * like every int32 lane here; the finished accumulator equals the exact one, which the planner
 * proved fits int32. Only defined (LENETC_FAST_I32X*_DOT4) where the CPU has the instruction:
 * elsewhere the kernels keep their 16-bit madd loop (vpmaddwd), which packs its own weights. */
#if defined(LENETC_USE_I32X16_DOT4) && defined(LENETC_HAVE_I32X16) && defined(LENETC_I32X16_NATIVE) && \
    defined(__AVX512VNNI__)
#define LENETC_FAST_I32X16_DOT4 1
#define LENETC_HAVE_I32X16_DOT4 1
static inline LENETC_UNUSED lenetc_i32x16 lenetc_i32x16_dot4(lenetc_i32x16 acc, const uint8_t *x, const int8_t *w)
{
    int32_t quad;
    memcpy(&quad, x, sizeof quad);
    return _mm512_dpbusd_epi32(acc, _mm512_set1_epi32(quad), _mm512_loadu_si512((const void *)w));
}
#elif defined(LENETC_USE_I32X16_DOT4) && defined(LENETC_HAVE_I32X16) && !defined(LENETC_I32X16_NATIVE) && \
    defined(__AVXVNNI__)
#define LENETC_FAST_I32X16_DOT4 1
#define LENETC_HAVE_I32X16_DOT4 1
static inline LENETC_UNUSED lenetc_i32x16 lenetc_i32x16_dot4(lenetc_i32x16 acc, const uint8_t *x, const int8_t *w)
{
    int32_t quad;
    __m256i xv;
    memcpy(&quad, x, sizeof quad);
    xv = _mm256_set1_epi32(quad);
    acc.lo = _mm256_dpbusd_avx_epi32(acc.lo, xv, _mm256_loadu_si256((const __m256i *)(const void *)w));
    acc.hi = _mm256_dpbusd_avx_epi32(acc.hi, xv, _mm256_loadu_si256((const __m256i *)(const void *)(w + 32)));
    return acc;
}
#endif
#if defined(LENETC_USE_I32X8_DOT4) && defined(LENETC_HAVE_I32X8) && \
    ((defined(__AVX512VNNI__) && defined(__AVX512VL__)) || defined(__AVXVNNI__))
#define LENETC_FAST_I32X8_DOT4 1
#define LENETC_HAVE_I32X8_DOT4 1
static inline LENETC_UNUSED lenetc_i32x8 lenetc_i32x8_dot4(lenetc_i32x8 acc, const uint8_t *x, const int8_t *w)
{
    int32_t quad;
    __m256i xv, wv;
    memcpy(&quad, x, sizeof quad);
    xv = _mm256_set1_epi32(quad);
    wv = _mm256_loadu_si256((const __m256i *)(const void *)w);
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpbusd_epi32(acc, xv, wv);
#else
    return _mm256_dpbusd_avx_epi32(acc, xv, wv);
#endif
}
#endif
