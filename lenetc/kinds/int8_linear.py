"""The int8 arithmetic the linear kinds (conv2d, dense, subsampling, affine) share.

Weights are symmetric int8 per output channel, scale max|w| / 127, values in [-127, 127].
Biases are int32 in units of input scale x weight scale, with the input zero point folded in.
A ReLU is the clamp at the output zero point; other activations go through a 256-entry table
indexed by the requantized pre-activation. See docs/int8.md.
"""

from __future__ import annotations

import numpy as np

from ..activations import Act, apply_act
from ..errors import LenetcError
from ..fixedpoint import multipliers, requantize, requantize_float
from ..numeric import QParams
from .base import QLayer, QuantStep

#: Largest |bias| kept (int32 headroom for the products; see QLayer.acc_bound).
BIAS_LIMIT = 1 << 30
ACC_LIMIT = (1 << 31) - 1
#: Dot-product lengths are padded with zeros to a multiple of this (16 int16 lanes: one 256-bit
#: vector register, two 128-bit ones), so the vectorised loops have no scalar tail.
VECTOR_PAD = 16


def weights_per_channel(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 weights and per-output-channel scales (symmetric, [-127, 127])."""
    w = np.asarray(w, dtype=np.float64)
    flat = w.reshape(w.shape[0], -1)
    amax = np.abs(flat).max(axis=1)
    scale = np.where(amax > 0, amax / 127.0, 1.0)
    q = np.clip(np.round(flat / scale[:, None]), -127, 127).astype(np.int8)
    return q.reshape(w.shape), scale


def fill_linear(q: QLayer, w: np.ndarray, b: np.ndarray, taps: np.ndarray, req_q: QParams, relu: bool) -> QLayer:
    """Fill weight, folded bias, multipliers and the accumulator bound of a linear layer.

    ``taps`` (O,) counts how many inputs each weight multiplies (the subsampling layer's single
    coefficient multiplies a whole window), for the zero-point fold and the bound."""
    wq, w_scale = weights_per_channel(w)
    s_in, z_in = q.in_q.scale, q.in_q.zero_point
    bq = np.clip(np.round(np.asarray(b, np.float64) / (s_in * w_scale)), -BIAS_LIMIT, BIAS_LIMIT).astype(np.int64)
    wsum = wq.reshape(wq.shape[0], -1).astype(np.int64).sum(axis=1) * taps
    bias = bq - z_in * wsum
    q.weight, q.bias, q.w_scale = wq, bias.astype(np.int32), w_scale
    q.mult, q.shift = multipliers(s_in * w_scale / req_q.scale)
    q.req_zp = req_q.zero_point
    q.lo = max(-128, req_q.zero_point) if relu else -128
    # Every int8 input lies in [-128, 127]: |acc| <= |bias| + 128 * sum|w| (per output channel).
    wabs = np.abs(wq.reshape(wq.shape[0], -1).astype(np.int64)).sum(axis=1) * taps
    q.acc_bound = int((np.abs(bias) + 128 * wabs).max())
    if q.acc_bound > ACC_LIMIT:
        raise LenetcError(f"layer '{q.name}': int32 accumulator bound {q.acc_bound} exceeds 2^31-1")
    return q


def unfolded_bias(q: QLayer, taps: np.ndarray | int = 1) -> np.ndarray:
    """The int32 bias before the input zero point was folded in (units s_in * w_scale): what a
    graph that dequantizes its input first (QDQ ONNX) adds."""
    wsum = q.weight.reshape(q.weight.shape[0], -1).astype(np.int64).sum(axis=1) * taps
    return (q.bias.astype(np.int64) + q.in_q.zero_point * wsum).astype(np.int32)


def make_lut(act: Act, pre: QParams, out: QParams) -> np.ndarray:
    """256-entry table: int8 pre-activation (index q + 128) -> int8 activation."""
    q = np.arange(-128, 128)
    return out.quantize(apply_act(act, pre.dequantize(q)))


def quantize_linear(
    step: QuantStep,
    weight: np.ndarray,
    bias: np.ndarray,
    taps: np.ndarray,
) -> QLayer:
    """The int8 rule of a linear layer with an optional fused activation (``layer.act``):
    output range from the calibration output; for a non-ReLU activation the accumulator is
    requantized to the pre-activation's range and a table maps it to the output."""
    layer = step.layer
    q = QLayer(layer.name, layer.kind, layer, step.in_shape, step.out_shape, step.in_q, step.in_q)
    q.out_q = step.choose(step.y)
    act = getattr(layer, "act", None)
    relu = act is not None and act.fn == "relu"
    req_q = q.out_q
    if act is not None and not relu:
        q.pre_q = req_q = step.choose_inner(step.pre)
        q.lut = make_lut(act, q.pre_q, q.out_q)
    return fill_linear(q, weight, bias, taps, req_q, relu)


def finish(q: QLayer, acc: np.ndarray, channel_axis: int) -> np.ndarray:
    """Integer reference epilogue: bound check, requantization per channel, table."""
    if np.abs(acc).max(initial=0) > q.acc_bound:
        raise AssertionError(f"layer '{q.name}': accumulator above its proven bound")
    shape = [1] * acc.ndim
    shape[channel_axis] = -1
    if q.fscale is not None:
        out = requantize_float(acc, q.fscale.reshape(shape), q.req_zp, q.lo, q.hi)
    else:
        out = requantize(acc, q.mult.reshape(shape), q.shift.reshape(shape), q.req_zp, q.lo, q.hi)
    if q.lut is not None:
        out = q.lut[out.astype(np.int64) + 128]
    return out.astype(np.int8)


def pad_to(n: int) -> int:
    return -(-n // VECTOR_PAD) * VECTOR_PAD


def pad_cols(w: np.ndarray, cols: int) -> np.ndarray:
    out = np.zeros((w.shape[0], cols), dtype=w.dtype)
    out[:, : w.shape[1]] = w
    return out


def requant_ctx(lw, fn: str, q: QLayer, bias: bool = True) -> dict:
    """Template context of the requantization epilogue: folded bias (unless the kernel packs
    its own), multipliers, shifts, table."""
    ctx = {
        "bias": lw.const(fn, "bias", q.bias, "int32_t", "int32, input zero point folded in") if bias else None,
        "mult": None,
        "shift": None,
        "zp": q.req_zp,
        "lo": q.lo,
        "hi": q.hi,
        "lut": None,
        "bound": q.acc_bound,
        "fscale": None,
    }
    if q.fscale is not None:
        comment = "float requantization scales s_in * s_w / s_out (ONNX Runtime's rule)"
        ctx["fscale"] = lw.const(fn, "fscale", q.fscale.astype(np.float32), "float", comment)
    else:
        comment = "requantization multipliers (scale = mult / 2^shift)"
        ctx["mult"] = lw.const(fn, "mult", q.mult, "int32_t", comment)
        ctx["shift"] = lw.const(fn, "shift", q.shift.astype(np.int8), "int8_t")
    if q.lut is not None:
        act = getattr(q.layer, "act", None)
        what = act.fn if act is not None else "activation"
        ctx["lut"] = lw.const(fn, "lut", q.lut, "int8_t", f"{what} lookup table, index q + 128")
    return ctx


def qdoc(q: QLayer) -> str:
    """The one-line description of an int8 op in the generated C."""
    doc = q.layer.describe(q.in_shape)
    return f"{doc}; |acc| <= {q.acc_bound}" if q.acc_bound else doc
