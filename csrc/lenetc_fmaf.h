/* lenetc_fmaf: a correctly rounded fused multiply-add for RISC-V without an FPU. The float
 * policy rests on fmaf rounding once; picolibc's fmaf for soft-float RISC-V computes x * y + z
 * with two float roundings (measured: fmaf(1 + 2^-23, 1 - 2^-23, -1) gives 0, not -2^-46), so
 * there the generated code calls this one instead. With an FPU (__riscv_flen) the compiler emits
 * fmadd.s and nothing here is compiled.
 *
 * x * y is exact in double (24 + 24 significant bits); Knuth's two-sum gives the exact error of
 * the double sum s = x * y + z, and rounding s to odd (setting its last bit when the sum was
 * inexact and the bit is clear, moving towards the exact value) keeps the information a second
 * rounding needs: rounding to odd at 53 bits then to nearest at 24 (or fewer, subnormal) bits
 * equals one rounding to nearest. */
#if defined(__riscv) && !defined(__riscv_flen) && !defined(LENETC_HAVE_FMAF)
#define LENETC_HAVE_FMAF 1
static float lenetc_fmaf(float x, float y, float z)
{
    const double p = (double)x * (double)y;
    const double zd = (double)z;
    const double s = p + zd;
    const double b = s - p;
    const double err = (p - (s - b)) + (zd - b);
    uint64_t bits;
    if (err == 0.0 || s - s != 0.0) { /* exact, or inf/nan */
        return (float)s;
    }
    memcpy(&bits, &s, sizeof bits);
    if ((bits & 1u) == 0u) {
        bits = (err > 0.0) == (s > 0.0) ? bits + 1u : bits - 1u;
    }
    {
        double odd;
        memcpy(&odd, &bits, sizeof odd);
        return (float)odd;
    }
}
#define fmaf(x, y, z) lenetc_fmaf((x), (y), (z))
#endif
