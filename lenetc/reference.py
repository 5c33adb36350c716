"""The NumPy float64 reference forward pass: the source of truth the generated C is checked against.

Each layer kind has one function, written to be obviously right rather than fast:
windows come from ``sliding_window_view`` and sums from ``einsum``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .errors import LenetcError
from .layers import (
    RBF,
    SCALED_TANH_A,
    SCALED_TANH_S,
    Act,
    Activation,
    Affine,
    Conv2D,
    Dense,
    Flatten,
    Layer,
    Pool2D,
    Shape,
    Softmax,
    Subsampling,
)


def as_batch(x: np.ndarray, input_shape: Shape) -> tuple[np.ndarray, bool]:
    """Return ``x`` as (N, C, H, W) and whether it was a single image.

    Accepts (N, C, H, W), (N, H, W) for one-channel inputs, (C, H, W) and (H, W).
    """
    x = np.asarray(x)
    shape = tuple(input_shape)
    if x.shape == shape:
        return x[None], True
    if shape[0] == 1 and x.shape == shape[1:]:
        return x[None, None], True
    if x.ndim == 4 and x.shape[1:] == shape:
        return x, False
    if shape[0] == 1 and x.ndim == 3 and x.shape[1:] == shape[1:]:
        return x[:, None], False
    raise LenetcError(f"input has shape {x.shape}; expected (N, {', '.join(map(str, shape))}) or one image {shape}")


def apply_act(act: Act | None, x: np.ndarray) -> np.ndarray:
    if act is None:
        return x
    if act.fn == "relu":
        return np.maximum(x, 0.0)
    if act.fn == "tanh":
        return np.tanh(x)
    if act.fn == "scaled_tanh":
        return SCALED_TANH_A * np.tanh(SCALED_TANH_S * x)
    if act.fn == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if act.fn == "leaky_relu":
        return np.where(x >= 0.0, x, act.alpha * x)
    if act.fn == "clip":
        return np.clip(x, act.lo, act.hi)
    raise LenetcError(f"activation '{act.fn}' has no reference implementation")


def _pad(x: np.ndarray, padding: tuple[int, int, int, int], value: float) -> np.ndarray:
    pt, pl, pb, pr = padding
    return np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=value)


def _windows(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], out_hw: tuple[int, int]) -> np.ndarray:
    """(N, C, OH, OW, KH, KW) view of the windows of ``x`` (already padded)."""
    win = sliding_window_view(x, kernel, axis=(2, 3))[:, :, :: stride[0], :: stride[1]]
    return win[:, :, : out_hw[0], : out_hw[1]]


def conv2d(layer: Conv2D, x: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    weight = p[f"{layer.name}.weight"].astype(np.float64)
    if layer.sparse:
        weight = weight * p[f"{layer.name}.table"].astype(np.float64)[:, :, None, None]
    _, oh, ow = layer.output_shape(x.shape[1:])
    win = _windows(_pad(x, layer.padding, 0.0), layer.kernel, layer.stride, (oh, ow))
    g, cin = layer.groups, x.shape[1] // layer.groups
    gout = layer.out_channels // g
    parts = [
        np.einsum(
            "nchwij,ocij->nohw", win[:, k * cin : (k + 1) * cin], weight[k * gout : (k + 1) * gout], optimize=True
        )
        for k in range(g)
    ]
    y = np.concatenate(parts, axis=1) + p[f"{layer.name}.bias"].astype(np.float64)[None, :, None, None]
    return apply_act(layer.act, y)


def subsampling(layer: Subsampling, x: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    s = layer.size
    n, c, h, w = x.shape
    sums = x.reshape(n, c, h // s, s, w // s, s).sum(axis=(3, 5))
    coeff = p[f"{layer.name}.coeff"].astype(np.float64)[None, :, None, None]
    bias = p[f"{layer.name}.bias"].astype(np.float64)[None, :, None, None]
    return apply_act(layer.act, sums * coeff + bias)


def pool2d(layer: Pool2D, x: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    _, oh, ow = layer.output_shape(x.shape[1:])
    (kh, kw), (sh, sw), (pt, pl, _, _) = layer.kernel, layer.stride, layer.padding
    # Pad generously so that ceil_mode windows that run past the padding are views too.
    extra = ((0, 0), (0, 0), (pt, kh + sh), (pl, kw + sw))
    if layer.mode == "max":
        win = _windows(np.pad(x, extra, constant_values=-np.inf), layer.kernel, layer.stride, (oh, ow))
        return win.max(axis=(4, 5))
    win = _windows(np.pad(x, extra, constant_values=0.0), layer.kernel, layer.stride, (oh, ow))
    return win.sum(axis=(4, 5)) / avg_pool_counts(layer, x.shape[2:], (oh, ow)).astype(np.float64)


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


def flatten(layer: Flatten, x: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    if layer.order == "HWC" and x.ndim == 4:
        x = x.transpose(0, 2, 3, 1)
    return x.reshape(x.shape[0], -1)


def dense(layer: Dense, x: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    x = x.reshape(x.shape[0], -1)
    y = x @ p[f"{layer.name}.weight"].astype(np.float64).T + p[f"{layer.name}.bias"].astype(np.float64)
    return apply_act(layer.act, y)


def activation(layer: Activation, x: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    return apply_act(layer.act, x)


def softmax(layer: Softmax, x: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    if layer.log:
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def rbf(layer: RBF, x: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    proto = p[f"{layer.name}.prototypes"].astype(np.float64)
    return ((x[:, None, :] - proto[None, :, :]) ** 2).sum(axis=2)


def affine(layer: Affine, x: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    scale = p[f"{layer.name}.scale"].astype(np.float64)
    shift = p[f"{layer.name}.shift"].astype(np.float64)
    if layer.per == "channel":
        shape = (1, -1) + (1,) * (x.ndim - 2)
        scale, shift = scale.reshape(shape), shift.reshape(shape)
    elif layer.per == "element":
        scale, shift = scale[None], shift[None]
    return x * scale + shift


LAYER_FORWARD: dict[type[Layer], Callable[..., np.ndarray]] = {
    Conv2D: conv2d,
    Subsampling: subsampling,
    Pool2D: pool2d,
    Flatten: flatten,
    Dense: dense,
    Activation: activation,
    Softmax: softmax,
    RBF: rbf,
    Affine: affine,
}


def forward(net, x: np.ndarray, *, return_all: bool = False):
    """Run ``net`` on ``x`` in float64.

    Returns (N, *output_shape) for a batch, the output alone for a single image, or with
    ``return_all`` the list of every layer's batch output (input first).
    """
    batch, single = as_batch(x, net.input_shape)
    h = batch.astype(np.float64)
    outs = [h]
    for layer in net.layers:
        h = LAYER_FORWARD[type(layer)](layer, h, net.params)
        outs.append(h)
    if return_all:
        return outs
    return h[0] if single else h


def predict_classes(net, outputs: np.ndarray) -> np.ndarray:
    """Class indices from outputs: argmin for RBF distances, argmax otherwise."""
    outputs = np.asarray(outputs)
    return outputs.argmin(axis=-1) if net.output_kind == "distance" else outputs.argmax(axis=-1)
