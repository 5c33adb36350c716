"""Armv8.1-M Helium / MVE (Cortex-M55, M85): 128-bit vectors, tail predication.

Its header vectorises ``lenetc_dot_s16s8``; the kernels are the portable ones. (These CPUs
also have the DSP extension's SMLAD, but ``smlad`` is not declared: the DSP family's blocked
kernels were not measured here, and the MVE kernels are meant to use the vector unit.)
"""

from __future__ import annotations

from pathlib import Path

from ...variants import Capabilities, Dialect, Family

HERE = Path(__file__).parent

DIALECT = Dialect(
    name="cortex-m-mve",
    description="Cortex-M Helium/MVE (M55, M85)",
    caps=Capabilities(dot_s16s8=True, f32_lanes=4, tail_predication=True),
    folder=HERE,
    header="lenetc_arch_cortexm_mve.h",
    align=16,
    macros=frozenset({"__ARM_FEATURE_MVE"}),
    preference=20,
)

FAMILY = Family(DIALECT)
