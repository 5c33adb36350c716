"""A stand-alone element-wise activation (``activation``); int8 computes it by table lookup."""

from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass, field

import numpy as np

from ..activations import Act, act_grad, act_onnx, apply_act
from ..errors import LenetcError
from .base import Kind, Layer, Node, Params, QLayer, QuantStep
from .given import GivenOutput, GivenStep, activation_qparams
from .int8_linear import make_lut


@dataclass
class Activation(Layer):
    """A stand-alone element-wise activation."""

    act: Act = field(default_factory=lambda: Act("relu"))
    kind = "activation"

    def describe(self, in_shape):
        return self.act.fn


def forward(layer: Activation, x: np.ndarray, p: Params) -> np.ndarray:
    return apply_act(layer.act, x)


def train_forward(layer: Activation, x, params):
    y = apply_act(layer.act, x)
    return y, {"z": x, "y": y}


def backward(layer: Activation, dy, cache, params, need_dx=True):
    return act_grad(layer.act, dy, cache["z"], cache["y"]), {}


@dataclass
class QActivation(QLayer):
    """A stand-alone activation in int8: ``out = lut[q + 128]``, the table made from the input's
    and the output's quantization."""

    _: KW_ONLY
    lut: np.ndarray  # int8[256], indexed by q + 128

    def constants(self) -> tuple[np.ndarray, ...]:
        return (self.lut,)


def quantize(step: QuantStep) -> QActivation:
    layer: Activation = step.layer
    out_q = step.choose(step.y)
    lut = make_lut(layer.act, step.in_q, out_q)
    return QActivation(layer.name, layer, step.in_shape, step.out_shape, step.in_q, out_q, lut=lut)


def from_scales(step: GivenStep) -> QActivation:
    """The table from the input's quantization to the file's output quantization (a ReLU or
    clip whose output keeps the input's quantization is a clamp, which the table also is)."""
    layer: Activation = step.layer
    g = step.given
    if not isinstance(g, GivenOutput) or g.out_q is None:
        raise LenetcError(f"layer '{layer.name}' ({layer.act.fn}): the model states no quantization of its output")
    out_q = activation_qparams(g.out_q)
    lut = make_lut(layer.act, step.in_q, out_q)
    return QActivation(layer.name, layer, step.in_shape, step.out_shape, step.in_q, out_q, lut=lut)


def forward_int8(q: QActivation, x: np.ndarray) -> np.ndarray:
    return q.lut[x.astype(np.int64) + 128].astype(np.int8)


def lower_float32(lw, node: Node, src: int) -> int:
    """Fused into the op before it when that op has an activation slot left, else in place."""
    layer: Activation = node.layer
    prev = lw.ops[-1] if lw.ops else None
    fusable = prev is not None and prev.dst == src and "act" in prev.ctx and prev.ctx["act"] is None
    if fusable and prev.ctx.get("epilogue") is None:  # a fused pool after the conv comes first
        prev.ctx["act"], prev.doc = layer.act, f"{prev.doc} + {layer.act.fn}"
        return src
    ctx = {"n": math.prod(node.in_shape), "act": layer.act}
    return lw.emit("activation/float32", layer.name, src, node.out_shape, ctx, inplace=True, doc=layer.act.fn)


def lower_int8(lw, node: Node, src: int) -> int:
    q = node.q
    fn = lw.fn_name(q.name)
    ctx = {"n": math.prod(q.in_shape), "lut": lw.const(fn, "lut", q.lut, "int8_t", "lookup table, index q + 128")}
    doc = f"{q.layer.describe(q.in_shape)} (table)"
    return lw.emit("activation/int8", q.name, src, q.out_shape, ctx, inplace=True, doc=doc, fn=fn)


def to_onnx(g, layer: Activation, in_shape, p: Params, x: str) -> str:
    return act_onnx(g, layer.act, x, layer.name)


def to_qdq(g, q, x: str) -> str:
    """QDQ ONNX: the activation on the dequantized input, then the output quantization."""
    return g.quant(act_onnx(g, q.layer.act, g.dequant(x, q.in_q, q.name), q.name), q.out_q, q.name)


KIND = Kind(
    name=Activation.kind,
    layer_type=Activation,
    forward=forward,
    train_forward=train_forward,
    backward=backward,
    quantize=quantize,
    forward_int8=forward_int8,
    lower={"float32": lower_float32, "int8": lower_int8},
    to_onnx=to_onnx,
    from_scales=from_scales,
    to_qdq=to_qdq,
)
