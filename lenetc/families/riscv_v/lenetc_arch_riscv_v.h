/* lenetc primitives for the RISC-V vector extension (RVV 1.0, clang's __riscv_* intrinsics).
 * Every loop is strip-mined with vsetvl, so one binary is correct at any VLEN (tested at 128,
 * 256 and 512); without __riscv_vector the portable routines are used: same results. The int8
 * routines need only Zve32x (32-bit elements, integer). */
#if defined(__riscv_vector)
#include <riscv_vector.h>
#endif

#if defined(LENETC_USE_DOT_S16S8) && defined(__riscv_vector)
#define LENETC_HAVE_DOT_S16S8 1
/* vwmacc: int16 x int16 -> int32 lanes (weights widened by vsext), one reduction at the end;
 * integer sums are exact in any order. */
static inline int32_t lenetc_dot_s16s8(const int16_t *restrict x, const int8_t *restrict w, int32_t n)
{
    const size_t vlmax = __riscv_vsetvlmax_e32m4();
    vint32m4_t acc = __riscv_vmv_v_x_i32m4(0, vlmax);
    size_t i = 0, left = (size_t)n;
    while (left > 0) {
        const size_t vl = __riscv_vsetvl_e16m2(left);
        const vint16m2_t wv = __riscv_vsext_vf2_i16m2(__riscv_vle8_v_i8m1(w + i, vl), vl);
        const vint16m2_t xv = __riscv_vle16_v_i16m2(x + i, vl);
        acc = __riscv_vwmacc_vv_i32m4_tu(acc, xv, wv, vl);
        i += vl;
        left -= vl;
    }
    return __riscv_vmv_x_s_i32m1_i32(
        __riscv_vredsum_vs_i32m4_i32m1(acc, __riscv_vmv_v_x_i32m1(0, 1), vlmax));
}
#endif
