"""Forward and backward passes of every layer kind, vectorised for training.

Each layer kind has ``forward(layer, x, params) -> (y, cache)`` and
``backward(layer, dy, cache, params, need_dx) -> (dx, grads)`` where ``grads`` maps the
parameter suffix (``weight``, ``bias``, ``coeff`` ...) to its gradient. Arithmetic stays in
the dtype of ``x`` (float32 to train, float64 for gradient checks); the forward pass computes
the same function as :mod:`lenetc.reference` (checked in the tests), only faster: convolutions
are im2col + one matrix product, windows are gathered once and scattered back per tap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import LenetcError
from ..layers import (
    RBF,
    SCALED_TANH_A,
    SCALED_TANH_S,
    Act,
    Activation,
    Conv2D,
    Dense,
    Flatten,
    Layer,
    Pool2D,
    Softmax,
    Subsampling,
)

Cache = dict[str, Any]
Grads = dict[str, np.ndarray]


def _param(params: dict[str, np.ndarray], layer: Layer, suffix: str, dtype) -> np.ndarray:
    return np.asarray(params[f"{layer.name}.{suffix}"], dtype=dtype)


# ---- activations ---------------------------------------------------------------------------


def act_forward(act: Act | None, z: np.ndarray) -> np.ndarray:
    if act is None:
        return z
    fn = act.fn
    if fn == "relu":
        return np.maximum(z, 0)
    if fn == "tanh":
        return np.tanh(z)
    if fn == "scaled_tanh":
        return SCALED_TANH_A * np.tanh(SCALED_TANH_S * z)
    if fn == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if fn == "leaky_relu":
        return np.where(z >= 0, z, z * act.alpha)
    if fn == "clip":
        return np.clip(z, act.lo, act.hi)
    raise LenetcError(f"activation '{fn}' cannot be trained")


def act_backward(act: Act | None, dy: np.ndarray, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dL/dz from dL/dy, given the pre-activation ``z`` and the output ``y``."""
    if act is None:
        return dy
    fn = act.fn
    if fn == "relu":
        return dy * (z > 0)
    if fn == "tanh":
        return dy * (1 - y * y)
    if fn == "scaled_tanh":
        # y = A tanh(S z)  =>  dy/dz = S (A - y^2 / A)
        return dy * (SCALED_TANH_S * (SCALED_TANH_A - y * y / SCALED_TANH_A))
    if fn == "sigmoid":
        return dy * (y * (1 - y))
    if fn == "leaky_relu":
        return dy * np.where(z >= 0, 1, act.alpha).astype(dy.dtype)
    if fn == "clip":
        return dy * ((z >= act.lo) & (z <= act.hi))
    raise LenetcError(f"activation '{fn}' cannot be trained")


# ---- windows: gather (im2col) and scatter (col2im) -----------------------------------------


def _windows(xp: np.ndarray, kernel, stride, out_hw) -> np.ndarray:
    """(N, C, OH, OW, KH, KW) view of the windows of the padded input."""
    win = sliding_window_view(xp, kernel, axis=(2, 3))[:, :, :: stride[0], :: stride[1]]
    return win[:, :, : out_hw[0], : out_hw[1]]


def _scatter(dwin: np.ndarray, padded_hw, stride) -> np.ndarray:
    """Adjoint of :func:`_windows`: add (N, C, OH, OW, KH, KW) window gradients into the padded input."""
    n, c, oh, ow, kh, kw = dwin.shape
    sh, sw = stride
    dxp = np.zeros((n, c, *padded_hw), dtype=dwin.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw] += dwin[:, :, :, :, i, j]
    return dxp


def _pad(x: np.ndarray, pad, value: float = 0.0) -> np.ndarray:
    pt, pl, pb, pr = pad
    if not any(pad):
        return x
    return np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=value)


def _crop(dxp: np.ndarray, pad, hw) -> np.ndarray:
    pt, pl = pad[0], pad[1]
    return dxp[:, :, pt : pt + hw[0], pl : pl + hw[1]]


# ---- convolution ---------------------------------------------------------------------------


