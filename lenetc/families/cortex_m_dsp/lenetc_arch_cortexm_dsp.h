/* lenetc primitives for the Cortex-M DSP extension (M4, M7, M33). Elsewhere the portable
 * routines are used: same results. */
#if defined(LENETC_USE_DOT_S16S8) && defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#define LENETC_HAVE_DOT_S16S8 1
/* Four MACs per step with two SMLADs: sxtb16 splits four int8 weights into the pairs (w0, w2)
 * and (w1, w3); the int16 inputs are regrouped to match (the compiler emits pkhbt/pkhtb). */
static inline int32_t lenetc_dot_s16s8(const int16_t *restrict x, const int8_t *restrict w, int32_t n)
{
    int32_t acc = 0;
    int32_t i;
    for (i = 0; i < n; i += 4) {
        uint32_t x01, x23, w4;
        memcpy(&x01, x + i, 4);
        memcpy(&x23, x + i + 2, 4);
        memcpy(&w4, w + i, 4);
        {
            const int16x2_t w02 = __sxtb16((int8x4_t)w4);
            const int16x2_t w13 = __sxtb16((int8x4_t)((w4 >> 8) | (w4 << 24))); /* ror 8 */
            const int16x2_t x02 = (int16x2_t)((x01 & 0xFFFFu) | (x23 << 16));
            const int16x2_t x13 = (int16x2_t)((x01 >> 16) | (x23 & 0xFFFF0000u));
            acc = __smlad(x02, w02, acc);
            acc = __smlad(x13, w13, acc);
        }
    }
    return acc;
}
#endif

/* Packed int8 weights: in every group of four, lenetc stores (w0, w2, w1, w3) at generation
 * time, so one SXTB16 yields the pair (w0, w1) and one SXTB16 of the word rotated by 8 the
 * pair (w2, w3): each matches two int16 inputs as they lie in memory, no input regrouping.
 *
 * lenetc_dot4_s16s8p: acc[r] += sum of x[i] * wr[i], i < n (n a multiple of 16), for the four
 *   packed rows w + r * stride; the inputs are loaded once for four output channels.
 * lenetc_dot1_s16s8p: the same for one packed row, returned. */
#if (defined(LENETC_USE_DOT4_S16S8P) || defined(LENETC_USE_DOT1_S16S8P) || defined(LENETC_USE_DOT2X2_S16S8P) || \
     defined(LENETC_USE_DOTSP2_S16S8P)) && defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
/* SXTB16 of the word rotated by 8 in one instruction (GCC 12 does not fold a rotate into the
 * intrinsic); other compilers get the intrinsic of the rotated word, the same value. */
static inline int16x2_t lenetc_sxtb16_ror8_(int8x4_t q)
{
#if defined(__GNUC__)
    int16x2_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(q));
    return r;
#else
    const uint32_t u = (uint32_t)q;
    return __sxtb16((int8x4_t)((u >> 8) | (u << 24)));
#endif
}
/* The blocked loops need most of the 13 registers: kept out of line (GCC 12 spills and reloads
 * inside them when they are inlined into the long run function). */
