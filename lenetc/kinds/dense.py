"""Fully connected layer (``dense``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..activations import Act, act_grad, act_onnx, apply_act
from ..ir import kernel_template
from ..variants import Scratch, Variant
from .base import Kind, Layer, Node, Params, QuantStep, act_suffix, as_int, at_least, init_weight_bias, param
from .given import GivenStep
from .int8_linear import (
    QLinear,
    finish,
    linear_from_scales,
    linear_qdq,
    pad_cols,
    pad_to,
    qdoc,
    quantize_linear,
    requant_ctx,
)

#: Dense layers with at least this many outputs vectorise across outputs (weights stored in-major).
DENSE_ACROSS_OUTPUTS = 16


@dataclass
class Dense(Layer):
    """Fully connected layer; ``weight`` is (out, in) over the input flattened in C,H,W order."""

    units: int = 1
    act: Act | None = None
    kind = "dense"

    def __post_init__(self) -> None:
        self.units = as_int(self.units, f"layer '{self.name}': units")
        at_least(self, 1, units=self.units)

    def output_shape(self, in_shape):
        return (self.units,)

    def param_shapes(self, in_shape):
        return {"weight": (self.units, int(np.prod(in_shape))), "bias": (self.units,)}

    def macs(self, in_shape, params):
        return self.units * int(np.prod(in_shape))

    def trainable_params(self, in_shape, params):
        return self.macs(in_shape, params) + self.units

    def connections(self, in_shape, params):
        return self.trainable_params(in_shape, params)

    def describe(self, in_shape):
        return f"full {int(np.prod(in_shape))}->{self.units}{act_suffix(self.act)}"


def forward(layer: Dense, x: np.ndarray, p: Params) -> np.ndarray:
    x = x.reshape(x.shape[0], -1)
    y = x @ param(p, layer, "weight").T + param(p, layer, "bias")
    return apply_act(layer.act, y)


def train_forward(layer: Dense, x, params):
    x2 = x.reshape(x.shape[0], -1)
    z = x2 @ param(params, layer, "weight", x.dtype).T + param(params, layer, "bias", x.dtype)
    y = apply_act(layer.act, z)
    return y, {"x2": x2, "x_shape": x.shape, "z": z, "y": y}


def backward(layer: Dense, dy, cache, params, need_dx=True):
    dz = act_grad(layer.act, dy, cache["z"], cache["y"])
    grads = {"weight": dz.T @ cache["x2"], "bias": dz.sum(axis=0)}
    if not need_dx:
        return None, grads
    dx = dz @ param(params, layer, "weight", dz.dtype)
    return dx.reshape(cache["x_shape"]), grads


@dataclass
class QDense(QLinear):
    """An int8 fully connected layer: ``weight`` (O, I) int8, one scale, bias and multiplier per output."""


def quantize(step: QuantStep) -> QDense:
    w = param(step.params, step.layer, "weight")
    return quantize_linear(QDense, step, w, step.params[f"{step.layer.name}.bias"], np.ones(w.shape[0], np.int64))


def from_scales(step: GivenStep) -> QDense:
    """The file's integer weights (O, I) and scales."""
    shape = step.layer.param_shapes(step.in_shape)["weight"]
    return linear_from_scales(QDense, step, shape, np.ones(shape[0], np.int64))


def forward_int8(q: QDense, x: np.ndarray) -> np.ndarray:
    acc = x.reshape(x.shape[0], -1).astype(np.int64) @ q.weight.astype(np.int64).T + q.bias.astype(np.int64)
    return finish(q, acc, 1)


@dataclass
class DenseCall:
    """One dense layer (or a whole-window convolution) as its kernel variants see it:
    ``weight`` (out, in) over the input in C,H,W order, float32 with ``bias``, or int8 with
    ``q`` (its requantization); ``fn`` the C function name."""

    name: str
    fn: str
    weight: np.ndarray
    act: Act | None = None
    bias: np.ndarray | None = None
    q: QLinear | None = None

    @property
    def units(self) -> int:
        return self.weight.shape[0]

    @property
    def n_in(self) -> int:
        return self.weight.shape[1]

    @property
    def across(self) -> bool:
        """Whether the float kernel vectorises across outputs (in-major weights)."""
        return self.units >= DENSE_ACROSS_OUTPUTS


def pack_float32(lw, call: DenseCall) -> dict:
    """The portable float kernel: weights in-major when vectorising across outputs."""
    w = call.weight.T if call.across else call.weight
    shape = f"{'(in, out)' if call.across else '(out, in)'} = ({w.shape[0]}, {w.shape[1]})"
    return {"n_in": call.n_in, "n_out": call.units, "across": call.across, "act": call.act,
            "weight": lw.const(call.fn, "weight", w, comment=shape),
            "bias": lw.const(call.fn, "bias", call.bias)}  # fmt: skip