def conv2d_forward(layer: Conv2D, x: np.ndarray, params) -> tuple[np.ndarray, Cache]:
    dt = x.dtype
    weight = _param(params, layer, "weight", dt)
    if layer.sparse:
        weight = weight * _param(params, layer, "table", dt)[:, :, None, None]
    bias = _param(params, layer, "bias", dt)
    n = x.shape[0]
    _, oh, ow = layer.output_shape(x.shape[1:])
    # im2col in channels-last order: rows are output pixels (n, oh, ow), columns (kh, kw, c).
    # Gathering from an NHWC copy reads contiguous channels, several times faster than NCHW.
    xp = _pad(x, layer.padding)
    xh = np.ascontiguousarray(xp.transpose(0, 2, 3, 1))
    win = sliding_window_view(xh, layer.kernel, axis=(1, 2))[:, :: layer.stride[0], :: layer.stride[1]]
    win = win[:, :oh, :ow]  # (n, oh, ow, c, kh, kw)
    g, cin = layer.groups, x.shape[1] // layer.groups
    gout = layer.out_channels // g
    w_hwc = weight.transpose(0, 2, 3, 1)  # (o, kh, kw, cin) to match the columns
    cols, outs = [], []
    for k in range(g):
        col = win[:, :, :, k * cin : (k + 1) * cin].transpose(0, 1, 2, 4, 5, 3).reshape(n * oh * ow, -1)
        cols.append(col)
        outs.append(col @ w_hwc[k * gout : (k + 1) * gout].reshape(gout, -1).T)
    z = np.concatenate(outs, axis=1) if g > 1 else outs[0]
    z = z.reshape(n, oh, ow, layer.out_channels).transpose(0, 3, 1, 2) + bias[None, :, None, None]
    y = act_forward(layer.act, z)
    return y, {"cols": cols, "z": z, "y": y, "x_shape": x.shape, "xp_hw": xp.shape[2:], "w_hwc": w_hwc}


def conv2d_backward(layer: Conv2D, dy, cache, params, need_dx=True) -> tuple[np.ndarray | None, Grads]:
    dz = act_backward(layer.act, dy, cache["z"], cache["y"])
    n, c, h, w = cache["x_shape"]
    _, o, oh, ow = dz.shape
    g = layer.groups
    cin, gout = c // g, o // g
    kh, kw = layer.kernel
    sh, sw = layer.stride
    dz2 = dz.transpose(0, 2, 3, 1).reshape(n * oh * ow, o)
    w_hwc = cache["w_hwc"]
    dws = []
    dxp = np.zeros((n, *cache["xp_hw"], c), dtype=dz.dtype) if need_dx else None
    for k in range(g):
        d = dz2[:, k * gout : (k + 1) * gout]
        dws.append((d.T @ cache["cols"][k]).reshape(gout, kh, kw, cin).transpose(0, 3, 1, 2))
        if dxp is not None:
            dcol = (d @ w_hwc[k * gout : (k + 1) * gout].reshape(gout, -1)).reshape(n, oh, ow, kh, kw, cin)
            # col2im: add each kernel tap's contribution back at its input position (NHWC).
            for i in range(kh):
                for j in range(kw):
                    rows = slice(i, i + sh * (oh - 1) + 1, sh)
                    cols = slice(j, j + sw * (ow - 1) + 1, sw)
                    dxp[:, rows, cols, k * cin : (k + 1) * cin] += dcol[:, :, :, i, j, :]
    dweight = np.concatenate(dws, axis=0) if g > 1 else dws[0]
    if layer.sparse:
        dweight = dweight * _param(params, layer, "table", dweight.dtype)[:, :, None, None]
    grads = {"weight": np.ascontiguousarray(dweight), "bias": dz.sum(axis=(0, 2, 3))}
    if dxp is None:
        return None, grads
    return _crop(dxp.transpose(0, 3, 1, 2), layer.padding, (h, w)), grads


# ---- LeNet-5 subsampling -------------------------------------------------------------------


