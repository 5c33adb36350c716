"""Max and average pooling (``pool2d``): kernel, stride, padding, ceil mode, both count modes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import LenetcError
from ..fixedpoint import round_div
from .base import Kind, Layer, Node, Params, QLayer, QuantStep, at_least, checked_geometry, chw, pair, quad
from .given import GivenStep
from .int8_linear import qdoc
from .windows import crop, pad, scatter, windows

POOL_MODES = ("max", "avg")


def pooled_size(size: int, k: int, s: int, p0: int, p1: int, ceil_mode: bool) -> int:
    span = size + p0 + p1 - k
    n = (-(-span // s) if ceil_mode else span // s) + 1
    # ONNX/PyTorch rule: a window that starts inside the right padding is dropped.
    if ceil_mode and (n - 1) * s >= size + p0:
        n -= 1
    return n


@dataclass
class Pool2D(Layer):
    """Max or average pooling. Average pooling divides by the window size, or by the
    number of non-padding inputs when ``count_include_pad`` is false."""

    mode: str = "max"
    kernel: tuple[int, int] = (2, 2)
    stride: tuple[int, int] | None = None
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    ceil_mode: bool = False
    count_include_pad: bool = False
    kind = "pool2d"

    def __post_init__(self) -> None:
        if self.mode not in POOL_MODES:
            raise LenetcError(f"layer '{self.name}': pooling mode must be 'max' or 'avg', not '{self.mode}'")

        def normalise() -> None:
            self.kernel = pair(self.kernel)
            self.stride = pair(self.stride, "stride") if self.stride is not None else self.kernel
            self.padding = quad(self.padding)

        checked_geometry(self, normalise)
        at_least(self, 1, kernel=self.kernel, stride=self.stride)
        at_least(self, 0, padding=self.padding)
        (kh, kw), (pt, pl, pb, pr) = self.kernel, self.padding
        if max(pt, pb) >= kh or max(pl, pr) >= kw:
            # a window lying wholly in the padding would have no input to take the max or mean of
            raise LenetcError(f"layer '{self.name}': padding {list(self.padding)} must be smaller than the window")

    def output_shape(self, in_shape):
        c, h, w = chw(self, in_shape)
        (kh, kw), (sh, sw), (pt, pl, pb, pr) = self.kernel, self.stride, self.padding
        if kh > h + pt + pb or kw > w + pl + pr:
            raise LenetcError(f"layer '{self.name}': window {kh}x{kw} larger than input {h}x{w}")
        return (c, pooled_size(h, kh, sh, pt, pb, self.ceil_mode), pooled_size(w, kw, sw, pl, pr, self.ceil_mode))

    def describe(self, in_shape):
        kh, kw = self.kernel
        extra = f" stride {self.stride[0]}" if self.stride != self.kernel else ""
        extra += f" pad {list(self.padding)}" if any(self.padding) else ""
        return f"{self.mode} pool {kh}x{kw}{extra}"

    def needs_clamp(self, in_shape) -> bool:
        """True when some window reaches into padding or past the input (ceil mode)."""
        _, h, w = in_shape
        _, oh, ow = self.output_shape(in_shape)
        (kh, kw), (sh, sw) = self.kernel, self.stride
        return any(self.padding) or (oh - 1) * sh + kh > h or (ow - 1) * sw + kw > w


def avg_pool_counts(layer: Pool2D, in_hw: tuple[int, int], out_hw: tuple[int, int]) -> np.ndarray:
    """(OH, OW) divisors of average pooling: the window's input cells, plus its padding cells
    when ``count_include_pad`` (never the cells beyond the padding of a ceil_mode overhang)."""
    (kh, kw), (sh, sw), (pt, pl, pb, pr) = layer.kernel, layer.stride, layer.padding
    h, w = in_hw
    ys, xs = np.arange(out_hw[0]) * sh - pt, np.arange(out_hw[1]) * sw - pl
    if layer.count_include_pad:
        ch = np.minimum(ys + kh, h + pb) - ys
        cw = np.minimum(xs + kw, w + pr) - xs
    else:
        ch = np.minimum(ys + kh, h) - np.maximum(ys, 0)
        cw = np.minimum(xs + kw, w) - np.maximum(xs, 0)
    return ch[:, None] * cw[None, :]


def _generous_padding(layer: Pool2D) -> tuple[int, int, int, int]:
    """Padding large enough that ceil_mode windows running past the padding are views too."""
    (kh, kw), (sh, sw), (pt, pl, _, _) = layer.kernel, layer.stride, layer.padding
    return (pt, pl, kh + sh, kw + sw)


def forward(layer: Pool2D, x: np.ndarray, p: Params) -> np.ndarray:
    _, oh, ow = layer.output_shape(x.shape[1:])
    extra = _generous_padding(layer)
    if layer.mode == "max":
        return windows(pad(x, extra, -np.inf), layer.kernel, layer.stride, (oh, ow)).max(axis=(4, 5))
    win = windows(pad(x, extra, 0.0), layer.kernel, layer.stride, (oh, ow))
    return win.sum(axis=(4, 5)) / avg_pool_counts(layer, x.shape[2:], (oh, ow)).astype(np.float64)


def _tiles(layer: Pool2D, x) -> bool:
    """True when the windows tile the input exactly (kernel == stride, no padding): the fast path."""
    (kh, kw), h, w = layer.kernel, x.shape[2], x.shape[3]
    return layer.stride == layer.kernel and not any(layer.padding) and h % kh == 0 and w % kw == 0


def train_forward(layer: Pool2D, x, params):
    _, oh, ow = layer.output_shape(x.shape[1:])
    extra = _generous_padding(layer)
    n, c = x.shape[:2]
    kh, kw = layer.kernel
    if layer.mode == "max" and _tiles(layer, x):
        xr = x.reshape(n, c, oh, kh, ow, kw)
        y = xr.max(axis=(3, 5))
        return y, {"xr": xr, "y": y, "x_shape": x.shape}
    if layer.mode == "max":
        xp = pad(x, extra, -np.inf)
        win = windows(xp, layer.kernel, layer.stride, (oh, ow)).reshape(n, c, oh, ow, kh * kw)
        arg = win.argmax(axis=4)[..., None]
        y = np.take_along_axis(win, arg, axis=4)[..., 0]
        return y, {"arg": arg, "x_shape": x.shape, "xp_hw": xp.shape[2:], "pad": extra}
    xp = pad(x, extra, 0.0)
    win = windows(xp, layer.kernel, layer.stride, (oh, ow))
    count = avg_pool_counts(layer, x.shape[2:], (oh, ow)).astype(x.dtype)
    y = win.sum(axis=(4, 5)) / count
    return y, {"count": count, "x_shape": x.shape, "xp_hw": xp.shape[2:], "pad": extra}


def backward(layer: Pool2D, dy, cache, params, need_dx=True):
    if not need_dx:
        return None, {}
    n, c, h, w = cache["x_shape"]
    _, _, oh, ow = dy.shape
    kh, kw = layer.kernel
    if "xr" in cache:
        # Tiled max pool: the gradient goes to the window's maximum; exact ties (rare in float,
        # common only for ReLU zeros whose gradient is zero anyway) share it equally.
        hit = cache["xr"] == cache["y"][:, :, :, None, :, None]
        share = dy / hit.sum(axis=(3, 5))
        dx = hit * share[:, :, :, None, :, None]
        return dx.reshape(n, c, h, w), {}
    if layer.mode == "max":
        dwin = np.zeros((n, c, oh, ow, kh * kw), dtype=dy.dtype)
        np.put_along_axis(dwin, cache["arg"], dy[..., None], axis=4)
        dwin = dwin.reshape(n, c, oh, ow, kh, kw)
    else:
        d = dy / cache["count"]
        dwin = np.broadcast_to(d[..., None, None], (n, c, oh, ow, kh, kw))
    dxp = scatter(dwin, cache["xp_hw"], layer.stride)
    return crop(dxp, cache["pad"], (h, w)), {}


@dataclass
class QPool2D(QLayer):
    """Pooling in int8: no constants; the output keeps the input's scale and zero point (max and
    mean commute with the affine map), so ``out_q == in_q``."""


def quantize(step: QuantStep) -> QPool2D:
    layer = step.layer
    return QPool2D(layer.name, layer, step.in_shape, step.out_shape, step.in_q, step.in_q)


def from_scales(step: GivenStep) -> QPool2D:
    """Pooling as the file quantizes it: the output must keep the input's quantization."""
    layer = step.layer
    q_in = step.same_quantization()
    return QPool2D(layer.name, layer, step.in_shape, step.out_shape, q_in, q_in)