def pack_int8(lw, call: DenseCall, repack=None, note: str = "") -> dict:
    """The int8 kernels: requantization, then the rows zero-padded to a multiple of 16, each
    rearranged by ``repack`` (a family's packing, described by ``note``) where given."""
    w = call.weight
    ctx = requant_ctx(lw, call.fn, call.q)
    n_pad = pad_to(w.shape[1])
    comment = f"(out, in) = {w.shape}, symmetric per output channel; rows zero-padded to {n_pad}"
    rows = pad_cols(w, n_pad)
    if repack is not None:
        rows, comment = repack(rows), f"{comment}, {note}"
    ctx.update(
        n_in=w.shape[1], n_out=w.shape[0], n_pad=n_pad, weight=lw.const(call.fn, "weight", rows, "int8_t", comment)
    )
    return ctx


def int8_scratch(call: DenseCall, mode: str) -> Scratch:
    """The input widened to int16 and zero-padded."""
    return ("int16_t", pad_to(call.n_in))


def _emit(lw, call: DenseCall, src: int, out_shape, doc: str) -> int:
    variant = lw.choose(KIND_NAME, call)
    ctx = variant.pack(lw, call)
    return lw.emit_variant(variant, call, call.name, src, out_shape, ctx, fused=False, doc=f"{doc}{variant.note(call)}",
                           fn=call.fn)  # fmt: skip


def lower_dense_float(lw, name: str, weight: np.ndarray, bias: np.ndarray, act, src: int, doc: str) -> int:
    """A float dense op (also what a whole-window convolution lowers to)."""
    call = DenseCall(name, lw.fn_name(name), weight, act, bias)
    return _emit(lw, call, src, (call.units,), doc)


def lower_dense_int8(lw, q: QLinear, weight: np.ndarray, src: int, perm: np.ndarray | None) -> int:
    """An int8 dense op; ``perm`` reorders the columns when an H,W,C flatten was folded in."""
    fn = lw.fn_name(q.name)
    w = weight.reshape(weight.shape[0], -1)
    if perm is not None:
        w = w[:, np.argsort(perm)]  # columns index the H,W,C vector; read C,H,W directly
    return _emit(lw, DenseCall(q.name, fn, w, q=q), src, q.out_shape, qdoc(q))


def _take_perm(lw) -> np.ndarray | None:
    perm, lw.pending_perm = lw.pending_perm, None
    return perm


def lower_float32(lw, node: Node, src: int) -> int:
    layer: Dense = node.layer
    weight = param(lw.params, layer, "weight", np.float32)
    perm = _take_perm(lw)
    if perm is not None:
        weight = weight[:, np.argsort(perm)]  # weight columns index the H,W,C vector; read C,H,W directly
    bias = param(lw.params, layer, "bias", np.float32)
    return lower_dense_float(lw, layer.name, weight, bias, layer.act, src, layer.describe(node.in_shape))


def lower_int8(lw, node: Node, src: int) -> int:
    return lower_dense_int8(lw, node.q, node.q.weight, src, _take_perm(lw))


def to_onnx(g, layer: Dense, in_shape, p: Params, x: str) -> str:
    n = layer.name
    if len(in_shape) != 1:
        x = g.node("Flatten", [x], n, axis=1)
    w, b = g.const(f"{n}.weight", p[f"{n}.weight"]), g.const(f"{n}.bias", p[f"{n}.bias"])
    return act_onnx(g, layer.act, g.node("Gemm", [x, w, b], n, transB=1), n)


def to_qdq(g, q: QDense, x: str) -> str:
    """QDQ ONNX: Gemm on the dequantized (flattened) input, int8 weights and int32 bias."""

    def gemm(xf: str, w: str, b: str) -> str:
        if len(q.in_shape) != 1:
            xf = g.node("Flatten", [xf], q.name, axis=1)
        return g.node("Gemm", [xf, w, b], q.name, transB=1)

    return linear_qdq(g, q, x, gemm)


KIND_NAME = "dense"
VARIANTS = (
    Variant("dense/float32", KIND_NAME, "float32", kernel_template("dense/float32"), pack=pack_float32),
    Variant("dense/int8", KIND_NAME, "int8", kernel_template("dense/int8"), pack=pack_int8, scratch=int8_scratch),
)

KIND = Kind(
    name=KIND_NAME,
    layer_type=Dense,
    forward=forward,
    train_forward=train_forward,
    backward=backward,
    quantize=quantize,
    forward_int8=forward_int8,
    lower={"float32": lower_float32, "int8": lower_int8},
    to_onnx=to_onnx,
    from_scales=from_scales,
    variants=VARIANTS,
    takes_act=True,
    float_requant=True,
    init_params=init_weight_bias,
    to_qdq=to_qdq,
)
