"""What a CPU family can do, and the kernels that use it: :class:`Capabilities`,
:class:`Dialect` and :class:`Variant`, the three types the layer kinds, the CPU families
(``lenetc/families``) and the planner share.

A layer kind lowers a layer by describing the call (its geometry, weights and quantization:
a *call* object of the kind's own type) and asking the plan's registry for the best
:class:`Variant` of its kind and number type that applies to that call on the target's
capabilities. The variant packs the weights, names its template and states the scratch it
needs in each execution mode, so the kernel that runs and the memory planned for it come
from one object (as CMSIS-NN's kernel-choosing wrapper and its ``*_get_buffer_size`` use the
same predicates). Nothing here names a CPU family: code asks for a capability, never a name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import LenetcError

#: Execution modes of a stage (a convolution with the pooling after it; see
#: ``codegen/streaming.py``): ``whole`` (no pooling in the kernel), ``fused`` (a band of rows),
#: ``window`` / ``window-narrow`` (one pooling window at a time; narrow keeps one im2col row).
MODES = ("fused", "window", "window-narrow", "whole")


@dataclass(frozen=True)
class Capabilities:
    """What a dialect's kernels may assume of the CPU (the baseline every CPU of the family has;
    optional extensions are used by the family header under feature tests, never assumed).

    ``dot_s16s8``: the family header vectorises ``lenetc_dot_s16s8`` (int16 x int8 dot products);
    ``smlad``: dual 16x16-bit multiply-accumulate on 32-bit words with SXTB16 unpacking (Arm
    DSP extension), the instructions the packed ``lenetc_dot*_s16s8p`` routines are built on;
    ``madd_s16_lanes``: int32 lanes of a pairwise 16x16-bit multiply-add (``lenetc_i32x8_madd``
    native, e.g. ``vpmaddwd``), 0 without;
    ``dot_s8x4``: 4 x 8-bit dot products into each int32 lane (``vpdpbusd``, ``sdot``);
    ``f32_lanes``: float32 lanes of one vector fused multiply-add (0: scalar ``fmaf``);
    ``tail_predication``: vector loops need no scalar tail (Helium);
    ``vla``: vector-length agnostic code (RISC-V V, SVE): the lane count is a run-time value;
    ``vector_isa``: the vector instruction set whose intrinsics a family's own templates may
    use directly (``"mve"``, ``"rvv"``; "" none): a variant written in them requires it;
    ``simd_blocks``: the family header implements the block primitives (``lenetc_f32x8/16``,
    ``lenetc_i32x8/16``, and ``_dot4`` where the CPU has 4 x 8-bit dot products) natively, so
    kernels that keep output channels in those lanes pay off (x86, NEON);
    ``masked_f32``: a per-lane masked fused multiply-add costs no more than a plain one
    (AVX-512 mask registers): blocked float kernels then also serve sparse connection tables
    and few output channels;
    ``scalar_blocks``: no SIMD at all, so kernels are worth blocking outputs in general-purpose
    registers (what a compiler's vectoriser would otherwise do).
    """

    dot_s16s8: bool = False
    smlad: bool = False
    madd_s16_lanes: int = 0
    dot_s8x4: bool = False
    f32_lanes: int = 0
    tail_predication: bool = False
    vla: bool = False
    vector_isa: str = ""
    simd_blocks: bool = False
    masked_f32: bool = False
    scalar_blocks: bool = False


@dataclass(frozen=True)
class Dialect:
    """The C one CPU family's generated file may use: its capabilities, its buffer alignment
    (every arena offset is a multiple of ``align``, ``<P>_WORKSPACE_ALIGN`` is the same number)
    and its primitives header (``header``, and ``float_header`` for float models) in ``folder``,
    pasted before the portable fallbacks. ``macros``: what a compiler predefines when it can
    build this family's fast paths (host detection picks the matching dialect of highest
    ``preference``; an empty set never matches: portable is the fallback)."""

    name: str
    description: str
    caps: Capabilities
    folder: Path
    header: str
    float_header: str | None = None
    align: int = 4
    macros: frozenset[str] = frozenset()
    preference: int = 0
    #: Images per tile of ``<P>_run_tiled`` (0: no tiled batch entry; microcontrollers run one
    #: image at a time and keep the flash).
    batch_tile: int = 0

    def __str__(self) -> str:
        return self.name

    def headers(self, is_float: bool) -> list[Path]:
        """The family's header files for a float or an integer-only model, in paste order."""
        names = [self.header, self.float_header] if is_float and self.float_header else [self.header]
        return [self.folder / n for n in names]


