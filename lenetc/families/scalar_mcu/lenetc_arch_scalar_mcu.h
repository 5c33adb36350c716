/* lenetc primitives for scalar cores (no SIMD: RV32IMC, the ESP32-C3 class). This family's
 * kernels are register-blocked plain C (lenetc/families/scalar_mcu/kernels/) and call no primitive of
 * their own; every lenetc_* routine comes from the portable header pasted after this one. */