#if defined(__GNUC__)
#define LENETC_DSP_NOINLINE_ __attribute__((noinline))
#else
#define LENETC_DSP_NOINLINE_
#endif
static inline int32_t lenetc_ldw_(const void *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}
#endif
#if defined(LENETC_USE_DOT4_S16S8P) && defined(__ARM_FEATURE_DSP)
#define LENETC_HAVE_DOT4_S16S8P 1
LENETC_DSP_NOINLINE_ static void lenetc_dot4_s16s8p(const int16_t *restrict x, const int8_t *restrict w, int32_t stride, int32_t n,
                                      int32_t *restrict acc)
{
    const int8_t *restrict w0 = w;
    const int8_t *restrict w1 = w + stride;
    const int8_t *restrict w2 = w + 2 * stride;
    const int8_t *restrict w3 = w + 3 * stride;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t i;
    for (i = 0; i < n; i += 4) {
        const int16x2_t x01 = (int16x2_t)lenetc_ldw_(x + i);
        const int16x2_t x23 = (int16x2_t)lenetc_ldw_(x + i + 2);
        int8x4_t q;
        q = (int8x4_t)lenetc_ldw_(w0 + i);
        a0 = __smlad(x01, __sxtb16(q), a0);
        a0 = __smlad(x23, lenetc_sxtb16_ror8_(q), a0);
        q = (int8x4_t)lenetc_ldw_(w1 + i);
        a1 = __smlad(x01, __sxtb16(q), a1);
        a1 = __smlad(x23, lenetc_sxtb16_ror8_(q), a1);
        q = (int8x4_t)lenetc_ldw_(w2 + i);
        a2 = __smlad(x01, __sxtb16(q), a2);
        a2 = __smlad(x23, lenetc_sxtb16_ror8_(q), a2);
        q = (int8x4_t)lenetc_ldw_(w3 + i);
        a3 = __smlad(x01, __sxtb16(q), a3);
        a3 = __smlad(x23, lenetc_sxtb16_ror8_(q), a3);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
#endif
#if defined(LENETC_USE_DOT1_S16S8P) && defined(__ARM_FEATURE_DSP)
#define LENETC_HAVE_DOT1_S16S8P 1
static inline int32_t lenetc_dot1_s16s8p(const int16_t *restrict x, const int8_t *restrict w, int32_t n)
{
    int32_t a = 0;
    int32_t i;
    for (i = 0; i < n; i += 4) {
        int16x2_t x01, x23;
        int8x4_t q;
        memcpy(&x01, x + i, 4);
        memcpy(&x23, x + i + 2, 4);
        memcpy(&q, w + i, 4);
        a = __smlad(x01, __sxtb16(q), a);
        a = __smlad(x23, lenetc_sxtb16_ror8_(q), a);
    }
    return a;
}
#endif

/* lenetc_dot2x2_s16s8p: two packed rows (w, w + stride) times two input rows (x, x + n):
 *   acc[0] += x0.w0, acc[1] += x0.w1, acc[2] += x1.w0, acc[3] += x1.w1 (n a multiple of 4).
 * Two output channels at two output pixels: every input word and every weight word loaded is
 * used by two SMLADs. */
#if defined(LENETC_USE_DOT2X2_S16S8P) && defined(__ARM_FEATURE_DSP)
#define LENETC_HAVE_DOT2X2_S16S8P 1
LENETC_DSP_NOINLINE_ static void lenetc_dot2x2_s16s8p(const int16_t *restrict x, const int8_t *restrict w, int32_t stride,
                                        int32_t n, int32_t *restrict acc)
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    int32_t i;
    for (i = 0; i < n; i += 4) {
        const int16x2_t p01 = (int16x2_t)lenetc_ldw_(x + i);
        const int16x2_t p23 = (int16x2_t)lenetc_ldw_(x + i + 2);
        const int16x2_t q01 = (int16x2_t)lenetc_ldw_(x + n + i);
        const int16x2_t q23 = (int16x2_t)lenetc_ldw_(x + n + i + 2);
        int8x4_t v = (int8x4_t)lenetc_ldw_(w + i);
        int16x2_t lo = __sxtb16(v), hi = lenetc_sxtb16_ror8_(v);
        a00 = __smlad(p01, lo, a00);
        a00 = __smlad(p23, hi, a00);
        a10 = __smlad(q01, lo, a10);
        a10 = __smlad(q23, hi, a10);
        v = (int8x4_t)lenetc_ldw_(w + stride + i);
        lo = __sxtb16(v);
        hi = lenetc_sxtb16_ror8_(v);
        a01 = __smlad(p01, lo, a01);
        a01 = __smlad(p23, hi, a01);
        a11 = __smlad(q01, lo, a11);
        a11 = __smlad(q23, hi, a11);
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}
#endif

/* lenetc_dotsp2_s16s8p: one output map of a sparse connection table at two output pixels.
 *   For each link l < nl: the packed weight row w + l * n (n a multiple of 4) times the input
 *   segment src[l] of a patch whose two pixels are interleaved word by word (taps 2t, 2t + 1 of
 *   pixel p of segment k at int16 offset 2 * (k * n + 2t) + 2p): acc[0] and acc[1] get the two
 *   pixels' sums. Every weight word loaded feeds two SMLADs; only connected maps are read. */
#if defined(LENETC_USE_DOTSP2_S16S8P) && defined(__ARM_FEATURE_DSP)
#define LENETC_HAVE_DOTSP2_S16S8P 1
LENETC_DSP_NOINLINE_ static void lenetc_dotsp2_s16s8p(const int16_t *restrict x, const int8_t *restrict w,
                                                      const int16_t *restrict src, int32_t nl, int32_t n,
                                                      int32_t *restrict acc)
{
    int32_t a0 = acc[0], a1 = acc[1];
    int32_t l;
    for (l = 0; l < nl; ++l) {
        const int16_t *restrict xs = x + 2 * n * src[l];
        const int16_t *restrict end = xs + 2 * n;
        for (; xs < end; xs += 8, w += 4) {
            const int8x4_t q = (int8x4_t)lenetc_ldw_(w);
            const int16x2_t lo = __sxtb16(q), hi = lenetc_sxtb16_ror8_(q);
            a0 = __smlad((int16x2_t)lenetc_ldw_(xs), lo, a0);
            a1 = __smlad((int16x2_t)lenetc_ldw_(xs + 2), lo, a1);
            a0 = __smlad((int16x2_t)lenetc_ldw_(xs + 4), hi, a0);
            a1 = __smlad((int16x2_t)lenetc_ldw_(xs + 6), hi, a1);
        }
    }
    acc[0] = a0;
    acc[1] = a1;
}
#endif

/* lenetc_requant (same contract and results as lenetc_int8.h's): for shift >= 33 the rounding
 * term 2^(shift-1) is a multiple of 2^32, so with round half away from zero written as
 * floor((prod - (prod < 0) + 2^(shift-1)) / 2^shift) only the high word of the product needs
 * the addition and the shift: no 64-bit variable shift (about 12 instructions instead of 35). */
#if defined(LENETC_USE_REQUANT) && defined(__ARM_FEATURE_DSP)
#define LENETC_HAVE_REQUANT 1
static inline int8_t lenetc_requant(int32_t acc, int32_t mult, int32_t shift, int32_t zp, int32_t lo, int32_t hi)
{
    const int64_t prod = (int64_t)acc * (int64_t)mult;
    int32_t v;
    if (shift >= 33) {
        const int64_t t = prod - (int64_t)(prod < 0);
        const uint32_t top = (uint32_t)((uint64_t)t >> 32) + ((uint32_t)1 << (shift - 33));
        const int32_t s = (int32_t)top; /* |prod| < 2^62: no wrap */
        v = s < 0 ? ~(~s >> (shift - 32)) : s >> (shift - 32);
    } else {
        const int64_t half = (int64_t)1 << (shift - 1);
        const int64_t mag = ((prod < 0 ? -prod : prod) + half) >> shift;
        int64_t w = (prod < 0 ? -mag : mag) + (int64_t)zp;
        w = w < (int64_t)lo ? (int64_t)lo : w;
        w = w > (int64_t)hi ? (int64_t)hi : w;
        return (int8_t)w;
    }
    v += zp;
#if defined(__GNUC__) && defined(__arm__)
    if (lo == -128 && hi == 127) { /* constant after inlining: one SSAT for the full int8 range */
        int32_t r;
        __asm__("ssat %0, #8, %1" : "=r"(r) : "r"(v));
        return (int8_t)r;
    }
#endif
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    return (int8_t)v;
}
#endif