Scratch = tuple[str, int]  # (C scalar type, elements)


def _always(call: Any, caps: Capabilities) -> bool:
    return True


def _no_pack(lw: Any, call: Any) -> dict:
    return {}


def _no_scratch(call: Any, mode: str) -> Scratch | None:
    return None


def _whole_or_fused(call: Any) -> tuple[str, ...]:
    return ("whole", "fused")


def _no_note(call: Any) -> str:
    return ""


@dataclass(frozen=True)
class Variant:
    """One kernel of one layer kind for one number type.

    ``name`` is what the plan shows (``op.variant``) and the tests check, e.g.
    ``conv2d/int8_dsp2``; ``template`` the Jinja2 loader path of its template, and
    ``mode_templates`` the templates of the modes that use another one (a window-order loop).
    ``applies(call, caps)`` says when it computes the call exactly and is worth using;
    ``pack(lw, call)`` adds its constants (packed weights ...) and returns their template
    context; ``scratch(call, mode)`` is the working memory it needs in ``mode`` (None: none);
    ``modes(call)`` the execution modes it supports for the call; ``note(call)`` what it adds
    to the op's one-line description in the C (``, blocked 16 channels x 8 pixels``). Among the applicable
    variants the one of highest ``rank`` wins (ties: the first registered).
    """

    name: str
    kind: str
    numeric: str
    template: str
    applies: Callable[[Any, Capabilities], bool] = _always
    pack: Callable[[Any, Any], dict] = _no_pack
    scratch: Callable[[Any, str], Scratch | None] = _no_scratch
    modes: Callable[[Any], tuple[str, ...]] = _whole_or_fused
    mode_templates: dict[str, str] = field(default_factory=dict)
    note: Callable[[Any], str] = _no_note
    rank: int = 0

    def template_for(self, mode: str) -> str:
        """The template that runs the kernel in ``mode``."""
        return self.mode_templates.get(mode, self.template)

    def resolve_mode(self, call: Any, wanted: str | None, fused: bool) -> str:
        """The mode the kernel runs in when ``wanted`` is asked for (None: the fastest): a
        stage without a pooling in its kernel is ``whole``; a window mode the kernel lacks
        falls back to its other window mode, then to ``fused`` (the band it always has)."""
        if not fused:
            return "whole"
        have = self.modes(call)
        if wanted in ("window", "window-narrow"):
            other = "window-narrow" if wanted == "window" else "window"
            for mode in (wanted, other):
                if mode in have:
                    return mode
        return "fused"


@dataclass(frozen=True)
class Family:
    """One CPU family as the registry (``lenetc/families/__init__.py``) lists it: its dialect
    and the kernel variants it adds to the kinds' portable ones."""

    dialect: Dialect
    variants: tuple[Variant, ...] = ()


def best(variants: Iterable[Variant], kind: str, numeric: str, call: Any, caps: Capabilities) -> Variant:
    """The applicable variant of ``kind`` and ``numeric`` of highest rank."""
    found: Variant | None = None
    for v in variants:
        if v.kind == kind and v.numeric == numeric and (found is None or v.rank > found.rank) and v.applies(call, caps):
            found = v
    if found is None:
        raise LenetcError(f"{numeric}: no kernel of kind '{kind}' applies to this layer")
    return found