def forward_int8(q: QPool2D, x: np.ndarray) -> np.ndarray:
    layer: Pool2D = q.layer
    _, oh, ow = q.out_shape
    extra = _generous_padding(layer)
    if layer.mode == "max":
        # Padding never wins: pad with a value below every int8.
        win = windows(pad(x.astype(np.int64), extra, -1000), layer.kernel, layer.stride, (oh, ow))
        return win.max(axis=(4, 5)).astype(np.int8)
    zp = avg_zero_point(q)
    # Sum of (q - zp) over real cells; padding is real 0 and adds nothing.
    win = windows(pad(x.astype(np.int64) - zp, extra, 0), layer.kernel, layer.stride, (oh, ow))
    sums = win.sum(axis=(4, 5))
    count = avg_pool_counts(layer, x.shape[2:], (oh, ow)).astype(np.int64)
    return np.clip(zp + round_div(sums, count), -128, 127).astype(np.int8)


def avg_zero_point(q: QLayer) -> int:
    """What an int8 average subtracts before dividing: the zero point (lenetc's rule, the mean of
    real values), or 0 under TFLM's rule, which rounds the mean of the raw int8 values (the two
    differ by one where a tie rounds away from zero on opposite sides of 0)."""
    return 0 if q.rounding == "tflm" else q.in_q.zero_point


