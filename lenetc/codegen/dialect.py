"""Target dialects: what the generated C of one CPU family may use, as one object per family.

A :class:`Dialect` owns the policies every kernel inherits -- buffer alignment and the float
policy -- and names the C header (``csrc/lenetc_arch_<family>.h``) that implements the same
few inline primitives for its family. Every header keeps a portable fallback under its
feature tests (``#if defined(__AVX2__)`` ...), so a file generated for one family still
compiles, slower, with any C99 compiler, and every path gives the same answer: the tests
build each path on one host by turning features off. Families subclass :class:`Portable` and
differ only where they must (in the manner of a C renderer whose back ends subclass one
dialect object).

Float policy (all dialects): every multiply-accumulate in a float kernel is an explicit
``fmaf`` in a fixed order (bias, then input channel, kernel row, kernel column), and nothing
else is fused (``-ffp-contract=off`` keeps compilers from contracting the rest). ``fmaf``
rounds once, exactly, on every conforming C library and FMA unit, so float32 outputs keep the
same bits on every target; see docs/architecture.md for the trade-off.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from functools import cache

from ..errors import LenetcError


@dataclass(frozen=True)
class Portable:
    """Plain C99: runs anywhere, vectorised only where the compiler manages it."""

    name: str = "portable"
    description: str = "portable C99 (any compiler)"
    #: Arena offsets are multiples of this; ``<P>_WORKSPACE_ALIGN`` is the same number.
    align: int = 4
    header: str = "lenetc_arch_portable.h"
    #: Images per tile of ``<P>_run_tiled`` (0: no tiled batch entry; microcontrollers run one
    #: image at a time and keep the flash).
    batch_tile: int = 0

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class X86(Portable):
    """x86-64 with AVX2 and FMA; AVX-512 (F/BW) and VNNI paths where the compiler enables them."""

    name: str = "x86"
    description: str = "x86-64 AVX2+FMA (AVX-512, VNNI where present)"
    align: int = 64  # one cache line: an AVX-512 load never splits two
    header: str = "lenetc_arch_x86.h"
    batch_tile: int = 8


@dataclass(frozen=True)
class Neon(Portable):
    """Armv8-A Advanced SIMD (Arm64), with the dot-product extension where present."""

    name: str = "neon"
    description: str = "Arm NEON (Arm64; sdot where present)"
    align: int = 16
    header: str = "lenetc_arch_neon.h"
    batch_tile: int = 8


@dataclass(frozen=True)
class CortexMDsp(Portable):
    """Armv7E-M / Armv8-M Mainline with the DSP extension (Cortex-M4, M7, M33): SMLAD, SXTB16."""

    name: str = "cortex-m-dsp"
    description: str = "Cortex-M DSP extension (M4, M7, M33)"
    align: int = 4
    header: str = "lenetc_arch_cortexm_dsp.h"


@dataclass(frozen=True)
class CortexMMve(Portable):
    """Armv8.1-M Helium / MVE (Cortex-M55, M85): 128-bit vectors, tail predication."""

    name: str = "cortex-m-mve"
    description: str = "Cortex-M Helium/MVE (M55, M85)"
    align: int = 16
    header: str = "lenetc_arch_cortexm_mve.h"


@dataclass(frozen=True)
class RiscvV(Portable):
    """RISC-V with the vector extension (RVV 1.0; Zve32x for int8, Zve32f for float32):
    vector-length agnostic kernels (``vsetvl`` strip-mining), correct at any VLEN."""

    name: str = "riscv-v"
    description: str = "RISC-V vector RVV 1.0 (Zve32x/Zve32f, any VLEN)"
    align: int = 16
    header: str = "lenetc_arch_riscv_v.h"


DIALECTS: dict[str, Portable] = {d.name: d for d in (Portable(), X86(), Neon(), CortexMDsp(), CortexMMve(), RiscvV())}
PORTABLE = DIALECTS["portable"]


def get_dialect(name: str | Portable) -> Portable:
    """The dialect called ``name``."""
    if isinstance(name, Portable):
        return name
    try:
        return DIALECTS[name]
    except KeyError:
        raise LenetcError(f"unknown dialect '{name}' (known: {', '.join(DIALECTS)})") from None


_MACRO = re.compile(r"^#define (\w+)", re.M)


def predefined_macros(cc: tuple[str, ...], flags: tuple[str, ...]) -> frozenset[str]:
    """The macros ``cc`` predefines under ``flags`` (``cc -dM -E`` on an empty file)."""
    try:
        proc = subprocess.run(
            [*cc, *flags, "-dM", "-E", "-x", "c", "-"], input="", capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    return frozenset(_MACRO.findall(proc.stdout)) if proc.returncode == 0 else frozenset()


def dialect_from_macros(macros: frozenset[str]) -> Portable:
    """The best dialect a compiler with these predefined macros can build."""
    if {"__AVX2__", "__FMA__"} <= macros:
        return DIALECTS["x86"]
    if "__aarch64__" in macros and "__ARM_NEON" in macros:
        return DIALECTS["neon"]
    if "__ARM_FEATURE_MVE" in macros:
        return DIALECTS["cortex-m-mve"]
    if "__ARM_FEATURE_DSP" in macros:
        return DIALECTS["cortex-m-dsp"]
    if "__riscv_vector" in macros:
        return DIALECTS["riscv-v"]
    return PORTABLE


@cache
def host_dialect(cc: tuple[str, ...], flags: tuple[str, ...]) -> Portable:
    """The dialect of the host build: detected from what ``cc`` predefines under ``flags``."""
    return dialect_from_macros(predefined_macros(cc, flags))
