"""Fully connected layer (``dense``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..activations import Act, act_grad, act_onnx, apply_act
from ..helium import float32 as helium_float32
from ..helium import int8 as helium_int8
from ..riscv import vector as riscv_v
from . import conv2d_cortexm
from .base import Kind, Layer, Node, Params, QuantStep, act_suffix, as_int, at_least, param
from .dense_blocked import lower_blocked_dense, lower_blocked_dense_int8
from .given import GivenStep
from .int8_linear import QLinear, finish, linear_from_scales, pad_cols, pad_to, qdoc, quantize_linear, requant_ctx

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


def lower_dense_float(lw, name: str, weight: np.ndarray, bias: np.ndarray, act, src: int, doc: str) -> int:
    """A float dense op (also what a whole-window convolution lowers to)."""
    units, n_in = weight.shape
    across = units >= DENSE_ACROSS_OUTPUTS
    # ---- host dialects: the blocked kernel (kinds/dense_blocked.py) where outputs are vectorised ----
    rvv = riscv_v.lower_dense_float32(lw, name, weight, bias, act, src, doc) if across else None
    if rvv is not None:  # RISC-V vector: lenetc/riscv/vector.py
        return rvv
    blocked = lower_blocked_dense(lw, name, weight, bias, act, src, doc) if across else None
    if blocked is not None:
        return blocked
    # ----
    fn = lw.fn_name(name)
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
    mve = helium_float32.dense_ctx(lw, act, weight, bias, across)  # Helium: lenetc/helium/float32.py
    if mve is not None:
        ctx.update(mve)
        return lw.emit("mve/dense_float32", name, src, (units,), ctx, doc=f"{doc}, Helium", fn=fn)
    return lw.emit("dense/float32", name, src, (units,), ctx, doc=doc, fn=fn)


def lower_dense_int8(lw, q: QLinear, weight: np.ndarray, src: int, perm: np.ndarray | None) -> int:
    """An int8 dense op; ``perm`` reorders the columns when an H,W,C flatten was folded in."""
    fn = lw.fn_name(q.name)
    w = weight.reshape(weight.shape[0], -1)
    if perm is not None:
        w = w[:, np.argsort(perm)]  # columns index the H,W,C vector; read C,H,W directly
    ctx = requant_ctx(lw, fn, q)
    rvv = riscv_v.lower_dense_int8(lw, q, w, src, ctx, fn, qdoc(q))  # RISC-V vector: lenetc/riscv/vector.py
    if rvv is not None:
        return rvv
    if helium_int8.helium(lw):  # Helium: lenetc/helium/int8.py
        return helium_int8.lower_dense(lw, q, src, w, ctx, qdoc(q), fn)
    n_pad = pad_to(w.shape[1])
    comment = f"(out, in) = {w.shape}, symmetric per output channel; rows zero-padded to {n_pad}"
    rows, template = pad_cols(w, n_pad), "dense/int8"
    if conv2d_cortexm.dsp_dialect(lw):  # Cortex-M DSP: four-row SMLAD blocks (conv2d_cortexm.py)
        rows, template, comment = conv2d_cortexm.pack_sxtb16(rows), "dense/int8_dsp", f"{comment}, SXTB16-packed"
    ctx.update(
        n_in=w.shape[1],
        n_out=w.shape[0],
        n_pad=n_pad,
        weight=lw.const(fn, "weight", rows, "int8_t", comment),
    )
    # ---- host dialects: the VNNI tile kernel (kinds/dense_blocked.py) where it applies ----
    blocked = lower_blocked_dense_int8(lw, q, w, fn, ctx, src)
    if blocked is not None:
        return blocked
    # ----
    return lw.emit(template, q.name, src, q.out_shape, ctx, doc=qdoc(q), fn=fn, scratch=("int16_t", n_pad))


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


KIND = Kind(
    name=Dense.kind,
    layer_type=Dense,
    forward=forward,
    train_forward=train_forward,
    backward=backward,
    quantize=quantize,
    forward_int8=forward_int8,
    lower={"float32": lower_float32, "int8": lower_int8},
    to_onnx=to_onnx,
    from_scales=from_scales,
)
