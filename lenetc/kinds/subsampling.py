"""LeNet-5's trainable subsampling (``subsampling``): window sum x per-map coefficient + bias."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..activations import Act, act_grad, act_onnx, apply_act
from ..errors import LenetcError
from .base import Kind, Layer, Node, Params, QuantStep, act_suffix, as_int, at_least, chw, param
from .given import GivenStep
from .int8_linear import QLinear, finish, linear_from_scales, qdoc, quantize_linear, requant_ctx


@dataclass
class Subsampling(Layer):
    """LeNet-5's trainable subsampling: sum of a window, times a per-map ``coeff``, plus a per-map ``bias``."""

    size: int = 2
    act: Act | None = None
    kind = "subsampling"

    def __post_init__(self) -> None:
        self.size = as_int(self.size, f"layer '{self.name}': size")
        at_least(self, 1, size=self.size)

    def output_shape(self, in_shape):
        c, h, w = chw(self, in_shape)
        if h % self.size or w % self.size:
            raise LenetcError(f"layer '{self.name}': input {h}x{w} is not divisible by {self.size}")
        return (c, h // self.size, w // self.size)

    def param_shapes(self, in_shape):
        return {"coeff": (in_shape[0],), "bias": (in_shape[0],)}

    def trainable_params(self, in_shape, params):
        return 2 * in_shape[0]

    def macs(self, in_shape, params):
        return int(np.prod(self.output_shape(in_shape))) * self.size * self.size

    def connections(self, in_shape, params):
        return int(np.prod(self.output_shape(in_shape))) * (self.size * self.size + 1)

    def describe(self, in_shape):
        return f"subsampling {self.size}x{self.size}{act_suffix(self.act)}"


def _window_sums(layer: Subsampling, x: np.ndarray) -> np.ndarray:
    s = layer.size
    n, c, h, w = x.shape
    return x.reshape(n, c, h // s, s, w // s, s).sum(axis=(3, 5))


def forward(layer: Subsampling, x: np.ndarray, p: Params) -> np.ndarray:
    coeff = param(p, layer, "coeff")[None, :, None, None]
    bias = param(p, layer, "bias")[None, :, None, None]
    return apply_act(layer.act, _window_sums(layer, x) * coeff + bias)


def train_forward(layer: Subsampling, x, params):
    sums = _window_sums(layer, x)
    coeff = param(params, layer, "coeff", x.dtype)[None, :, None, None]
    z = sums * coeff + param(params, layer, "bias", x.dtype)[None, :, None, None]
    y = apply_act(layer.act, z)
    return y, {"sums": sums, "z": z, "y": y, "coeff": coeff}


def backward(layer: Subsampling, dy, cache, params, need_dx=True):
    dz = act_grad(layer.act, dy, cache["z"], cache["y"])
    grads = {"coeff": (dz * cache["sums"]).sum(axis=(0, 2, 3)), "bias": dz.sum(axis=(0, 2, 3))}
    if not need_dx:
        return None, grads
    s = layer.size
    n, c, oh, ow = dz.shape
    dsum = dz * cache["coeff"]
    dx = np.broadcast_to(dsum[:, :, :, None, :, None], (n, c, oh, s, ow, s)).reshape(n, c, oh * s, ow * s)
    return dx, grads


@dataclass
class QSubsampling(QLinear):
    """LeNet-5's subsampling in int8: ``weight`` (C,) one int8 coefficient per map, which
    multiplies the sum of its window (``size * size`` inputs)."""


def taps(layer: Subsampling, maps: int) -> np.ndarray:
    """How many inputs each map's coefficient multiplies (the window)."""
    return np.full(maps, layer.size * layer.size, dtype=np.int64)


def quantize(step: QuantStep) -> QSubsampling:
    layer: Subsampling = step.layer
    w = step.params[f"{layer.name}.coeff"].reshape(-1, 1)
    q = quantize_linear(QSubsampling, step, w, step.params[f"{layer.name}.bias"], taps(layer, w.shape[0]))
    q.weight = q.weight.reshape(-1)
    return q


def from_scales(step: GivenStep) -> QSubsampling:
    """The file's integer coefficient per map (C,) and its scales (the importer reads it from a
    depthwise convolution whose window taps are all equal)."""
    layer: Subsampling = step.layer
    maps = step.in_shape[0]
    return linear_from_scales(QSubsampling, step, (maps,), taps(layer, maps))


def forward_int8(q: QSubsampling, x: np.ndarray) -> np.ndarray:
    sums = _window_sums(q.layer, x.astype(np.int64))
    acc = sums * q.weight.astype(np.int64)[None, :, None, None] + q.bias.astype(np.int64)[None, :, None, None]
    return finish(q, acc, 1)


def epilogue(lw, node: Node) -> dict:
    """The context of this subsampling computed inside the convolution before it."""
    layer: Subsampling = node.layer
    _, ph, pw = node.out_shape
    ctx = {"mode": "subsampling", "kh": layer.size, "kw": layer.size, "ph": ph, "pw": pw,
           "doc": layer.describe(node.in_shape)}  # fmt: skip
    fn = lw.fn_name(layer.name)
    if node.q is None:
        ctx.update(act=layer.act, coeff=lw.const(fn, "coeff", param(lw.params, layer, "coeff", np.float32)),
                   bias=lw.const(fn, "bias", param(lw.params, layer, "bias", np.float32)))  # fmt: skip
    else:
        ctx.update(requant_ctx(lw, fn, node.q))
        ctx["weight"] = lw.const(fn, "coeff", node.q.weight, "int8_t", "per-map coefficient, symmetric int8")
    return ctx


def lower_float32(lw, node: Node, src: int) -> int:
    layer: Subsampling = node.layer
    c, h, w = node.in_shape
    out_shape = node.out_shape
    fn = lw.fn_name(layer.name)
    ctx = {"c": c, "ih": h, "iw": w, "oh": out_shape[1], "ow": out_shape[2], "s": layer.size, "act": layer.act,
           "coeff": lw.const(fn, "coeff", param(lw.params, layer, "coeff", np.float32)),
           "bias": lw.const(fn, "bias", param(lw.params, layer, "bias", np.float32))}  # fmt: skip
    return lw.emit("subsampling/float32", layer.name, src, out_shape, ctx, doc=layer.describe(node.in_shape), fn=fn)


def lower_int8(lw, node: Node, src: int) -> int:
    q = node.q
    c, h, w = q.in_shape
    fn = lw.fn_name(q.name)
    ctx = requant_ctx(lw, fn, q)
    coeff = lw.const(fn, "coeff", q.weight, "int8_t", "per-map coefficient, symmetric int8")
    ctx.update(c=c, ih=h, iw=w, oh=q.out_shape[1], ow=q.out_shape[2], s=q.layer.size, weight=coeff)
    return lw.emit("subsampling/int8", q.name, src, q.out_shape, ctx, doc=qdoc(q), fn=fn)


def to_onnx(g, layer: Subsampling, in_shape, p: Params, x: str) -> str:
    """A depthwise Conv whose s x s kernel holds the map's coefficient."""
    n, c, s = layer.name, in_shape[0], layer.size
    w = np.broadcast_to(p[f"{n}.coeff"].astype(np.float32)[:, None, None, None], (c, 1, s, s))
    x = g.node("Conv", [x, g.const(f"{n}.weight", w), g.const(f"{n}.bias", p[f"{n}.bias"])], n,
               kernel_shape=[s, s], strides=[s, s], group=c)  # fmt: skip
    return act_onnx(g, layer.act, x, n)


def init_params(layer: Subsampling, in_shape, params: Params, rng) -> Params:
    """Coefficients near 1/window (an average), zero biases."""
    c = in_shape[0]
    return {
        f"{layer.name}.coeff": rng.uniform(0.8, 1.2, c).astype(np.float32) / layer.size**2,
        f"{layer.name}.bias": np.zeros(c, np.float32),
    }


def fan_in(layer: Subsampling, in_shape, suffix: str, shape, params: Params) -> int:
    return layer.size * layer.size


KIND = Kind(
    name=Subsampling.kind,
    layer_type=Subsampling,
    forward=forward,
    train_forward=train_forward,
    backward=backward,
    quantize=quantize,
    forward_int8=forward_int8,
    lower={"float32": lower_float32, "int8": lower_int8},
    to_onnx=to_onnx,
    epilogue=epilogue,
    from_scales=from_scales,
    takes_act=True,
    float_requant=True,
    init_params=init_params,
    fan_in=fan_in,
)
