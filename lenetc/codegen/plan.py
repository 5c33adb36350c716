"""Planning: a model (float :class:`Network` or int8 :class:`QuantizedNetwork`) lowered to
kernel ops, constants and one statically planned arena.

Each layer kind lowers itself (``lenetc/kinds``, ``Kind.lower[numeric type]``) into the ops of
:mod:`lenetc.ir`. Tensors live in the caller's input, the caller's output, or the arena; an
in-place op writes into its input's storage. Arena offsets come from the tensors' live ranges:
two tensors share bytes only when they are never alive together.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from ..errors import LenetcError
from ..families import PORTABLE, VARIANTS, get_dialect
from ..ir import Const, Lowering, Op, Tensor
from ..kinds import KINDS, Node, merge_activations
from ..kinds.shared_ops import emit_copy
from ..limits import check_c_size
from ..names import shown
from ..network import Network
from ..numeric import FLOAT32, INT8, NumericType
from ..quant.qnetwork import QuantizedNetwork
from ..variants import Dialect
from .streaming import MODES, Stage, stage_mode

#: A C identifier, matched whole (``re.fullmatch``: ``$`` would also accept a trailing newline).
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Longest prefix: it names files (``<prefix>.h``) and starts every symbol.
MAX_PREFIX_LENGTH = 64


@dataclass
class Plan:
    """Everything the templates need: ops in order, constants, tensors and the arena size.

    ``numeric`` is the arithmetic of the C; ``qnet`` the quantized network of an int8 plan
    (its scales and zero points), None for float32; ``dialect`` the CPU family the C is for
    (its alignment, its primitives header).
    """

    net: Network
    prefix: str
    numeric: NumericType
    ops: list[Op]
    tensors: list[Tensor]
    consts: list[Const]
    arena_bytes: int
    arena_lower_bound: int
    qnet: QuantizedNetwork | None = None
    dialect: Dialect = PORTABLE
    stages: list[Stage] = dataclasses.field(default_factory=list)  # one per op, with its mode

    @property
    def dtype(self) -> str:
        return self.numeric.name

    @property
    def input_size(self) -> int:
        return math.prod(self.net.input_shape)

    @property
    def output_size(self) -> int:
        return math.prod(self.net.output_shape)

    @property
    def out_ctype(self) -> str:
        """C type of the output: float, int8_t, or int32_t (int8 RBF distances)."""
        if self.qnet is not None and self.qnet.output_dtype == "int32":
            return "int32_t"
        return self.numeric.ctype

    @property
    def acc_bound(self) -> int:
        """The largest |int32 accumulator| any layer can reach on any int8 input (0 for float)."""
        return max((q.acc_bound for q in self.qnet.layers), default=0) if self.qnet is not None else 0

    def weight_bytes(self) -> int:
        return sum(c.values.nbytes for c in self.consts)


def _nodes(model: Network | QuantizedNetwork) -> list[Node]:
    """The layers to lower, each with its shapes (and integer form for int8)."""
    if isinstance(model, QuantizedNetwork):
        qs = model.layers
        return [Node(q.layer, q.in_shape, q.out_shape, q, qs[i + 1].kind if i + 1 < len(qs) else None)
                for i, q in enumerate(qs)]  # fmt: skip
    layers = merge_activations(list(model.layers))
    shapes = [tuple(model.input_shape)]
    for layer in layers:
        shapes.append(tuple(layer.output_shape(shapes[-1])))
    return [Node(layer, shapes[i], shapes[i + 1], None, layers[i + 1].kind if i + 1 < len(layers) else None)
            for i, layer in enumerate(layers)]  # fmt: skip


def _fuse(lw: Lowering, nodes: list[Node], unfused: set[str]) -> list[Node]:
    """Give each layer whose kind computes the pooling or subsampling after it from bands of
    its rows (``Kind.fuses_epilogue``: a convolution) that layer as its epilogue (the pooling
    node then disappears); layers named in ``unfused`` stay whole-map."""
    out: list[Node] = []
    i = 0
    while i < len(nodes):
        node = nodes[i]
        nxt = nodes[i + 1] if i + 1 < len(nodes) else None
        fuses = KINDS[node.layer.kind].fuses_epilogue
        conv = fuses is not None and fuses(node)
        make = KINDS[nxt.layer.kind].epilogue if nxt is not None else None
        ctx = make(lw, nxt) if conv and make is not None and node.layer.name not in unfused else None
        if ctx is None:
            out.append(node)
            i += 1
            continue
        out.append(dataclasses.replace(node, epilogue=nxt, epilogue_ctx=ctx, next_kind=nxt.next_kind))
        i += 2
    return out


def _lower(lw: Lowering, nodes: list[Node], input_shape, fuse: bool, unfused: set[str]) -> None:
    src = lw.tensor(tuple(input_shape))
    lw.tensors[src].storage = "input"
    for node in _fuse(lw, nodes, unfused) if fuse else nodes:
        if lw.pending_perm is not None and node.layer.kind != "dense":
            raise AssertionError("unreachable: HWC flatten is folded only into a following dense layer")
        lower = KINDS[node.layer.kind].lower.get(lw.numeric.name)
        if lower is None:
            raise LenetcError(
                f"{lw.numeric.name}: layer '{node.layer.name}' of kind '{node.layer.kind}' has no C kernel"
            )
        src = lower(lw, node, src)
    lw.final = src


def _assign_storage(lw: Lowering) -> None:
    """Group in-place chains into buffers; the last one becomes the caller's output."""
    # An in-place op must not write into the caller's (const) input: give it its own tensor.
    for k, op in enumerate(lw.ops):
        if op.inplace and lw.tensors[op.src].storage == "input":
            old = op.src
            op.inplace, op.dst = False, lw.tensor(lw.tensors[op.src].shape)
            for later in lw.ops[k + 1 :]:  # later ops read (or update in place) the new copy
                later.src = op.dst if later.src == old else later.src
                later.dst = op.dst if later.dst == old else later.dst
            lw.final = op.dst if lw.final == old else lw.final
    if lw.tensors[lw.final].storage == "input" or not lw.ops:
        t = lw.tensors[lw.final]
        lw.final = emit_copy(lw, lw.final, t.shape, t.size)
    for t in lw.tensors:
        t.buffer = t.id
    for op in lw.ops:
        if op.inplace:
            lw.tensors[op.dst].buffer = lw.tensors[op.src].buffer
    final_buffer = lw.tensors[lw.final].buffer
    for t in lw.tensors:
        if t.buffer == final_buffer:
            t.storage = "output"


