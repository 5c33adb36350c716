"""RISC-V with the vector extension (RVV 1.0; Zve32x for int8, Zve32f for float32).

Vector-length agnostic: every loop is strip-mined with ``vsetvl``, correct at any VLEN. Its
convolution and dense kernels put output channels (neurons) in the vector lanes
(``vector.py``, ``kernels/``); each template keeps a scalar path under
``#if !defined(__riscv_vector)``. The header vectorises ``lenetc_dot_s16s8``.
"""

from __future__ import annotations

from pathlib import Path

from ...variants import Capabilities, Dialect, Family, Variant
from . import vector as v

HERE = Path(__file__).parent
T = f"{HERE.name}/kernels"

DIALECT = Dialect(
    name="riscv-v",
    description="RISC-V vector RVV 1.0 (Zve32x/Zve32f, any VLEN)",
    caps=Capabilities(dot_s16s8=True, vla=True, vector_isa="rvv"),
    folder=HERE,
    header="lenetc_arch_riscv_v.h",
    align=16,
    macros=frozenset({"__riscv_vector"}),
    preference=10,
)

VARIANTS = (
    Variant("conv2d/float32_rvv", "conv2d", "float32", f"{T}/conv2d/float32_rvv.c.j2", applies=v.conv_applies,
            pack=v.pack_conv_float32, scratch=v.conv_scratch, note=v.conv_note, rank=20),
    Variant("conv2d/int8_rvv", "conv2d", "int8", f"{T}/conv2d/int8_rvv.c.j2", applies=v.conv_applies,
            pack=v.pack_conv_int8, scratch=v.conv_scratch, note=v.conv_note, rank=20),
    Variant("dense/float32_rvv", "dense", "float32", f"{T}/dense/float32_rvv.c.j2", applies=v.dense_applies_float32,
            pack=v.pack_dense_float32, note=lambda call: ", RVV across outputs", rank=20),
    Variant("dense/int8_rvv", "dense", "int8", f"{T}/dense/int8_rvv.c.j2", applies=v.dense_applies_int8,
            pack=v.pack_dense_int8, note=lambda call: ", RVV across outputs", rank=20),
)  # fmt: skip

FAMILY = Family(DIALECT, VARIANTS)
