"""The int8 arithmetic the linear kinds (conv2d, dense, subsampling, affine) share.

Weights are symmetric int8 per output channel, scale max|w| / 127, values in [-127, 127].
Biases are int32 in units of input scale x weight scale, with the input zero point folded in.
A ReLU is the clamp at the output zero point; other activations go through a 256-entry table
indexed by the requantized pre-activation. See docs/int8.md.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass

import numpy as np

from .. import fixedpoint_tflm as tflm
from ..activations import Act, act_onnx, apply_act
from ..errors import LenetcError
from ..fixedpoint import multipliers, requantize, requantize_float
from ..numeric import QParams
from .base import Layer, QLayer, QuantStep, Shape
from .given import GivenStep, activation_qparams, bias_int32, channel_weights

#: Largest |bias| kept (int32 headroom for the products; see QLayer.acc_bound).
BIAS_LIMIT = 1 << 30
ACC_LIMIT = (1 << 31) - 1
#: Dot-product lengths are padded with zeros to a multiple of this (16 int16 lanes: one 256-bit
#: vector register, two 128-bit ones), so the vectorised loops have no scalar tail.
VECTOR_PAD = 16


@dataclass
class QLinear(QLayer):
    """The integer form of a linear kind (conv2d, dense, subsampling, affine).

    The int32 accumulator is ``bias + sum(weight * q_in)`` -- the input zero point is already
    folded into ``bias`` -- then ``requantize(acc, mult, shift)`` (or, with ``fscale``, the float
    requantization) to the zero point ``req_zp`` clamped to [lo, hi] (a ReLU is this clamp),
    then, if ``lut`` is set, ``out = lut[q + 128]`` (tanh, sigmoid ...). ``pre_q`` is the
    quantization of the pre-activation tensor the table reads; the requantization targets it
    (else ``out_q``). Each kind subclasses this with its ``kind`` and weight layout.
    """

    _: KW_ONLY
    weight: np.ndarray  # int8; conv (O, C/g, KH, KW) with unconnected taps 0; dense (O, I); per-map (O,)
    bias: np.ndarray  # int32, input zero point folded in
    w_scale: np.ndarray  # float64 per output channel: real weight = w_scale * weight
    mult: np.ndarray  # int32 per output channel
    shift: np.ndarray  # int32 per output channel, 1..62
    req_zp: int
    lo: int = -128
    hi: int = 127
    pre_q: QParams | None = None
    lut: np.ndarray | None = None  # int8[256], indexed by q + 128
    #: float32 per output channel when the network requantizes in float (ONNX Runtime's way:
    #: ``rint(float(acc) * fscale) + zp``, see :mod:`lenetc.quant.requant_mode`); None: integer.
    fscale: np.ndarray | None = None

    def constants(self) -> tuple[np.ndarray, ...]:
        arrays = (self.weight, self.bias, self.mult, self.shift, self.lut)
        return tuple(a for a in arrays if a is not None)


def weights_per_channel(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 weights and per-output-channel scales (symmetric, [-127, 127])."""
    w = np.asarray(w, dtype=np.float64)
    flat = w.reshape(w.shape[0], -1)
    amax = np.abs(flat).max(axis=1)
    scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32).astype(np.float64)  # as a file stores it
    q = np.clip(np.round(flat / scale[:, None]), -127, 127).astype(np.int8)
    return q.reshape(w.shape), scale


