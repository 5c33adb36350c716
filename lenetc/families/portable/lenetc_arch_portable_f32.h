/* lenetc float primitives, portable C99: the fallback of every CPU family (float models only). */
/* A block primitive may be compiled for one path of a kernel and called only from the other
 * (e.g. the 16-bit madd where vpdpbusd runs): unused there, which clang reports. */
#ifndef LENETC_UNUSED
#if defined(__GNUC__)
#define LENETC_UNUSED __attribute__((unused))
#else
#define LENETC_UNUSED
#endif
#endif
/* lenetc_f32x8_*: eight float lanes (a blocked float kernel's output channels); fma is fmaf
 * per lane, so a family's vector FMA (one rounding per lane) gives the same bits. */
#if (defined(LENETC_USE_F32X8_FMA) || defined(LENETC_USE_F32X8_FMA_M)) && !defined(LENETC_HAVE_F32X8)
typedef struct {
    float v[8];
} lenetc_f32x8;
static inline LENETC_UNUSED lenetc_f32x8 lenetc_f32x8_load(const float *p)
{
    lenetc_f32x8 r;
    int l;
    for (l = 0; l < 8; ++l) {
        r.v[l] = p[l];
    }
    return r;
}
static inline LENETC_UNUSED lenetc_f32x8 lenetc_f32x8_set1(float x)
{
    lenetc_f32x8 r;
    int l;
    for (l = 0; l < 8; ++l) {
        r.v[l] = x;
    }
    return r;
}
static inline LENETC_UNUSED lenetc_f32x8 lenetc_f32x8_fma(lenetc_f32x8 a, lenetc_f32x8 b, lenetc_f32x8 c)
{
    lenetc_f32x8 r;
    int l;
    for (l = 0; l < 8; ++l) {
        r.v[l] = fmaf(a.v[l], b.v[l], c.v[l]);
    }
    return r;
}
static inline LENETC_UNUSED void lenetc_f32x8_store(float *p, lenetc_f32x8 v)
{
    int l;
    for (l = 0; l < 8; ++l) {
        p[l] = v.v[l];
    }
}
#endif

/* lenetc_f32x16_*: sixteen float lanes, fmaf per lane (the same bits as any family's). */
#if (defined(LENETC_USE_F32X16_FMA) || defined(LENETC_USE_F32X16_FMA_M)) && !defined(LENETC_HAVE_F32X16)
typedef struct {
    float v[16];
} lenetc_f32x16;
static inline LENETC_UNUSED lenetc_f32x16 lenetc_f32x16_load(const float *p)
{
    lenetc_f32x16 r;
    int l;
    for (l = 0; l < 16; ++l) {
        r.v[l] = p[l];
    }
    return r;
}
static inline LENETC_UNUSED lenetc_f32x16 lenetc_f32x16_set1(float x)
{
    lenetc_f32x16 r;
    int l;
    for (l = 0; l < 16; ++l) {
        r.v[l] = x;
    }
    return r;
}
static inline LENETC_UNUSED lenetc_f32x16 lenetc_f32x16_fma(lenetc_f32x16 a, lenetc_f32x16 b, lenetc_f32x16 c)
{
    lenetc_f32x16 r;
    int l;
    for (l = 0; l < 16; ++l) {
        r.v[l] = fmaf(a.v[l], b.v[l], c.v[l]);
    }
    return r;
}
static inline LENETC_UNUSED void lenetc_f32x16_store(float *p, lenetc_f32x16 v)
{
    int l;
    for (l = 0; l < 16; ++l) {
        p[l] = v.v[l];
    }
}
#endif

/* lenetc_f32x8_fma_nz: fmaf(x, w, acc) per lane, acc unchanged when x is zero. */
#if defined(LENETC_USE_F32X8_FMA_NZ) && !defined(LENETC_HAVE_F32X8_FMA_NZ)
static inline LENETC_UNUSED lenetc_f32x8 lenetc_f32x8_fma_nz(float x, lenetc_f32x8 w, lenetc_f32x8 acc)
{
    return x != 0.0f ? lenetc_f32x8_fma(lenetc_f32x8_set1(x), w, acc) : acc;
}
#endif

/* lenetc_f32x{8,16}_fma_m: fmaf(a, b, c) in the lanes whose bit is set in m, c elsewhere. */
#if defined(LENETC_USE_F32X8_FMA_M) && !defined(LENETC_HAVE_F32X8_FMA_M)
static inline LENETC_UNUSED lenetc_f32x8 lenetc_f32x8_fma_m(lenetc_f32x8 a, lenetc_f32x8 b, lenetc_f32x8 c, uint32_t m)
{
    float x[8], y[8], z[8];
    int l;
    lenetc_f32x8_store(x, a);
    lenetc_f32x8_store(y, b);
    lenetc_f32x8_store(z, c);
    for (l = 0; l < 8; ++l) {
        z[l] = ((m >> l) & 1u) != 0u ? fmaf(x[l], y[l], z[l]) : z[l];
    }
    return lenetc_f32x8_load(z);
}
#endif
#if defined(LENETC_USE_F32X16_FMA_M) && !defined(LENETC_HAVE_F32X16_FMA_M)
static inline LENETC_UNUSED lenetc_f32x16 lenetc_f32x16_fma_m(lenetc_f32x16 a, lenetc_f32x16 b, lenetc_f32x16 c, uint32_t m)
{
    float x[16], y[16], z[16];
    int l;
    lenetc_f32x16_store(x, a);
    lenetc_f32x16_store(y, b);
    lenetc_f32x16_store(z, c);
    for (l = 0; l < 16; ++l) {
        z[l] = ((m >> l) & 1u) != 0u ? fmaf(x[l], y[l], z[l]) : z[l];
    }
    return lenetc_f32x16_load(z);
}
#endif
