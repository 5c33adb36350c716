"""The RISC-V family: vector (RVV 1.0) lowering of the int8 and float32 linear kinds (vector.py);
its C primitives are csrc/lenetc_arch_riscv_v.h, its boards in lenetc/firmware/targets.py."""
