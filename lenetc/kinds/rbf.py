"""LeNet-5's Euclidean radial basis output (``rbf``): squared distances to fixed prototypes."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass

import numpy as np

from ..errors import LenetcError
from ..numeric import QParams
from .base import Kind, Layer, Node, Params, QLayer, QuantStep, as_int, at_least, param
from .int8_linear import ACC_LIMIT, qdoc


@dataclass
class RBF(Layer):
    """Euclidean radial basis units y_i = sum_j (x_j - w_ij)^2 with fixed ``prototypes``; smallest wins."""

    units: int = 10
    kind = "rbf"

    def __post_init__(self) -> None:
        self.units = as_int(self.units, f"layer '{self.name}': units")
        at_least(self, 1, units=self.units)

    def output_shape(self, in_shape):
        if len(in_shape) != 1:
            raise LenetcError(f"layer '{self.name}': RBF needs a vector, got shape {in_shape}")
        return (self.units,)

    def param_shapes(self, in_shape):
        return {"prototypes": (self.units, in_shape[0])}

    def macs(self, in_shape, params):
        return self.units * in_shape[0]

    def trainable_params(self, in_shape, params):
        return self.units * in_shape[0]

    def connections(self, in_shape, params):
        return self.macs(in_shape, params)

    def describe(self, in_shape):
        return f"RBF {in_shape[0]}->{self.units} (distance, smallest wins)"


def forward(layer: RBF, x: np.ndarray, p: Params) -> np.ndarray:
    proto = param(p, layer, "prototypes")
    return ((x[:, None, :] - proto[None, :, :]) ** 2).sum(axis=2)


def train_forward(layer: RBF, x, params):
    proto = param(params, layer, "prototypes", x.dtype)
    diff = x[:, None, :] - proto[None, :, :]
    return (diff * diff).sum(axis=2), {"diff": diff}


def backward(layer: RBF, dy, cache, params, need_dx=True):
    # y_i = sum_j (x_j - w_ij)^2: dy_i/dx_j = 2 (x_j - w_ij) = -dy_i/dw_ij
    g = 2 * dy[:, :, None] * cache["diff"]
    return g.sum(axis=1), {"prototypes": -g.sum(axis=0)}


@dataclass
class QRBF(QLayer):
    """The RBF output in int8: ``proto`` int16 (units, n) prototypes in the input's quantized
    units; the output is the int32 sum of squared differences (``out_q``: scale s_in^2)."""

    _: KW_ONLY
    proto: np.ndarray

    def constants(self) -> tuple[np.ndarray, ...]:
        return (self.proto,)


def quantize(step: QuantStep) -> QRBF:
    """Distances in the input's quantized units: int16 prototypes, an exact int32 sum of squares.
    The calibration widens the input's range so that every prototype is representable."""
    layer: RBF = step.layer
    if not step.last:
        raise LenetcError(f"int8: RBF layer '{layer.name}' must be the last layer")
    in_q = step.in_q
    proto = param(step.params, layer, "prototypes")
    # In range by construction; the clip only guards hand-made QParams.
    qproto = np.clip(np.round(proto / in_q.scale) + in_q.zero_point, -1024, 1023).astype(np.int16)
    d = np.maximum((127 - qproto.astype(np.int64)) ** 2, (-128 - qproto.astype(np.int64)) ** 2)
    bound = int(d.sum(axis=1).max())
    if bound > ACC_LIMIT:
        raise LenetcError(f"layer '{layer.name}': RBF distance bound {bound} exceeds 2^31-1")
    out_q = QParams(in_q.scale**2, 0)
    return QRBF(layer.name, layer, step.in_shape, step.out_shape, in_q, out_q, acc_bound=bound, proto=qproto)


def forward_int8(q: QRBF, x: np.ndarray) -> np.ndarray:
    d = x.astype(np.int64)[:, None, :] - q.proto.astype(np.int64)[None, :, :]
    acc = (d * d).sum(axis=2)
    if acc.max(initial=0) > q.acc_bound:
        raise AssertionError(f"layer '{q.name}': distance above its proven bound")
    return acc.astype(np.int32)


def lower_float32(lw, node: Node, src: int) -> int:
    layer: RBF = node.layer
    fn = lw.fn_name(layer.name)
    lw.used_fns.discard(fn)
    ctx = {
        "n_in": node.in_shape[0],
        "n_out": layer.units,
        "proto": lw.const(fn, "prototypes", param(lw.params, layer, "prototypes", np.float32)),
    }
    return lw.emit("rbf/float32", layer.name, src, node.out_shape, ctx, doc=layer.describe(node.in_shape))


def lower_int8(lw, node: Node, src: int) -> int:
    q = node.q
    fn = lw.fn_name(q.name)
    proto = lw.const(fn, "prototypes", q.proto, "int16_t", "prototypes in the input's quantized units")
    ctx = {"n_in": q.in_shape[0], "n_out": q.out_shape[0], "bound": q.acc_bound, "proto": proto}
    return lw.emit("rbf/int8", q.name, src, q.out_shape, ctx, doc=qdoc(q), fn=fn)


def to_onnx(g, layer: RBF, in_shape, p: Params, x: str) -> str:
    """Unsqueeze -> Sub -> Mul -> ReduceSum."""
    n = layer.name
    diff = g.node("Sub", [g.node("Unsqueeze", [x, g.const(f"{n}.axis1", np.array([1]))], n),
                          g.const(f"{n}.prototypes", p[f"{n}.prototypes"])], n)  # fmt: skip
    sq = g.node("Mul", [diff, diff], n)
    return g.node("ReduceSum", [sq, g.const(f"{n}.axis2", np.array([2]))], n, keepdims=0)


KIND = Kind(
    name=RBF.kind,
    layer_type=RBF,
    forward=forward,
    train_forward=train_forward,
    backward=backward,
    quantize=quantize,
    forward_int8=forward_int8,
    lower={"float32": lower_float32, "int8": lower_int8},
    to_onnx=to_onnx,
)
