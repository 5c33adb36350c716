"""Armv8-A Advanced SIMD (Arm64), with the dot-product extension where present.

Its headers vectorise ``lenetc_dot_s16s8`` and implement the block primitives
(``lenetc_f32x8/16`` with vfmaq_f32, ``lenetc_i32x8/16`` with sdot under the dot-product
extension), so the blocked convolution and dense variants (lenetc/families/x86) apply here by
capability. A per-lane select costs an instruction per FMA on NEON, so sparse tables and few
channels keep the portable float kernel (no ``masked_f32``).
"""

from __future__ import annotations

from pathlib import Path

from ...variants import Capabilities, Dialect, Family

HERE = Path(__file__).parent

DIALECT = Dialect(
    name="neon",
    description="Arm NEON (Arm64; sdot where present)",
    caps=Capabilities(dot_s16s8=True, madd_s16_lanes=8, dot_s8x4=True, f32_lanes=4, simd_blocks=True),
    folder=HERE,
    header="lenetc_arch_neon.h",
    float_header="lenetc_arch_neon_f32.h",
    align=16,
    macros=frozenset({"__aarch64__", "__ARM_NEON"}),
    preference=30,
    batch_tile=8,
)

FAMILY = Family(DIALECT)
