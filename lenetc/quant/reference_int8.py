"""The NumPy integer reference: exactly what the int8 C computes, bit for bit.

Written independently of the C kernels (whole-tensor NumPy: windows from
``sliding_window_view``, sums in int64 with ``einsum``); the only shared pieces are the
quantized constants of :class:`QuantizedNetwork` and the rounding rule of :mod:`requant`.
Every accumulator is checked against the int32 range, so an overflow the C would suffer
shows up here as an error rather than as a silent match.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import LenetcError
from ..layers import Pool2D
from ..reference import as_batch, avg_pool_counts
from .qnetwork import QLayer, QuantizedNetwork
from .requant import requantize, round_div


def _windows(x: np.ndarray, kernel, stride, out_hw) -> np.ndarray:
    win = sliding_window_view(x, kernel, axis=(2, 3))[:, :, :: stride[0], :: stride[1]]
    return win[:, :, : out_hw[0], : out_hw[1]]


def _finish(q: QLayer, acc: np.ndarray, channel_axis: int) -> np.ndarray:
    if np.abs(acc).max(initial=0) > q.acc_bound:
        raise AssertionError(f"layer '{q.name}': accumulator above its proven bound")
    shape = [1] * acc.ndim
    shape[channel_axis] = -1
    out = requantize(acc, q.mult.reshape(shape), q.shift.reshape(shape), q.req_zp, q.lo, q.hi)
    if q.lut is not None:
        out = q.lut[out.astype(np.int64) + 128]
    return out.astype(np.int8)


def conv(q: QLayer, x: np.ndarray) -> np.ndarray:
    layer = q.layer
    pt, pl, pb, pr = layer.padding
    xi = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=q.in_q.zero_point)
    _, oh, ow = q.out_shape
    win = _windows(xi, layer.kernel, layer.stride, (oh, ow))
    w = q.weight.astype(np.int64)
    g = layer.groups
    cin, gout = x.shape[1] // g, layer.out_channels // g
    parts = [
        np.einsum("nchwij,ocij->nohw", win[:, k * cin : (k + 1) * cin], w[k * gout : (k + 1) * gout]) for k in range(g)
    ]
    acc = np.concatenate(parts, axis=1) + q.bias.astype(np.int64)[None, :, None, None]
    return _finish(q, acc, 1)


def dense(q: QLayer, x: np.ndarray) -> np.ndarray:
    acc = x.reshape(x.shape[0], -1).astype(np.int64) @ q.weight.astype(np.int64).T + q.bias.astype(np.int64)
    return _finish(q, acc, 1)


def subsampling(q: QLayer, x: np.ndarray) -> np.ndarray:
    s = q.layer.size
    n, c, h, w = x.shape
    sums = x.astype(np.int64).reshape(n, c, h // s, s, w // s, s).sum(axis=(3, 5))
    acc = sums * q.weight.astype(np.int64)[None, :, None, None] + q.bias.astype(np.int64)[None, :, None, None]
    return _finish(q, acc, 1)


def pool(q: QLayer, x: np.ndarray) -> np.ndarray:
    layer: Pool2D = q.layer
    _, oh, ow = q.out_shape
    (kh, kw), (sh, sw), (pt, pl, _, _) = layer.kernel, layer.stride, layer.padding
    extra = ((0, 0), (0, 0), (pt, kh + sh), (pl, kw + sw))
    if layer.mode == "max":
        # Padding never wins: pad with a value below every int8.
        win = _windows(np.pad(x.astype(np.int64), extra, constant_values=-1000), layer.kernel, layer.stride, (oh, ow))
        return win.max(axis=(4, 5)).astype(np.int8)
    zp = q.in_q.zero_point
    # Sum of (q - zp) over real cells; padding is real 0 and adds nothing.
    win = _windows(np.pad(x.astype(np.int64) - zp, extra, constant_values=0), layer.kernel, layer.stride, (oh, ow))
    sums = win.sum(axis=(4, 5))
    count = avg_pool_counts(layer, x.shape[2:], (oh, ow)).astype(np.int64)
    return np.clip(zp + round_div(sums, count), -128, 127).astype(np.int8)


def flatten(q: QLayer, x: np.ndarray) -> np.ndarray:
    if q.layer.order == "HWC" and x.ndim == 4:
        x = x.transpose(0, 2, 3, 1)
    return x.reshape(x.shape[0], -1)


def lut(q: QLayer, x: np.ndarray) -> np.ndarray:
    return q.lut[x.astype(np.int64) + 128].astype(np.int8)


def rbf(q: QLayer, x: np.ndarray) -> np.ndarray:
    d = x.astype(np.int64)[:, None, :] - q.proto.astype(np.int64)[None, :, :]
    acc = (d * d).sum(axis=2)
    if acc.max(initial=0) > q.acc_bound:
        raise AssertionError(f"layer '{q.name}': distance above its proven bound")
    return acc.astype(np.int32)


KERNELS = {
    "conv": conv,
    "dense": dense,
    "subsampling": subsampling,
    "pool": pool,
    "flatten": flatten,
    "lut": lut,
    "rbf": rbf,
}


def forward_int8(qnet: QuantizedNetwork, xq: np.ndarray, *, return_all: bool = False):
    """Run the integer network on int8 input ``xq`` ((N, C, H, W) or one image).

    Returns the raw output (int8 logits or int32 RBF distances), or with ``return_all`` the
    list of every integer layer's batch output (input first).
    """
    batch, single = as_batch(xq, qnet.net.input_shape)
    if batch.dtype != np.int8:
        raise LenetcError(f"int8 reference input must be int8, got {batch.dtype}")
    h = batch
    outs = [h]
    for q in qnet.layers:
        h = KERNELS[q.kind](q, h)
        outs.append(h)
    if return_all:
        return outs
    return h[0] if single else h


def forward_float(qnet: QuantizedNetwork, x: np.ndarray) -> np.ndarray:
    """Quantize float input, run the integer reference, dequantize (softmax re-applied)."""
    return qnet.dequantize_output(forward_int8(qnet, qnet.quantize_input(x)))
