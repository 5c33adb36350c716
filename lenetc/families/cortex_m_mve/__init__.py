"""Armv8.1-M Helium / MVE (Cortex-M55, M85): 128-bit vectors, tail predication.

int8 convolutions and dense layers multiply int8 by int8 with VMLADAVA on gathered windows
(``int8.py``); float32 ones vectorise across output columns or neurons with the portable
kernel's fmaf order (``float32.py``). The header vectorises ``lenetc_dot_s16s8`` too. (These
CPUs also have the DSP extension's SMLAD, but ``smlad`` is not declared: the Helium kernels
use the vector unit.)
"""

from __future__ import annotations

from pathlib import Path

from ...variants import Capabilities, Dialect, Family, Variant
from . import float32 as f32
from . import int8 as i8

HERE = Path(__file__).parent
T = f"{HERE.name}/kernels"

DIALECT = Dialect(
    name="cortex-m-mve",
    description="Cortex-M Helium/MVE (M55, M85)",
    caps=Capabilities(dot_s16s8=True, f32_lanes=4, tail_predication=True, vector_isa="mve"),
    folder=HERE,
    header="lenetc_arch_cortexm_mve.h",
    float_header="lenetc_arch_cortexm_mve_f32.h",
    align=16,
    macros=frozenset({"__ARM_FEATURE_MVE"}),
    preference=20,
)

VARIANTS = (
    Variant("conv2d/float32_mve", "conv2d", "float32", f"{T}/conv2d/float32_mve.c.j2", applies=f32.conv_applies,
            pack=f32.conv_pack, scratch=f32.conv_scratch, note=f32.conv_note, rank=10),
    Variant("conv2d/int8_mve", "conv2d", "int8", f"{T}/conv2d/int8_mve.c.j2", applies=i8.conv_applies,
            pack=i8.pack_conv, scratch=i8.conv_scratch, modes=i8.conv_modes,
            mode_templates={"window": f"{T}/conv2d/int8_mve_window.c.j2"}, rank=10),
    Variant("dense/float32_mve", "dense", "float32", f"{T}/dense/float32_mve.c.j2", applies=f32.dense_applies,
            pack=f32.dense_pack, note=lambda call: ", Helium", rank=10),
    Variant("dense/int8_mve", "dense", "int8", f"{T}/dense/int8_mve.c.j2",
            applies=lambda call, caps: caps.vector_isa == "mve", pack=i8.pack_dense, scratch=i8.dense_scratch,
            rank=10),
)  # fmt: skip

FAMILY = Family(DIALECT, VARIANTS)