def linear_layer(
    cls: type[QLinear],
    head: tuple[str, Layer, Shape, Shape, QParams, QParams],
    wq: np.ndarray,
    w_scale: np.ndarray,
    bias: np.ndarray,
    taps: np.ndarray,
    clamp: tuple[int, int] = (-128, 127),
    pre_q: QParams | None = None,
    lut: np.ndarray | None = None,
) -> QLinear:
    """A :class:`QLinear` of type ``cls`` from int8 weights ``wq`` (output channel first) with
    per-channel scales ``w_scale`` and the int32 bias ``bias`` in units of ``s_in * w_scale``
    (before the input zero point is folded in): folds the zero point, computes the multipliers
    and proves the accumulator bound. ``head`` is (name, layer, in_shape, out_shape, in_q,
    out_q); the requantization targets ``pre_q`` when a table follows, else ``out_q``, and
    saturates to ``clamp`` (a ReLU clamps at the zero point).

    ``taps`` (O,) counts how many inputs each weight multiplies (the subsampling layer's single
    coefficient multiplies a whole window), for the zero-point fold and the bound."""
    name, _, _, _, in_q, out_q = head
    req_q = pre_q if pre_q is not None else out_q
    s_in, z_in = in_q.scale, in_q.zero_point
    flat = wq.reshape(wq.shape[0], -1).astype(np.int64)
    folded = np.asarray(bias, np.int64) - z_in * flat.sum(axis=1) * taps
    try:
        mult, shift = multipliers(s_in * np.asarray(w_scale, np.float64) / req_q.scale)
    except ValueError as exc:
        raise LenetcError(f"layer '{name}': {exc}") from None
    # Every int8 input lies in [-128, 127]: |acc| <= |bias| + 128 * sum|w| (per output channel).
    bound = int((np.abs(folded) + 128 * np.abs(flat).sum(axis=1) * taps).max())
    if bound > ACC_LIMIT:
        raise LenetcError(f"layer '{name}': int32 accumulator bound {bound} exceeds 2^31-1")
    return cls(*head, acc_bound=bound, weight=wq, bias=folded.astype(np.int32), w_scale=np.asarray(w_scale, np.float64),
               mult=mult, shift=shift, req_zp=req_q.zero_point, lo=clamp[0], hi=clamp[1], pre_q=pre_q,
               lut=lut)  # fmt: skip


def calibrated_linear(
    cls: type[QLinear],
    head: tuple[str, Layer, Shape, Shape, QParams, QParams],
    w: np.ndarray,
    b: np.ndarray,
    taps: np.ndarray,
    clamp: tuple[int, int] = (-128, 127),
    pre_q: QParams | None = None,
    lut: np.ndarray | None = None,
) -> QLinear:
    """:func:`linear_layer` from float weights ``w`` and biases ``b``: weights symmetric int8 per
    output channel, biases rounded to int32 in units of ``s_in * w_scale``."""
    wq, w_scale = weights_per_channel(w)
    s_in = head[4].scale
    bq = np.clip(np.round(np.asarray(b, np.float64) / (s_in * w_scale)), -BIAS_LIMIT, BIAS_LIMIT)
    return linear_layer(cls, head, wq, w_scale, bq.astype(np.int64), taps, clamp, pre_q, lut)


def unfolded_bias(q: QLinear, taps: np.ndarray | int = 1) -> np.ndarray:
    """The int32 bias before the input zero point was folded in (units s_in * w_scale): what a
    graph that dequantizes its input first (QDQ ONNX) adds."""
    wsum = q.weight.reshape(q.weight.shape[0], -1).astype(np.int64).sum(axis=1) * taps
    return (q.bias.astype(np.int64) + q.in_q.zero_point * wsum).astype(np.int32)


def linear_qdq(g, q: QLinear, x: str, op) -> str:
    """QDQ ONNX of a linear layer: ``op(x_float, w, b)`` (Conv, Gemm) on the dequantized input,
    int8 weights and the unfolded int32 bias; then the activation (through the pre-activation's
    quantization where a table computes it) and the output quantization."""
    n = q.name
    w_scale = np.asarray(q.w_scale, np.float32)
    oc = q.weight.shape[0]
    w = g.node(
        "DequantizeLinear",
        [g.typed(f"{n}.weight", q.weight, np.int8), g.typed(f"{n}.w_scale", w_scale, np.float32),
         g.typed(f"{n}.w_zp", np.zeros(oc, np.int8), np.int8)],
        n, axis=0,
    )  # fmt: skip
    b_scale = (np.float32(q.in_q.scale) * w_scale).astype(np.float32)
    b = g.node(
        "DequantizeLinear",
        [g.typed(f"{n}.bias", unfolded_bias(q), np.int32), g.typed(f"{n}.b_scale", b_scale, np.float32),
         g.typed(f"{n}.b_zp", np.zeros(oc, np.int32), np.int32)],
        n, axis=0,
    )  # fmt: skip
    y = op(g.dequant(x, q.in_q, n), w, b)
    act = getattr(q.layer, "act", None)
    if q.lut is not None:
        pre = g.dequant(g.quant(y, q.pre_q, n), q.pre_q, n)
        return g.quant(act_onnx(g, act, pre, n), q.out_q, n)
    if act is not None:  # relu: the only activation without a table
        y = g.node("Relu", [y], n)
    return g.quant(y, q.out_q, n)


def make_lut(act: Act, pre: QParams, out: QParams) -> np.ndarray:
    """256-entry table: int8 pre-activation (index q + 128) -> int8 activation."""
    q = np.arange(-128, 128)
    return out.quantize(apply_act(act, pre.dequantize(q)))