def _ctx(layer: Pool2D, in_shape, out_shape) -> dict:
    c, h, w = in_shape
    (kh, kw), (sh, sw), (pt, pl, pb, pr) = layer.kernel, layer.stride, layer.padding
    _, oh, ow = out_shape
    return {"c": c, "ih": h, "iw": w, "oh": oh, "ow": ow, "kh": kh, "kw": kw, "sh": sh, "sw": sw,
            "pt": pt, "pl": pl, "pb": pb, "pr": pr, "mode": layer.mode, "clamp": layer.needs_clamp(in_shape),
            "count_include_pad": layer.count_include_pad}  # fmt: skip


def epilogue(lw, node: Node) -> dict | None:
    """The context of this pooling computed inside the convolution before it, or None when its
    windows do not tile the rows (overlapping or padded windows stay a kernel of their own)."""
    layer: Pool2D = node.layer
    if layer.stride != layer.kernel or any(layer.padding) or layer.needs_clamp(node.in_shape):
        return None
    _, ph, pw = node.out_shape
    ctx = {"mode": layer.mode, "kh": layer.kernel[0], "kw": layer.kernel[1], "ph": ph, "pw": pw,
           "doc": layer.describe(node.in_shape)}  # fmt: skip
    if node.q is not None:
        ctx["zp"] = avg_zero_point(node.q)
    return ctx


def lower_float32(lw, node: Node, src: int) -> int:
    ctx = _ctx(node.layer, node.in_shape, node.out_shape)
    return lw.emit("pool2d/pool2d", node.layer.name, src, node.out_shape, ctx, doc=node.layer.describe(node.in_shape))


def lower_int8(lw, node: Node, src: int) -> int:
    q = node.q
    ctx = {**_ctx(q.layer, q.in_shape, q.out_shape), "zp": avg_zero_point(q)}
    return lw.emit("pool2d/pool2d", q.name, src, q.out_shape, ctx, doc=qdoc(q))


def to_onnx(g, layer: Pool2D, in_shape, p: Params, x: str) -> str:
    pt, pl, pb, pr = layer.padding
    attrs = {"kernel_shape": list(layer.kernel), "strides": list(layer.stride), "pads": [pt, pl, pb, pr],
             "ceil_mode": int(layer.ceil_mode)}  # fmt: skip
    if layer.mode == "avg":
        return g.node("AveragePool", [x], layer.name, count_include_pad=int(layer.count_include_pad), **attrs)
    return g.node("MaxPool", [x], layer.name, **attrs)


def to_qdq(g, q, x: str) -> str:
    """QDQ ONNX: the pooling on the dequantized input, then the output quantization."""
    layer = q.layer
    pt, pl, pb, pr = layer.padding
    attrs = {"kernel_shape": list(layer.kernel), "strides": list(layer.stride), "pads": [pt, pl, pb, pr],
             "ceil_mode": int(layer.ceil_mode)}  # fmt: skip
    xf = g.dequant(x, q.in_q, q.name)
    if layer.mode == "avg":
        y = g.node("AveragePool", [xf], q.name, count_include_pad=int(layer.count_include_pad), **attrs)
    else:
        y = g.node("MaxPool", [xf], q.name, **attrs)
    return g.quant(y, q.out_q, q.name)


KIND = Kind(
    name=Pool2D.kind,
    layer_type=Pool2D,
    forward=forward,
    train_forward=train_forward,
    backward=backward,
    quantize=quantize,
    forward_int8=forward_int8,
    lower={"float32": lower_float32, "int8": lower_int8},
    to_onnx=to_onnx,
    epilogue=epilogue,
    from_scales=from_scales,
    to_qdq=to_qdq,
)