def _place_arena(lw: Lowering, elem_bytes: int, align: int) -> tuple[int, int]:
    """Give every arena buffer (tensors and kernel scratch) an offset that is a multiple of
    ``align``; returns (arena bytes, lower bound from liveness)."""
    live: dict[int, list[int]] = {}
    size: dict[int, int] = {}
    for k, op in enumerate(lw.ops):
        for tid in (op.src, op.dst, op.scratch):
            if tid < 0:
                continue
            t = lw.tensors[tid]
            if t.storage != "arena":
                continue
            span = live.setdefault(t.buffer, [k, k])
            span[0], span[1] = min(span[0], k), max(span[1], k)
            size[t.buffer] = max(size.get(t.buffer, 0), -(-t.nbytes(elem_bytes) // align) * align)
    # Lower bound: the most bytes alive during any one op.
    bound = max((sum(size[b] for b, (a, z) in live.items() if a <= k <= z) for k in range(len(lw.ops))), default=0)
    placed: list[tuple[int, int, int, int]] = []  # (offset, end, first op, last op)
    offsets: dict[int, int] = {}
    for b in sorted(live, key=lambda b: (-size[b], live[b][0])):
        a, z = live[b]
        clashes = sorted((o, e) for o, e, a2, z2 in placed if a2 <= z and a <= z2)
        offset = 0
        for o, e in clashes:
            if offset + size[b] <= o:
                break
            offset = max(offset, e)
        offsets[b] = offset
        placed.append((offset, offset + size[b], a, z))
    for t in lw.tensors:
        if t.storage == "arena":
            t.offset = offsets.get(t.buffer, 0)
    return max((e for _, e, _, _ in placed), default=0), bound


def c_prefix(name: str, prefix: str | None = None) -> str:
    """The C symbol prefix: ``prefix``, or the model name with other characters turned into '_'
    (and ``m_`` before a leading digit: ``28x28_lenet`` gives ``m_28x28_lenet``)."""
    if prefix is None:
        prefix = re.sub(r"[^A-Za-z0-9_]", "_", name) or "model"
        prefix = f"m_{prefix}" if prefix[0].isdigit() else prefix
    if not isinstance(prefix, str) or not _IDENT.fullmatch(prefix):
        raise LenetcError(
            f"prefix {shown(prefix)} is not a C identifier (letters, digits, '_', not starting with a digit)"
        )
    if len(prefix) > MAX_PREFIX_LENGTH:
        raise LenetcError(f"prefix {shown(prefix)} is {len(prefix)} characters long (at most {MAX_PREFIX_LENGTH})")
    return prefix


def _stages(lw: Lowering, elem_bytes: int, out_elem_bytes: int) -> list[Stage]:
    def nbytes(tid: int) -> int:
        if tid < 0:
            return 0
        t = lw.tensors[tid]
        # the caller's output has the output's C type (int8 RBF distances are int32_t)
        return t.nbytes(out_elem_bytes if t.storage == "output" else elem_bytes)

    return [Stage(op.layer, stage_mode(op), nbytes(op.src), nbytes(op.dst), nbytes(op.scratch)) for op in lw.ops]


def _check_c_limits(lw: Lowering, arena: int, elem_bytes: int) -> None:
    """Refuse what the C types cannot hold: the arena (``uint32_t <P>_workspace_size()``, int
    offsets), every tensor's elements and bytes (int loop bounds and indices), every constant array."""
    check_c_size(arena, "the arena (bytes)", "uint32_t workspace size and int offsets")
    for t in lw.tensors:
        check_c_size(t.nbytes(elem_bytes), f"tensor {t.id} {list(t.shape)} (bytes)")
    for c in lw.consts:
        check_c_size(int(c.values.size), f"constant array {c.name} (elements)")


def make_plan(
    model: Network | QuantizedNetwork,
    prefix: str | None = None,
    dialect: str | Dialect = PORTABLE,
    fuse: bool = True,
    modes: dict[str, str] | None = None,
) -> Plan:
    """Lower ``model`` to kernel ops and plan its arena. ``prefix`` names every C symbol;
    ``dialect`` is the CPU family the C is for (:mod:`lenetc.families`, default portable);
    ``fuse`` lets a convolution compute the pooling after it in its own kernel (the same bits,
    without storing the convolution's whole output map). ``modes`` picks, per convolution name,
    how its stage runs (:mod:`lenetc.codegen.streaming`: ``fused``, ``window``, ``window-narrow``, ``whole``;
    unnamed stages are ``fused``).

    A :class:`Network` gives float32 C; a :class:`QuantizedNetwork` (from :func:`lenetc.quantize`)
    integer-only int8 C with its scales and zero points.
    """
    dialect = get_dialect(dialect)
    qnet = model if isinstance(model, QuantizedNetwork) else None
    net = qnet.net if qnet is not None else model
    if not isinstance(net, Network):
        raise LenetcError(f"make_plan needs a Network or a QuantizedNetwork, got {type(model).__name__}")
    prefix = c_prefix(net.name, prefix)
    net.validate()
    numeric = INT8 if qnet is not None else FLOAT32
    modes = dict(modes or {})
    names = [layer.name for layer in net.layers]
    for name, mode in modes.items():
        if name not in names:
            raise LenetcError(f"stage {shown(name)}: model '{net.name}' has no layer of that name ({', '.join(names)})")
        if mode not in MODES:
            raise LenetcError(f"stage '{name}': unknown mode '{mode}' (one of {', '.join(MODES)})")
    lw = Lowering(prefix, numeric, net.params, dialect.caps, VARIANTS, modes)
    _lower(lw, _nodes(model), net.input_shape, fuse, {n for n, m in modes.items() if m == "whole"})
    _assign_storage(lw)
    arena, bound = _place_arena(lw, numeric.elem_bytes, dialect.align)
    _check_c_limits(lw, arena, numeric.elem_bytes)
    out_elem_bytes = 4 if qnet is not None and qnet.output_dtype == "int32" else numeric.elem_bytes
    stages = _stages(lw, numeric.elem_bytes, out_elem_bytes)
    return Plan(net, prefix, numeric, lw.ops, lw.tensors, lw.consts, arena, bound, qnet, dialect, stages)