def quantize_linear(
    cls: type[QLinear],
    step: QuantStep,
    weight: np.ndarray,
    bias: np.ndarray,
    taps: np.ndarray,
) -> QLinear:
    """The int8 rule of a linear layer with an optional fused activation (``layer.act``):
    output range from the calibration output; for a non-ReLU activation the accumulator is
    requantized to the pre-activation's range and a table maps it to the output."""
    layer = step.layer
    out_q = step.choose(step.y)
    act = getattr(layer, "act", None)
    relu = act is not None and act.fn == "relu"
    pre_q = lut = None
    if act is not None and not relu:
        pre_q = step.choose_inner(step.pre)
        lut = make_lut(act, pre_q, out_q)
    head = (layer.name, layer, step.in_shape, step.out_shape, step.in_q, out_q)
    clamp = (max(-128, out_q.zero_point), 127) if relu else (-128, 127)
    return calibrated_linear(cls, head, weight, bias, taps, clamp, pre_q, lut)


def linear_from_scales(cls: type[QLinear], step: GivenStep, weight_shape: Shape, taps: np.ndarray) -> QLinear:
    """The ``from_scales`` rule of a linear kind: the file's integer weights (of shape
    ``weight_shape``) and int32 bias with their own scales, the file's output quantization.

    A fused ReLU or clip the file applies to the requantized value is the clamp at the
    quantized bounds (rounding is monotone, so clipping before or after it is the same); an
    activation the file computes between two quantizations (``pre_q``) becomes the table; one
    it computes in float with no quantization before it cannot be integer-only and is refused."""
    layer, g = step.layer, step.linear()
    if tuple(np.shape(g.weight)) != tuple(weight_shape):
        raise LenetcError(
            f"weights '{g.weight_q.tensor}': shape {list(np.shape(g.weight))} does not match layer "
            f"'{layer.name}' ({list(weight_shape)})"
        )
    wq, w_scale = channel_weights(g.weight_q, g.weight, weight_shape[0])
    bias = np.zeros(weight_shape[0], np.int64)
    if g.bias is not None:
        if g.bias_q is None:
            raise LenetcError(f"layer '{layer.name}': its bias has no quantization")
        bias = bias_int32(g.bias_q, g.bias, step.in_q, w_scale)
    out_q = activation_qparams(g.out_q)
    pre_q = activation_qparams(g.pre_q) if g.pre_q is not None else None
    act = getattr(layer, "act", None)
    clamp, lut = (-128, 127), None
    if act is not None and pre_q is not None:
        lut = make_lut(act, pre_q, out_q)
    elif act is not None and act.fn in ("relu", "clip"):
        lo, hi = (0.0, np.inf) if act.fn == "relu" else (act.lo, act.hi)
        lo, hi = max(lo, out_q.dequantize(-128)), min(hi, out_q.dequantize(127))
        clamp = (int(out_q.quantize(lo)), int(out_q.quantize(hi)))
    elif act is not None:
        raise LenetcError(
            f"layer '{layer.name}': its {act.fn} runs in float on an unquantized tensor (no QuantizeLinear before "
            "it); an integer-only network needs that tensor quantized"
        )
    elif pre_q is not None:
        raise LenetcError(f"layer '{layer.name}': a quantization before an activation, but no activation follows")
    head = (layer.name, layer, step.in_shape, step.out_shape, step.in_q, out_q)
    return linear_layer(cls, head, wq, w_scale, bias, taps, clamp, pre_q, lut)


def finish(q: QLinear, acc: np.ndarray, channel_axis: int) -> np.ndarray:
    """Integer reference epilogue: bound check, requantization per channel, table."""
    if np.abs(acc).max(initial=0) > q.acc_bound:
        raise AssertionError(f"layer '{q.name}': accumulator above its proven bound")
    shape = [1] * acc.ndim
    shape[channel_axis] = -1
    if q.rounding == "tflm":
        out = tflm.requantize(acc, q.mult.reshape(shape), q.shift.reshape(shape), q.req_zp, q.lo, q.hi)
    elif q.fscale is not None:
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


def requant_ctx(lw, fn: str, q: QLinear, bias: bool = True) -> dict:
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
        "tflm": q.rounding == "tflm",
    }
    if q.fscale is not None:
        comment = "float requantization scales s_in * s_w / s_out (ONNX Runtime's rule)"
        ctx["fscale"] = lw.const(fn, "fscale", q.fscale.astype(np.float32), "float", comment)
    else:
        comment = "requantization multipliers (scale = mult / 2^shift)"
        if q.rounding == "tflm":
            comment += "; TFLM's double rounding"

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
