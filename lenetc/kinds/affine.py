"""Element-wise ``y = x * scale + shift`` (``affine``), from imported graphs: Add/Mul/Sub/Div by
a constant, a BatchNormalization with nothing to fold into."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import LenetcError
from ..fixedpoint import requantize
from .base import Kind, Layer, Node, Params, QuantStep, param
from .int8_linear import QLinear, calibrated_linear, requant_ctx

AFFINE_PER = ("tensor", "channel", "element")


@dataclass
class Affine(Layer):
    """Element-wise ``y = x * scale + shift`` with constants from an imported graph. ``per`` says
    how ``scale`` and ``shift`` broadcast: ``tensor`` (one value), ``channel`` (one per C, the
    first axis) or ``element``."""

    per: str = "channel"
    kind = "affine"

    def __post_init__(self) -> None:
        if self.per not in AFFINE_PER:
            raise LenetcError(f"layer '{self.name}': affine 'per' must be one of {', '.join(AFFINE_PER)}")

    def param_shapes(self, in_shape):
        shape = (1,) if self.per == "tensor" else (in_shape[0],) if self.per == "channel" else tuple(in_shape)
        return {"scale": shape, "shift": shape}

    def trainable_params(self, in_shape, params):
        return 2 * int(np.prod(self.param_shapes(in_shape)["scale"]))

    def macs(self, in_shape, params):
        return int(np.prod(in_shape))

    def connections(self, in_shape, params):
        return 2 * int(np.prod(in_shape))

    def describe(self, in_shape):
        return f"affine x*scale+shift per {self.per}"


def _broadcast(layer: Affine, v: np.ndarray, ndim: int) -> np.ndarray:
    """A parameter shaped to broadcast against a batch of ``ndim`` dimensions."""
    if layer.per == "channel":
        return v.reshape((1, -1) + (1,) * (ndim - 2))
    if layer.per == "element":
        return v[None]
    return v


def _reduce(layer: Affine, g: np.ndarray) -> np.ndarray:
    """Sum a batch gradient over the axes its parameter broadcasts along."""
    if layer.per == "channel":
        return g.sum(axis=tuple(a for a in range(g.ndim) if a != 1))
    if layer.per == "element":
        return g.sum(axis=0)
    return g.sum().reshape(1)


def forward(layer: Affine, x: np.ndarray, p: Params) -> np.ndarray:
    scale, shift = param(p, layer, "scale"), param(p, layer, "shift")
    return x * _broadcast(layer, scale, x.ndim) + _broadcast(layer, shift, x.ndim)


def train_forward(layer: Affine, x, params):
    scale = _broadcast(layer, param(params, layer, "scale", x.dtype), x.ndim)
    shift = _broadcast(layer, param(params, layer, "shift", x.dtype), x.ndim)
    return x * scale + shift, {"x": x, "scale": scale}


def backward(layer: Affine, dy, cache, params, need_dx=True):
    grads = {"scale": _reduce(layer, dy * cache["x"]), "shift": _reduce(layer, dy)}
    return (dy * cache["scale"] if need_dx else None), grads


def _element_index(layer: Affine, in_shape) -> np.ndarray:
    """For each element of the (flattened) input, the index of its scale and shift."""
    n = math.prod(in_shape)
    if layer.per == "tensor":
        return np.zeros(n, dtype=np.int64)
    if layer.per == "channel":
        return np.arange(n) // (n // in_shape[0])
    return np.arange(n)


@dataclass
class QAffine(QLinear):
    """A per-tensor, per-channel or per-element ``x * scale + shift`` in int8: ``weight`` holds
    one int8 entry per scale entry (a 1-tap linear layer each), ``bias`` the shift."""


def quantize(step: QuantStep) -> QAffine:
    """Each scale entry is one output channel of a 1-tap linear layer: int8 weight +-127 (the
    symmetric per-channel weight of a single value), the shift as its bias."""
    layer: Affine = step.layer
    head = (layer.name, layer, step.in_shape, step.out_shape, step.in_q, step.choose(step.y))
    scale = param(step.params, layer, "scale").reshape(-1, 1)
    shift = param(step.params, layer, "shift").reshape(-1)
    q = calibrated_linear(QAffine, head, scale, shift, np.ones(scale.shape[0], dtype=np.int64))
    q.weight = q.weight.reshape(-1)
    return q


def forward_int8(q: QAffine, x: np.ndarray) -> np.ndarray:
    idx = _element_index(q.layer, q.in_shape)
    flat = x.reshape(x.shape[0], -1).astype(np.int64)
    acc = flat * q.weight.astype(np.int64)[idx] + q.bias.astype(np.int64)[idx]
    if np.abs(acc).max(initial=0) > q.acc_bound:
        raise AssertionError(f"layer '{q.name}': accumulator above its proven bound")
    out = requantize(acc, q.mult[idx], q.shift[idx], q.req_zp, q.lo, q.hi)
    return out.astype(np.int8).reshape(x.shape)


def _index_expr(layer: Affine, in_shape) -> str:
    n, c = math.prod(in_shape), in_shape[0]
    return {"tensor": "0", "channel": f"i / {n // c}", "element": "i"}[layer.per]


def lower_float32(lw, node: Node, src: int) -> int:
    """In place; ``index`` picks the constant for element i."""
    layer: Affine = node.layer
    fn = lw.fn_name(layer.name)
    lw.used_fns.discard(fn)
    scale = lw.const(fn, "scale", param(lw.params, layer, "scale", np.float32))
    shift = lw.const(fn, "shift", param(lw.params, layer, "shift", np.float32))
    ctx = {"n": math.prod(node.in_shape), "index": _index_expr(layer, node.in_shape), "scale": scale, "shift": shift}
    return lw.emit("affine/float32", layer.name, src, node.in_shape, ctx, inplace=True,
                   doc=layer.describe(node.in_shape))  # fmt: skip


def lower_int8(lw, node: Node, src: int) -> int:
    q = node.q
    fn = lw.fn_name(q.name)
    ctx = requant_ctx(lw, fn, q)
    weight = lw.const(fn, "weight", q.weight, "int8_t", "per-entry scale as int8 (symmetric)")
    ctx.update(n=math.prod(q.in_shape), index=_index_expr(q.layer, q.in_shape), weight=weight)
    return lw.emit("affine/int8", q.name, src, q.out_shape, ctx, inplace=True, doc=q.layer.describe(q.in_shape), fn=fn)


def to_onnx(g, layer: Affine, in_shape, p: Params, x: str) -> str:
    n = layer.name
    shape = {"tensor": (1,), "channel": (-1,) + (1,) * (len(in_shape) - 1), "element": in_shape}[layer.per]
    scale = g.const(f"{n}.scale", p[f"{n}.scale"].reshape(shape))
    return g.node("Add", [g.node("Mul", [x, scale], n), g.const(f"{n}.shift", p[f"{n}.shift"].reshape(shape))], n)


KIND = Kind(
    name=Affine.kind,
    layer_type=Affine,
    forward=forward,
    train_forward=train_forward,
    backward=backward,
    quantize=quantize,
    forward_int8=forward_int8,
    lower={"float32": lower_float32, "int8": lower_int8},
    to_onnx=to_onnx,
)
