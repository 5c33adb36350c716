"""The CPU families: one folder each (its dialect, its kernel variants and their templates,
its primitives header), registered by one line in :data:`_PACKAGES`.

This module is the registry the planner and the commands read: :data:`DIALECTS` by name,
:data:`VARIANTS` (the layer kinds' portable kernels, then every family's), host detection
(:func:`host_dialect`). See docs/architecture.md, "How to add a CPU family".
"""

from __future__ import annotations

import importlib
import re
import subprocess
from functools import cache

from ..errors import LenetcError
from ..kinds import KINDS
from ..variants import Dialect, Family, Variant

#: One line per CPU family: its folder (a subpackage defining ``FAMILY``).
_PACKAGES = (
    "portable",
    "x86",
    "neon",
    "cortex_m_dsp",
    "cortex_m_mve",
    "riscv_v",
    "scalar_mcu",
)

FAMILIES: tuple[Family, ...] = tuple(importlib.import_module(f"{__name__}.{p}").FAMILY for p in _PACKAGES)
DIALECTS: dict[str, Dialect] = {f.dialect.name: f.dialect for f in FAMILIES}
PORTABLE = DIALECTS["portable"]
#: Every kernel variant: each kind's portable ones, then the families'.
VARIANTS: tuple[Variant, ...] = (
    *(v for k in KINDS.values() for v in k.variants),
    *(v for f in FAMILIES for v in f.variants),
)


def get_dialect(name: str | Dialect) -> Dialect:
    """The dialect called ``name``."""
    if isinstance(name, Dialect):
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


def dialect_from_macros(macros: frozenset[str]) -> Dialect:
    """The best dialect a compiler with these predefined macros can build: of the dialects
    whose ``macros`` it all predefines, the one of highest preference (else portable)."""
    fits = [d for d in DIALECTS.values() if d.macros and d.macros <= macros]
    return max(fits, key=lambda d: d.preference, default=PORTABLE)


@cache
def host_dialect(cc: tuple[str, ...], flags: tuple[str, ...]) -> Dialect:
    """The dialect of the host build: detected from what ``cc`` predefines under ``flags``."""
    return dialect_from_macros(predefined_macros(cc, flags))
