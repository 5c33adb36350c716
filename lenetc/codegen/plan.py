"""Lowering: layers -> kernel ops, constant arrays and one statically planned arena.

Each op reads one tensor and writes one tensor. Tensors live in the caller's input, the
caller's output, or the arena; an in-place op writes into its input's storage. Arena
offsets come from the tensors' live ranges: two tensors share bytes only when they are
never alive together.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import LenetcError
from ..layers import RBF, Activation, Affine, Conv2D, Dense, Flatten, Layer, Pool2D, Softmax, Subsampling
from ..names import unique_identifier
from ..network import Network

#: Arena offsets and sizes are multiples of this many bytes (one cache line, any SIMD width).
ARENA_ALIGN = 64
#: Dense layers with at least this many outputs vectorise across outputs (weights stored in-major).
DENSE_ACROSS_OUTPUTS = 16
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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


@dataclass
class Op:
    """One kernel call: ``template`` renders a function ``<prefix>_<fn>(in, out)``."""

    template: str
    fn: str
    layer: str
    src: int
    dst: int
    ctx: dict[str, Any] = field(default_factory=dict)
    inplace: bool = False
    doc: str = ""


@dataclass
class Plan:
    """Everything the templates need: ops in order, constants, tensors and the arena size."""

    net: Network
    prefix: str
    dtype: str
    ops: list[Op]
    tensors: list[Tensor]
    consts: list[Const]
    arena_bytes: int
    arena_lower_bound: int

    @property
    def input_size(self) -> int:
        return math.prod(self.net.input_shape)

    @property
    def output_size(self) -> int:
        return math.prod(self.net.output_shape)

    def weight_bytes(self) -> int:
        return sum(c.values.nbytes for c in self.consts)


class _Lowering:
    def __init__(self, net: Network, prefix: str):
        self.net, self.prefix = net, prefix
        self.ops: list[Op] = []
        self.tensors: list[Tensor] = []
        self.consts: list[Const] = []
        self.used_fns: set[str] = set()

    def tensor(self, shape: tuple[int, ...]) -> int:
        self.tensors.append(Tensor(len(self.tensors), math.prod(shape), tuple(shape)))
        return len(self.tensors) - 1

    def const(self, fn: str, suffix: str, values: np.ndarray, ctype: str = "float", comment: str = "") -> str:
        name = f"{self.prefix}_{fn}_{suffix}"
        self.consts.append(Const(name, ctype, np.ascontiguousarray(values).reshape(-1), comment))
        return name

    def fn_name(self, layer: str, what: str = "") -> str:
        return unique_identifier(f"{layer}{'_' + what if what else ''}", self.used_fns)

    def emit(self, template: str, layer: str, src: int, out_shape, ctx=None, *, inplace=False, doc="", fn="") -> int:
        """Append an op reading tensor ``src``; returns the tensor it writes. ``fn`` is a
        function name reserved earlier with :meth:`fn_name` (its constants already use it)."""
        dst = src if inplace else self.tensor(tuple(out_shape))
        if inplace:
            self.tensors[dst].shape = tuple(out_shape)
        self.ops.append(Op(template, fn or self.fn_name(layer), layer, src, dst, ctx or {}, inplace, doc))
        return dst


def _p(net: Network, layer: Layer, suffix: str) -> np.ndarray:
    return np.asarray(net.params[f"{layer.name}.{suffix}"], dtype=np.float32)


def _lower_dense(lw: _Lowering, name: str, weight: np.ndarray, bias: np.ndarray, act, src: int, doc: str) -> int:
    units, n_in = weight.shape
    fn = lw.fn_name(name)
    across = units >= DENSE_ACROSS_OUTPUTS
    w = weight.T if across else weight  # in-major when vectorising across outputs
    ctx = {
        "n_in": n_in,
        "n_out": units,
        "across": across,
        "act": act,
        "weight": lw.const(
            fn, "weight", w, comment=f"{'(in, out)' if across else '(out, in)'} = ({w.shape[0]}, {w.shape[1]})"
        ),
        "bias": lw.const(fn, "bias", bias),
    }
    return lw.emit("dense", name, src, (units,), ctx, doc=doc, fn=fn)


def _lower_conv(lw: _Lowering, net: Network, layer: Conv2D, src: int, in_shape) -> int:
    c, h, w = in_shape
    weight, bias = _p(net, layer, "weight"), _p(net, layer, "bias")
    out_shape = layer.output_shape(in_shape)
    doc = layer.describe(in_shape)
    (kh, kw), (pt, pl, pb, pr) = layer.kernel, layer.padding
    if not layer.sparse and layer.groups == 1 and not any(layer.padding) and (kh, kw) == (h, w):
        # The window covers the whole input: a dense layer over the C,H,W-flattened input.
        return _lower_dense(lw, layer.name, weight.reshape(layer.out_channels, -1), bias, layer.act, src, doc)
    if any(layer.padding):
        padded = (c, h + pt + pb, w + pl + pr)
        ctx = {"c": c, "h": h, "w": w, "pt": pt, "pl": pl, "ph": padded[1], "pw": padded[2], "value": 0.0}
        pad_fn = lw.fn_name(layer.name, "pad")
        src = lw.emit("pad", layer.name, src, padded, ctx, doc=f"zero padding {list(layer.padding)}", fn=pad_fn)
        c, h, w = padded
    fn = lw.fn_name(layer.name)
    ctx = {
        "ic": c, "ih": h, "iw": w, "oc": out_shape[0], "oh": out_shape[1], "ow": out_shape[2],
        "kh": kh, "kw": kw, "sh": layer.stride[0], "sw": layer.stride[1], "act": layer.act,
        "groups": layer.groups, "sparse": layer.sparse,
        "bias": lw.const(fn, "bias", bias),
    }  # fmt: skip
    if layer.sparse:
        table = net.params[f"{layer.name}.table"].astype(bool)
        src_maps = [np.flatnonzero(row) for row in table]
        starts = np.concatenate([[0], np.cumsum([len(s) for s in src_maps])])
        packed = np.concatenate([weight[o, s] for o, s in enumerate(src_maps)])  # (links, kh, kw)
        ctx["weight"] = lw.const(
            fn, "weight", packed, comment=f"connected taps only: {len(packed)} of {table.size} maps"
        )
        ctx["start"] = lw.const(fn, "start", starts.astype(np.int32), ctype="int")
        ctx["src"] = lw.const(fn, "src", np.concatenate(src_maps).astype(np.int32), ctype="int")
    else:
        ctx["weight"] = lw.const(fn, "weight", weight, comment=f"(out, in, kh, kw) = {weight.shape}")
    return lw.emit("conv2d", layer.name, src, out_shape, ctx, doc=doc, fn=fn)


def _lower_affine(lw: _Lowering, net: Network, layer: Affine, src: int, in_shape) -> int:
    """Element-wise x * scale + shift, in place; ``index`` picks the constant for element i."""
    fn = lw.fn_name(layer.name)
    lw.used_fns.discard(fn)
    n, c = math.prod(in_shape), in_shape[0]
    index = {"tensor": "0", "channel": f"i / {n // c}", "element": "i"}[layer.per]
    scale, shift = lw.const(fn, "scale", _p(net, layer, "scale")), lw.const(fn, "shift", _p(net, layer, "shift"))
    ctx = {"n": n, "index": index, "scale": scale, "shift": shift}
    return lw.emit("affine", layer.name, src, in_shape, ctx, inplace=True, doc=layer.describe(in_shape))


def _lower(lw: _Lowering, net: Network) -> None:
    shapes = net.shapes()
    src = lw.tensor(shapes[0])
    lw.tensors[src].storage = "input"
    pending_perm: np.ndarray | None = None  # an H,W,C flatten folded into the next dense layer
    for i, layer in enumerate(net.layers):
        in_shape, out_shape = shapes[i], shapes[i + 1]
        if pending_perm is not None and not isinstance(layer, Dense):
            raise AssertionError("unreachable: HWC flatten is folded only into a following dense layer")
        if isinstance(layer, Conv2D):
            src = _lower_conv(lw, net, layer, src, in_shape)
        elif isinstance(layer, Dense):
            weight = _p(net, layer, "weight")
            if pending_perm is not None:
                # weight columns index the H,W,C vector; reorder them to read C,H,W directly.
                weight = weight[:, np.argsort(pending_perm)]
                pending_perm = None
            src = _lower_dense(lw, layer.name, weight, _p(net, layer, "bias"), layer.act, src, layer.describe(in_shape))
        elif isinstance(layer, Subsampling):
            c, h, w = in_shape
            fn = lw.fn_name(layer.name)
            ctx = {"c": c, "ih": h, "iw": w, "oh": out_shape[1], "ow": out_shape[2], "s": layer.size, "act": layer.act,
                   "coeff": lw.const(fn, "coeff", _p(net, layer, "coeff")),
                   "bias": lw.const(fn, "bias", _p(net, layer, "bias"))}  # fmt: skip
            src = lw.emit("subsampling", layer.name, src, out_shape, ctx, doc=layer.describe(in_shape), fn=fn)
        elif isinstance(layer, Pool2D):
            c, h, w = in_shape
            (kh, kw), (sh, sw), (pt, pl, pb, pr) = layer.kernel, layer.stride, layer.padding
            _, oh, ow = out_shape
            clamp = any(layer.padding) or (oh - 1) * sh + kh > h or (ow - 1) * sw + kw > w
            ctx = {"c": c, "ih": h, "iw": w, "oh": oh, "ow": ow, "kh": kh, "kw": kw, "sh": sh, "sw": sw,
                   "pt": pt, "pl": pl, "pb": pb, "pr": pr, "mode": layer.mode, "clamp": clamp,
                   "count_include_pad": layer.count_include_pad}  # fmt: skip
            src = lw.emit("pool2d", layer.name, src, out_shape, ctx, doc=layer.describe(in_shape))
        elif isinstance(layer, Flatten):
            if layer.order == "HWC" and len(in_shape) == 3 and in_shape[0] > 1 and in_shape[1] * in_shape[2] > 1:
                c, h, w = in_shape
                nxt = net.layers[i + 1] if i + 1 < len(net.layers) else None
                if isinstance(nxt, Dense):
                    pending_perm = np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).reshape(-1)
                else:
                    ctx = {"c": c, "hw": h * w}
                    src = lw.emit("transpose_hwc", layer.name, src, out_shape, ctx, doc="flatten H,W,C")
            lw.tensors[src].shape = tuple(out_shape)  # a C,H,W flatten only renames the shape
        elif isinstance(layer, Activation):
            prev = lw.ops[-1] if lw.ops else None
            fusable = prev is not None and prev.dst == src and "act" in prev.ctx and prev.ctx["act"] is None
            if fusable:
                prev.ctx["act"], prev.doc = layer.act, f"{prev.doc} + {layer.act.fn}"
            else:
                ctx = {"n": math.prod(in_shape), "act": layer.act}
                src = lw.emit("activation", layer.name, src, out_shape, ctx, inplace=True, doc=layer.act.fn)
        elif isinstance(layer, Softmax):
            ctx = {"n": in_shape[0], "log": layer.log}
            src = lw.emit("softmax", layer.name, src, out_shape, ctx, inplace=True, doc=layer.describe(in_shape))
        elif isinstance(layer, RBF):
            fn = lw.fn_name(layer.name)
            lw.used_fns.discard(fn)
            ctx = {
                "n_in": in_shape[0],
                "n_out": layer.units,
                "proto": lw.const(fn, "prototypes", _p(net, layer, "prototypes")),
            }
            src = lw.emit("rbf", layer.name, src, out_shape, ctx, doc=layer.describe(in_shape))
        elif isinstance(layer, Affine):
            src = _lower_affine(lw, net, layer, src, in_shape)
        else:
            raise LenetcError(f"layer '{layer.name}': kind '{layer.kind}' has no C kernel")
    lw.final = src  # type: ignore[attr-defined]


def _assign_storage(lw: _Lowering) -> None:
    """Group in-place chains into buffers; the last one becomes the caller's output."""
    # An in-place op must not write into the caller's (const) input: give it its own tensor.
    for k, op in enumerate(lw.ops):
        if op.inplace and lw.tensors[op.src].storage == "input":
            old = op.src
            op.inplace, op.dst = False, lw.tensor(lw.tensors[op.src].shape)
            for later in lw.ops[k + 1 :]:  # later ops read (or update in place) the new copy
                later.src = op.dst if later.src == old else later.src
                later.dst = op.dst if later.dst == old else later.dst
            lw.final = op.dst if lw.final == old else lw.final  # type: ignore[attr-defined]
    if lw.tensors[lw.final].storage == "input" or not lw.ops:  # type: ignore[attr-defined]
        t = lw.tensors[lw.final]  # type: ignore[attr-defined]
        lw.final = lw.emit("copy", "output", lw.final, t.shape, {"n": t.size}, doc="copy")  # type: ignore
    for t in lw.tensors:
        t.buffer = t.id
    for op in lw.ops:
        if op.inplace:
            lw.tensors[op.dst].buffer = lw.tensors[op.src].buffer
    final_buffer = lw.tensors[lw.final].buffer  # type: ignore[attr-defined]
    for t in lw.tensors:
        if t.buffer == final_buffer:
            t.storage = "output"


