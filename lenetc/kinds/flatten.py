"""Flatten (``flatten``): (C, H, W) to a vector in C,H,W order, or H,W,C (channels-last frameworks)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import LenetcError
from .base import Kind, Layer, Node, Params, QLayer, QuantStep
from .given import GivenStep
from .shared_ops import emit_transpose_hwc

FLATTEN_ORDERS = ("CHW", "HWC")


@dataclass
class Flatten(Layer):
    """Flattens (C, H, W) to a vector in C,H,W order, or H,W,C (channels-last frameworks)."""

    order: str = "CHW"
    kind = "flatten"

    def __post_init__(self) -> None:
        if self.order not in FLATTEN_ORDERS:
            raise LenetcError(f"layer '{self.name}': flatten order must be CHW or HWC, not '{self.order}'")

    def output_shape(self, in_shape):
        return (int(np.prod(in_shape)),)

    def describe(self, in_shape):
        return f"flatten {self.order}"

    def reorders(self, in_shape) -> bool:
        """True when the H,W,C order really moves values (more than one channel and pixel)."""
        return self.order == "HWC" and len(in_shape) == 3 and in_shape[0] > 1 and in_shape[1] * in_shape[2] > 1


def forward(layer: Flatten, x: np.ndarray, p: Params) -> np.ndarray:
    if layer.order == "HWC" and x.ndim == 4:
        x = x.transpose(0, 2, 3, 1)
    return x.reshape(x.shape[0], -1)


def train_forward(layer: Flatten, x, params):
    return forward(layer, x, params), {"x_shape": x.shape}


def backward(layer: Flatten, dy, cache, params, need_dx=True):
    n, *rest = cache["x_shape"]
    if layer.order == "HWC" and len(rest) == 3:
        c, h, w = rest
        return dy.reshape(n, h, w, c).transpose(0, 3, 1, 2), {}
    return dy.reshape(cache["x_shape"]), {}


@dataclass
class QFlatten(QLayer):
    """Flattening in int8: the same int8 values reordered; ``out_q == in_q``."""


def quantize(step: QuantStep) -> QFlatten:
    layer = step.layer
    return QFlatten(layer.name, layer, step.in_shape, step.out_shape, step.in_q, step.in_q)


def from_scales(step: GivenStep) -> QFlatten:
    """A reshape of int8 values: the output must keep the input's quantization."""
    layer = step.layer
    q_in = step.same_quantization()
    return QFlatten(layer.name, layer, step.in_shape, step.out_shape, q_in, q_in)


def forward_int8(q: QFlatten, x: np.ndarray) -> np.ndarray:
    return forward(q.layer, x, {})


def lower(lw, node: Node, src: int) -> int:
    """A C,H,W flatten only renames the shape; an H,W,C one is folded into a following dense
    layer's weights (the permutation is handed over) or else transposes."""
    layer: Flatten = node.layer
    if layer.reorders(node.in_shape):
        c, h, w = node.in_shape
        if node.next_kind == "dense":
            lw.pending_perm = np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).reshape(-1)
        else:
            src = emit_transpose_hwc(lw, layer.name, src, node.in_shape, node.out_shape)
    lw.tensors[src].shape = tuple(node.out_shape)
    return src


def to_onnx(g, layer: Flatten, in_shape, p: Params, x: str) -> str:
    if layer.order == "HWC" and len(in_shape) == 3:
        x = g.node("Transpose", [x], layer.name, perm=[0, 2, 3, 1])
    return g.node("Flatten", [x], layer.name, axis=1)


def to_qdq(g, q, x: str) -> str:
    """QDQ ONNX: a reshape of int8 values (no requantization), H,W,C order by a transpose."""
    if q.layer.order == "HWC" and len(q.in_shape) == 3:
        x = g.node("Transpose", [x], q.name, perm=[0, 2, 3, 1])
    return g.node("Flatten", [x], q.name, axis=1)


KIND = Kind(
    name=Flatten.kind,
    layer_type=Flatten,
    forward=forward,
    train_forward=train_forward,
    backward=backward,
    quantize=quantize,
    forward_int8=forward_int8,
    lower={"float32": lower, "int8": lower},
    to_onnx=to_onnx,
    from_scales=from_scales,
    to_qdq=to_qdq,
)