def subsampling_forward(layer: Subsampling, x, params):
    s = layer.size
    n, c, h, w = x.shape
    sums = x.reshape(n, c, h // s, s, w // s, s).sum(axis=(3, 5))
    coeff = _param(params, layer, "coeff", x.dtype)[None, :, None, None]
    z = sums * coeff + _param(params, layer, "bias", x.dtype)[None, :, None, None]
    y = act_forward(layer.act, z)
    return y, {"sums": sums, "z": z, "y": y, "coeff": coeff}


def subsampling_backward(layer: Subsampling, dy, cache, params, need_dx=True):
    dz = act_backward(layer.act, dy, cache["z"], cache["y"])
    grads = {"coeff": (dz * cache["sums"]).sum(axis=(0, 2, 3)), "bias": dz.sum(axis=(0, 2, 3))}
    if not need_dx:
        return None, grads
    s = layer.size
    n, c, oh, ow = dz.shape
    dsum = dz * cache["coeff"]
    dx = np.broadcast_to(dsum[:, :, :, None, :, None], (n, c, oh, s, ow, s)).reshape(n, c, oh * s, ow * s)
    return dx, grads


# ---- pooling -------------------------------------------------------------------------------


def _pool_geometry(layer: Pool2D, x):
    _, oh, ow = layer.output_shape(x.shape[1:])
    (kh, kw), (sh, sw), (pt, pl, _, _) = layer.kernel, layer.stride, layer.padding
    # Pad generously (as the reference does) so ceil_mode windows past the padding are views too.
    pad = (pt, pl, kh + sh, kw + sw)
    return oh, ow, pad


def _tiles(layer: Pool2D, x) -> bool:
    """True when the windows tile the input exactly (kernel == stride, no padding): the fast path."""
    (kh, kw), h, w = layer.kernel, x.shape[2], x.shape[3]
    return layer.stride == layer.kernel and not any(layer.padding) and h % kh == 0 and w % kw == 0


def pool2d_forward(layer: Pool2D, x, params):
    oh, ow, pad = _pool_geometry(layer, x)
    n, c = x.shape[:2]
    kh, kw = layer.kernel
    if layer.mode == "max" and _tiles(layer, x):
        xr = x.reshape(n, c, oh, kh, ow, kw)
        y = xr.max(axis=(3, 5))
        return y, {"xr": xr, "y": y, "x_shape": x.shape}
    if layer.mode == "max":
        xp = _pad(x, pad, -np.inf)
        win = _windows(xp, layer.kernel, layer.stride, (oh, ow)).reshape(n, c, oh, ow, kh * kw)
        arg = win.argmax(axis=4)[..., None]
        y = np.take_along_axis(win, arg, axis=4)[..., 0]
        return y, {"arg": arg, "x_shape": x.shape, "xp_hw": xp.shape[2:], "pad": pad}
    xp = _pad(x, pad, 0.0)
    win = _windows(xp, layer.kernel, layer.stride, (oh, ow))
    count = _avg_count(layer, x.shape[2:], oh, ow).astype(x.dtype)
    y = win.sum(axis=(4, 5)) / count
    return y, {"count": count, "x_shape": x.shape, "xp_hw": xp.shape[2:], "pad": pad}


def _avg_count(layer: Pool2D, hw, oh: int, ow: int) -> np.ndarray:
    """How many cells each average window divides by (the reference's rule)."""
    h, w = hw
    (kh, kw), (sh, sw), (pt, pl, pb, pr) = layer.kernel, layer.stride, layer.padding
    ys, xs = np.arange(oh) * sh - pt, np.arange(ow) * sw - pl
    if layer.count_include_pad:
        ch, cw = np.minimum(ys + kh, h + pb) - ys, np.minimum(xs + kw, w + pr) - xs
    else:
        ch = np.minimum(ys + kh, h) - np.maximum(ys, 0)
        cw = np.minimum(xs + kw, w) - np.maximum(xs, 0)
    return ch[:, None] * cw[None, :]


def pool2d_backward(layer: Pool2D, dy, cache, params, need_dx=True):
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
    dxp = _scatter(dwin, cache["xp_hw"], layer.stride)
    return _crop(dxp, cache["pad"], (h, w)), {}


# ---- reshaping, dense, activations ---------------------------------------------------------


def flatten_forward(layer: Flatten, x, params):
    shape = x.shape
    if layer.order == "HWC" and x.ndim == 4:
        x = x.transpose(0, 2, 3, 1)
    return x.reshape(shape[0], -1), {"x_shape": shape}


def flatten_backward(layer: Flatten, dy, cache, params, need_dx=True):
    n, *rest = cache["x_shape"]
    if layer.order == "HWC" and len(rest) == 3:
        c, h, w = rest
        return dy.reshape(n, h, w, c).transpose(0, 3, 1, 2), {}
    return dy.reshape(cache["x_shape"]), {}


def dense_forward(layer: Dense, x, params):
    x2 = x.reshape(x.shape[0], -1)
    z = x2 @ _param(params, layer, "weight", x.dtype).T + _param(params, layer, "bias", x.dtype)
    y = act_forward(layer.act, z)
    return y, {"x2": x2, "x_shape": x.shape, "z": z, "y": y}


def dense_backward(layer: Dense, dy, cache, params, need_dx=True):
    dz = act_backward(layer.act, dy, cache["z"], cache["y"])
    grads = {"weight": dz.T @ cache["x2"], "bias": dz.sum(axis=0)}
    if not need_dx:
        return None, grads
    dx = dz @ _param(params, layer, "weight", dz.dtype)
    return dx.reshape(cache["x_shape"]), grads


def activation_forward(layer: Activation, x, params):
    y = act_forward(layer.act, x)
    return y, {"z": x, "y": y}


def activation_backward(layer: Activation, dy, cache, params, need_dx=True):
    return act_backward(layer.act, dy, cache["z"], cache["y"]), {}


def softmax_forward(layer: Softmax, x, params):
    z = x - x.max(axis=1, keepdims=True)
    if layer.log:
        y = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return y, {"y": y}
    e = np.exp(z)
    y = e / e.sum(axis=1, keepdims=True)
    return y, {"y": y}


def softmax_backward(layer: Softmax, dy, cache, params, need_dx=True):
    y = cache["y"]
    if layer.log:
        return dy - np.exp(y) * dy.sum(axis=1, keepdims=True), {}
    return y * (dy - (dy * y).sum(axis=1, keepdims=True)), {}


def rbf_forward(layer: RBF, x, params):
    proto = _param(params, layer, "prototypes", x.dtype)
    diff = x[:, None, :] - proto[None, :, :]
    return (diff * diff).sum(axis=2), {"diff": diff}


def rbf_backward(layer: RBF, dy, cache, params, need_dx=True):
    # y_i = sum_j (x_j - w_ij)^2: dy_i/dx_j = 2 (x_j - w_ij) = -dy_i/dw_ij
    g = 2 * dy[:, :, None] * cache["diff"]
    return g.sum(axis=1), {"prototypes": -g.sum(axis=0)}


LAYER_GRADS: dict[type[Layer], tuple[Callable, Callable]] = {
    Conv2D: (conv2d_forward, conv2d_backward),
    Subsampling: (subsampling_forward, subsampling_backward),
    Pool2D: (pool2d_forward, pool2d_backward),
    Flatten: (flatten_forward, flatten_backward),
    Dense: (dense_forward, dense_backward),
    Activation: (activation_forward, activation_backward),
    Softmax: (softmax_forward, softmax_backward),
    RBF: (rbf_forward, rbf_backward),
}


def layer_forward(layer: Layer, x: np.ndarray, params) -> tuple[np.ndarray, Cache]:
    if type(layer) not in LAYER_GRADS:
        raise LenetcError(f"layer '{layer.name}' ({layer.kind}) cannot be trained")
    return LAYER_GRADS[type(layer)][0](layer, x, params)


def layer_backward(layer: Layer, dy: np.ndarray, cache: Cache, params, need_dx: bool = True):
    return LAYER_GRADS[type(layer)][1](layer, dy, cache, params, need_dx)