def _align(n: int) -> int:
    return -(-n // ARENA_ALIGN) * ARENA_ALIGN


def _place_arena(lw: _Lowering, elem_bytes: int) -> tuple[int, int]:
    """Give every arena buffer an offset; returns (arena bytes, lower bound from liveness)."""
    live: dict[int, list[int]] = {}
    size: dict[int, int] = {}
    for k, op in enumerate(lw.ops):
        for tid in (op.src, op.dst):
            t = lw.tensors[tid]
            if t.storage != "arena":
                continue
            span = live.setdefault(t.buffer, [k, k])
            span[0], span[1] = min(span[0], k), max(span[1], k)
            size[t.buffer] = max(size.get(t.buffer, 0), _align(t.size * elem_bytes))
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


def make_plan(net: Network, prefix: str | None = None, dtype: str = "float32", quantized=None) -> Plan:
    """Lower ``net`` to kernel ops and plan its arena. ``prefix`` names every C symbol.

    ``dtype="int8"`` lowers the :class:`~lenetc.quant.QuantizedNetwork` ``quantized`` instead
    (calibrated on MNIST training digits when None); see ``plan_int8.py``.
    """
    if dtype == "int8":
        from .plan_int8 import make_plan_int8

        return make_plan_int8(net, prefix, quantized)
    prefix = prefix or re.sub(r"[^A-Za-z0-9_]", "_", net.name)
    if not _IDENT.match(prefix):
        raise LenetcError(f"prefix '{prefix}' is not a C identifier (letters, digits, '_', not starting with a digit)")
    if dtype != "float32":
        raise LenetcError(f"dtype '{dtype}' is not supported (float32, int8)")
    net.validate()
    lw = _Lowering(net, prefix)
    _lower(lw, net)
    _assign_storage(lw)
    arena, bound = _place_arena(lw, 4)
    return Plan(net, prefix, dtype, lw.ops, lw.tensors, lw.consts, arena, bound)
