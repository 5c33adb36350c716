"""Softmax or log-softmax over a vector (``softmax``). int8 drops a final softmax and applies
it in Python after dequantizing the logits; anywhere else int8 refuses it."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np

from .. import fixedpoint_tflm
from ..errors import LenetcError
from .base import Kind, Layer, Node, Params, QLayer


@dataclass
class Softmax(Layer):
    """Softmax (or log-softmax) over a vector."""

    log: bool = False
    kind = "softmax"

    def output_shape(self, in_shape):
        if len(in_shape) != 1:
            raise LenetcError(f"layer '{self.name}': softmax needs a vector, got shape {in_shape}")
        return in_shape

    def describe(self, in_shape):
        return "log_softmax" if self.log else "softmax"


def softmax(z: np.ndarray, log: bool = False) -> np.ndarray:
    """(log-)softmax over the last axis, shifted by the maximum for range safety."""
    z = z - z.max(axis=-1, keepdims=True)
    if log:
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def forward(layer: Softmax, x: np.ndarray, p: Params) -> np.ndarray:
    return softmax(x, layer.log)


def train_forward(layer: Softmax, x, params):
    y = softmax(x, layer.log)
    return y, {"y": y}


def backward(layer: Softmax, dy, cache, params, need_dx=True):
    y = cache["y"]
    if layer.log:
        return dy - np.exp(y) * dy.sum(axis=1, keepdims=True), {}
    return y * (dy - (dy * y).sum(axis=1, keepdims=True)), {}


def lower_float32(lw, node: Node, src: int) -> int:
    layer: Softmax = node.layer
    ctx = {"n": node.in_shape[0], "log": layer.log}
    return lw.emit("softmax/float32", layer.name, src, node.out_shape, ctx, inplace=True,
                   doc=layer.describe(node.in_shape))  # fmt: skip


@dataclass
class QSoftmax(QLayer):
    """An int8 softmax with TFLM's constants (``softmax``: :class:`lenetc.fixedpoint_tflm.SoftmaxParams`),
    the only int8 softmax lenetc computes: a TFLite file's own."""

    _: KW_ONLY
    softmax: Any

    def constants(self) -> tuple[np.ndarray, ...]:
        return (fixedpoint_tflm.softmax_exp_table(self.softmax).astype(np.int32),)


def forward_int8(q: QSoftmax, x: np.ndarray) -> np.ndarray:
    """TFLM's int8 softmax."""
    return fixedpoint_tflm.softmax_int8(x, q.softmax)


def lower_int8(lw, node: Node, src: int) -> int:
    q = node.q
    fn = lw.fn_name(q.name)
    table = fixedpoint_tflm.softmax_exp_table(q.softmax).astype(np.int32)
    ctx = {"n": q.in_shape[0], "exp": lw.const(fn, "exp", table, "int32_t", "exp(-d) in Q0.31, index d = max - q")}
    return lw.emit("softmax/int8", q.name, src, q.out_shape, ctx, inplace=True, doc="softmax (TFLM int8)", fn=fn)


def to_onnx(g, layer: Softmax, in_shape, p: Params, x: str) -> str:
    return g.node("LogSoftmax" if layer.log else "Softmax", [x], layer.name, axis=1)


KIND = Kind(
    name=Softmax.kind,
    layer_type=Softmax,
    forward=forward,
    train_forward=train_forward,
    backward=backward,
    quantize=None,
    forward_int8=forward_int8,
    lower={"float32": lower_float32, "int8": lower_int8},
    to_onnx=to_onnx,
)
