"""Armv8-A Advanced SIMD (Arm64), with the dot-product extension where present.

Its header vectorises ``lenetc_dot_s16s8``; the kernels are the portable ones.
"""

from __future__ import annotations

from pathlib import Path

from ...variants import Capabilities, Dialect, Family

HERE = Path(__file__).parent

DIALECT = Dialect(
    name="neon",
    description="Arm NEON (Arm64; sdot where present)",
    caps=Capabilities(dot_s16s8=True, f32_lanes=4),
    folder=HERE,
    header="lenetc_arch_neon.h",
    align=16,
    macros=frozenset({"__aarch64__", "__ARM_NEON"}),
    preference=30,
)

FAMILY = Family(DIALECT)
