"""RISC-V with the vector extension (RVV 1.0; Zve32x for int8, Zve32f for float32).

Vector-length agnostic: every loop of its header is strip-mined with ``vsetvl``, correct at
any VLEN. Its header vectorises ``lenetc_dot_s16s8``; the kernels are the portable ones.
"""

from __future__ import annotations

from pathlib import Path

from ...variants import Capabilities, Dialect, Family

HERE = Path(__file__).parent

DIALECT = Dialect(
    name="riscv-v",
    description="RISC-V vector RVV 1.0 (Zve32x/Zve32f, any VLEN)",
    caps=Capabilities(dot_s16s8=True, vla=True),
    folder=HERE,
    header="lenetc_arch_riscv_v.h",
    align=16,
    macros=frozenset({"__riscv_vector"}),
    preference=10,
)

FAMILY = Family(DIALECT)
