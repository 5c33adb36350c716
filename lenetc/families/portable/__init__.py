"""Plain C99: runs anywhere, vectorised only where the compiler manages it.

Its headers are the primitive contract's reference: every ``lenetc_*`` routine a kernel
template may call is implemented here, behind ``#if !defined(LENETC_HAVE_<NAME>)``, and is
what every other family falls back to. Its kernels are the layer kinds' own
(``templates/kernels/<kind>/``); it adds none.
"""

from __future__ import annotations

from pathlib import Path

from ...variants import Capabilities, Dialect, Family

HERE = Path(__file__).parent

DIALECT = Dialect(
    name="portable",
    description="portable C99 (any compiler)",
    caps=Capabilities(),
    folder=HERE,
    header="lenetc_arch_portable.h",
    float_header="lenetc_arch_portable_f32.h",
    align=4,
)

FAMILY = Family(DIALECT)
