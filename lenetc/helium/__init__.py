"""The Helium (MVE, Cortex-M55/M85) family's kernels: which layers they take, and the constants
and scratch each needs. The C is in ``templates/kernels/mve/`` and the primitives in
``csrc/lenetc_arch_cortexm_mve.h`` (with portable fallbacks, so the same file builds anywhere)."""
