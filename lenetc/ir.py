"""The code generator's intermediate form: kernel ops, constant arrays and tensors.

Layer kinds lower themselves into this form through a :class:`Lowering` (see
``lenetc/kinds``); the planner (``codegen/plan.py``) then places tensors in the arena and the
renderer turns each :class:`Op` into a C function from its template. Each op reads one
tensor and writes one; an in-place op writes into its input's storage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .names import unique_identifier
from .numeric import NumericType
from .variants import Capabilities, Variant, best

#: Sizes of the C scalar types kernels use for scratch.
SCALAR_BYTES = {"unsigned char": 1, "int8_t": 1, "int16_t": 2, "int32_t": 4, "float": 4}


@dataclass
class Const:
    """A ``static const`` array of the generated C."""

    name: str
    ctype: str
    values: np.ndarray
    comment: str = ""


@dataclass
class Tensor:
    id: int
    size: int  # elements
    shape: tuple[int, ...]
    storage: str = "arena"  # input | output | arena
    buffer: int = -1  # tensors written in place share a buffer id
    offset: int = 0  # bytes into the arena
    elem_bytes: int = 0  # 0: the plan's element size; kernel scratch says its own
    ctype: str = ""  # "": the plan's element type

    def nbytes(self, default_elem_bytes: int) -> int:
        return self.size * (self.elem_bytes or default_elem_bytes)


@dataclass
class Op:
    """One kernel call: ``template`` (a Jinja2 loader path) renders a function
    ``<prefix>_<fn>(in, out)``, or ``(in, out, scratch)`` when the kernel needs working memory
    (``scratch`` is then the id of an arena tensor alive during this op only). ``variant`` names
    the kernel (``conv2d/int8_dsp2``) and ``mode`` the execution mode it runs in."""

    template: str
    fn: str
    layer: str
    src: int
    dst: int
    ctx: dict[str, Any] = field(default_factory=dict)
    inplace: bool = False
    doc: str = ""
    scratch: int = -1
    variant: str = ""
    mode: str = "whole"
    #: Every execution mode the op's kernel supports (what a RAM budget may switch it to).
    modes: tuple[str, ...] = ("whole",)


def kernel_template(name: str) -> str:
    """The loader path of the kind-owned kernel template ``<kind>/<name>``."""
    return f"kernels/{name}.c.j2"


#: What the generated files define after ``<prefix>_`` besides the per-layer kernels and their
#: constants (the C API, the preprocessing table, the profiling hook, and the upper-case macros,
#: which a prefix without lower-case letters would spell the same): a layer named like one
#: of them gets a ``_2`` suffix in C (tests/test_hardening_messages.py checks the templates).
RESERVED_C_NAMES = frozenset(
    {
        "run", "run_ws", "run_batch", "run_tiled", "predict", "preprocess", "workspace_size", "tiled_workspace_size",
        "quantize_input", "out_t",
        "pixel", "pixel_table", "probe_ticks", "PROBE", "PROBE_COUNTER", "H", "OK", "ERR_NULL", "ERR_INPUT",
        "ERR_ALIGN", "ERR_COUNT", "INPUT_SIZE", "INPUT_C", "INPUT_H", "INPUT_W", "OUTPUT_SIZE",
        "WORKSPACE_ALIGN", "ARENA_BYTES", "WEIGHT_BYTES", "INTEGER_ONLY", "INPUT_SCALE", "INPUT_ZERO_POINT",
        "OUTPUT_SCALE", "OUTPUT_ZERO_POINT", "OUTPUT_IS_DISTANCE", "FRAME_H", "FRAME_W", "FRAME_PAD",
        "PREPROCESS_SCALE", "PREPROCESS_OFFSET", "ARENA_ATTR", "WEIGHTS_ATTR", "PROBE_MINSTRET",
    }
)  # fmt: skip


class Lowering:
    """Collects the ops, tensors and constants of one model while its layers lower themselves.

    ``numeric`` is the arithmetic of the C being generated; ``caps`` the capabilities of the
    CPU family it is for and ``variants`` the kernel registry (:mod:`lenetc.variants`): kinds
    ask :meth:`choose` for their kernel, never a family's name. ``modes`` picks the execution
    mode of named stages. ``pending_perm`` carries an H,W,C flatten that the next dense layer
    folds into its weights (set by flatten, taken by dense).
    """

    def __init__(
        self,
        prefix: str,
        numeric: NumericType,
        params: dict[str, np.ndarray],
        caps: Capabilities | None = None,
        variants: tuple[Variant, ...] = (),
        modes: dict[str, str] | None = None,
    ):
        self.prefix, self.numeric, self.params = prefix, numeric, params
        self.caps, self.variants, self.modes = caps or Capabilities(), variants, dict(modes or {})
        self.ops: list[Op] = []
        self.tensors: list[Tensor] = []
        self.consts: list[Const] = []
        self.used_fns: set[str] = set(RESERVED_C_NAMES)
        self.pending_perm: np.ndarray | None = None
        self.final = -1

    def tensor(self, shape: tuple[int, ...]) -> int:
        self.tensors.append(Tensor(len(self.tensors), math.prod(shape), tuple(shape)))
        return len(self.tensors) - 1

    def const(self, fn: str, suffix: str, values: np.ndarray, ctype: str | None = None, comment: str = "") -> str:
        """Add the constant ``<prefix>_<fn>_<suffix>`` (C type ``ctype``, default the numeric type's),
        renamed ``..._2``, ``..._3`` if that is another layer's function or constant."""
        name = f"{self.prefix}_{unique_identifier(f'{fn}_{suffix}', self.used_fns)}"
        ctype = ctype or self.numeric.ctype
        self.consts.append(Const(name, ctype, np.ascontiguousarray(values).reshape(-1), comment))
        return name

    def fn_name(self, layer: str, what: str = "") -> str:
        """Reserve a unique C function name for ``layer`` (its constants are named after it)."""
        return unique_identifier(f"{layer}{'_' + what if what else ''}", self.used_fns)

    def choose(self, kind: str, call: Any) -> Variant:
        """The best kernel variant of ``kind`` in this number type for ``call`` on this target."""
        return best(self.variants, kind, self.numeric.name, call, self.caps)

    def emit_variant(
        self, variant: Variant, call: Any, layer: str, src: int, out_shape, ctx: dict, *, fused: bool, doc: str, fn: str
    ) -> int:
        """Append the op of ``variant`` in the mode the plan asks for ``layer`` (``fused``: the
        kernel computes the pooling after it): its template and its scratch in that mode."""
        mode = variant.resolve_mode(call, self.modes.get(layer), fused)
        doc = f"{doc} (window order)" if mode.startswith("window") else doc
        dst = self.emit(variant.template_for(mode), layer, src, out_shape, ctx, doc=doc, fn=fn,
                        scratch=variant.scratch(call, mode))  # fmt: skip
        op = self.ops[-1]
        op.variant, op.mode = variant.name, mode
        op.modes = variant.modes(call) if fused else ("whole",)
        return dst

    def emit(
        self, template: str, layer: str, src: int, out_shape, ctx=None, *, inplace=False, doc="", fn="", scratch=None
    ) -> int:
        """Append an op reading tensor ``src``; returns the tensor it writes. ``template`` is a
        loader path, or ``<kind>/<name>`` for a kind's own template in ``templates/kernels/``.
        ``fn`` is a function name reserved earlier with :meth:`fn_name` (its constants already
        use it). ``scratch`` is ``(ctype, elements)`` of working memory the kernel needs,
        planned in the arena."""
        dst = src if inplace else self.tensor(tuple(out_shape))
        if inplace:
            self.tensors[dst].shape = tuple(out_shape)
        path = template if template.endswith(".j2") else kernel_template(template)
        op = Op(path, fn or self.fn_name(layer), layer, src, dst, ctx or {}, inplace, doc, variant=template)
        if scratch is not None:
            ctype, count = scratch
            op.scratch = self.tensor((count,))
            self.tensors[op.scratch].elem_bytes = SCALAR_BYTES[ctype]
            self.tensors[op.scratch].ctype = ctype
        self.ops.append(op)
        return dst
