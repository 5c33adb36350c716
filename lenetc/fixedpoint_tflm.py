"""TensorFlow Lite Micro's reference int8 arithmetic, in NumPy, bit for bit (``--requant tflm``).

TFLM's reference kernels (built without ``TFLITE_SINGLE_ROUNDING``, as the ``tflite-micro``
package is) requantize with two roundings: gemmlowp's ``SaturatingRoundingDoublingHighMul``
(the high 32 bits of ``2 a b``, nudged by 2^30, ties toward +inf) then
``RoundingDivideByPOT`` (ties away from zero). Their int8 tanh, logistic and softmax are
fixed-point algorithms built on the same two operations (gemmlowp's ``exp_on_negative_values``,
Newton-Raphson ``one_over_one_plus_x``). Everything here works on int64 NumPy arrays that hold
int32 values; :func:`wrap32` reproduces the two's-complement wrap of a C ``int32_t`` sum.

Tanh and logistic map one int8 to one int8, so lenetc stores them as 256-entry tables built
by these functions; softmax depends on a whole row, so its C kernel reads a 256-entry table of
``exp`` values (:func:`softmax_exp_table`) and computes the reciprocal in C as here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1
#: Fixed-point constants of gemmlowp (Q0.31 unless said): exp(-1/8), 1/3, 48/17 and -32/17 (Q2.29).
EXP_M1_8, ONE_THIRD = 1895147668, 715827883
C48_17, CNEG32_17 = 1515870810, -1010580540
#: exp(-2^k) for k = -2..4, Q0.31: the barrel shifter of exp_on_negative_values.
EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401), (4, 242))


def _a(x) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def wrap32(x) -> np.ndarray:
    """``x`` reduced to int32 as two's-complement hardware does (C's ``int32_t`` sum)."""
    return ((_a(x) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def srdhm(a, b) -> np.ndarray:
    """gemmlowp ``SaturatingRoundingDoublingHighMul``: (a b + nudge) / 2^31, C division
    (toward zero), nudge 2^30 for a non-negative product and 1 - 2^30 otherwise."""
    a, b = _a(a), _a(b)
    ab = a * b
    s = ab + np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    q = np.where(s < 0, -((-s) >> 31), s >> 31)
    return np.where((a == b) & (a == I32_MIN), I32_MAX, q)


def rdbpot(x, exponent) -> np.ndarray:
    """gemmlowp ``RoundingDivideByPOT``: x / 2^exponent rounded, ties away from zero."""
    x, e = _a(x), _a(exponent)
    mask = (np.int64(1) << e) - 1
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + ((x & mask) > threshold)


def sat_shift_left(x, e: int) -> np.ndarray:
    """gemmlowp ``SaturatingRoundingMultiplyByPOT<e>`` for e > 0 (saturating left shift)."""
    x = _a(x)
    t = (1 << (31 - e)) - 1
    return np.where(x > t, I32_MAX, np.where(x < -t, I32_MIN, x << e))


def rescale(x, src_bits: int, dst_bits: int) -> np.ndarray:
    """gemmlowp ``Rescale``: the raw value of a fixed-point number moved to ``dst_bits`` integer bits."""
    e = src_bits - dst_bits
    return sat_shift_left(x, e) if e > 0 else (_a(x) if e == 0 else rdbpot(x, -e))


def multiply_by_quantized_multiplier(x, mult, shift) -> np.ndarray:
    """TFLM's double-rounding ``MultiplyByQuantizedMultiplier(int32 x, M, shift)``; ``shift``
    is TFLite's exponent (real = M 2^(shift - 31)): a left shift before, a rounding shift after."""
    shift = _a(shift)
    left, right = np.maximum(shift, 0), np.maximum(-shift, 0)
    return rdbpot(srdhm(wrap32(_a(x) << left), mult), right)


def round_away(x):
    """C's ``round``/``std::round`` (TfLiteRound): halves away from zero."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite's ``QuantizeMultiplier(double)``: (M, shift) with M in [2^30, 2^31) and
    real ~= M 2^(shift - 31); (0, 0) for 0 and for scales below 2^-32."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    m = int(round_away(q * (1 << 31)))
    if m == 1 << 31:
        m, shift = m // 2, shift + 1
    if shift < -31:
        return 0, 0
    return m, shift


def effective_scale(s_in: float, s_w: float, s_out: float, float_product: bool = False) -> float:
    """The real requantization scale as TFLM computes it from the file's float32 scales:
    ``double(s_in) * double(s_w) / double(s_out)`` (convolutions, per-channel dense), or with
    ``float_product`` the float32 product first (per-tensor FULLY_CONNECTED)."""
    s_in32, s_w32, s_out32 = np.float32(s_in), np.float32(s_w), np.float32(s_out)
    if float_product:
        return float(np.float32(s_in32 * s_w32)) / float(s_out32)
    return float(s_in32) * float(s_w32) / float(s_out32)


def requantize(acc, mult, shift_n, zero_point: int, lo: int, hi: int) -> np.ndarray:
    """TFLM's conv/dense epilogue on int32 accumulators: ``MultiplyByQuantizedMultiplier`` +
    zero point, clamped to [lo, hi]. ``shift_n`` is lenetc's stored shift, 31 - TFLite's exponent."""
    r = multiply_by_quantized_multiplier(acc, mult, 31 - _a(shift_n)) + zero_point
    return np.clip(r, lo, hi).astype(np.int8)


def activation_range(act: str | None, scale: float, zero_point: int) -> tuple[int, int]:
    """TFLite's CalculateActivationRangeQuantized: a fused ``relu``/``relu6`` (or none) as the
    int8 clamp, ``zero_point + round(v / scale)`` in float32 for v = 0 and 6."""
    if act is None:
        return -128, 127

    def q(v: float) -> int:
        return zero_point + int(round_away(float(np.float32(v) / np.float32(scale))))

    return max(-128, q(0.0)), (min(127, q(6.0)) if act == "relu6" else 127)


def quantize_input(x, scale: float, zero_point: int) -> np.ndarray:
    """TFLM's QUANTIZE (float32 -> int8): ``round(x / scale)`` in float32, ties away from zero."""
    v = np.asarray(x, np.float32) / np.float32(scale)
    return np.clip(round_away(v.astype(np.float64)) + zero_point, -128, 127).astype(np.int8)


# ---- gemmlowp fixed-point functions (raw int32 values in int64 arrays) --------------------------


def _exp_quarter(a) -> np.ndarray:
    """exp(a) for a in [-1/4, 0), Q0.31 in and out (a Taylor expansion around -1/8)."""
    x = wrap32(_a(a) + (1 << 28))
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rdbpot(x4, 2)
    poly = rdbpot(wrap32(srdhm(wrap32(x4_over_4 + x3), ONE_THIRD) + x2), 1)
    return wrap32(EXP_M1_8 + srdhm(EXP_M1_8, wrap32(x + poly)))


def exp_on_negative_values(a, integer_bits: int) -> np.ndarray:
    """gemmlowp ``exp_on_negative_values``: exp(a) for a <= 0 given with ``integer_bits``, Q0.31 out."""
    a = _a(a)
    frac = 31 - integer_bits
    quarter = 1 << (frac - 2)
    a_mod = wrap32((a & (quarter - 1)) - quarter)
    result = _exp_quarter(rescale(a_mod, integer_bits, 0))
    remainder = wrap32(a_mod - a)
    for exponent, mult in EXP_BARREL:
        if integer_bits > exponent:
            bit = (remainder & (1 << (frac + exponent))) != 0
            result = np.where(bit, srdhm(result, mult), result)
    if integer_bits > 5:
        result = np.where(a < -(1 << (36 - integer_bits)), 0, result)
    return np.where(a == 0, I32_MAX, result)


def _halfsum_one(a) -> np.ndarray:
    """gemmlowp ``RoundingHalfSum(a, One)`` in Q0.31."""
    s = _a(a) + I32_MAX
    s = s + np.where(s >= 0, 1, -1)
    return np.where(s < 0, -((-s) // 2), s // 2)


def _newton_reciprocal(a) -> np.ndarray:
    """Three Newton-Raphson steps for 1 / (1 + a), a in (0, 1): the Q2.29 estimate."""
    half_den = _halfsum_one(a)
    x = wrap32(C48_17 + srdhm(half_den, CNEG32_17))
    for _ in range(3):
        one_minus = wrap32((1 << 29) - srdhm(half_den, x))
        x = wrap32(x + rescale(srdhm(x, one_minus), 4, 2))
    return x


def one_over_one_plus_x(a) -> np.ndarray:
    """gemmlowp ``one_over_one_plus_x_for_x_in_0_1``, Q0.31 in and out."""
    return rescale(_newton_reciprocal(a), 1, 0)


def one_minus_x_over_one_plus_x(a) -> np.ndarray:
    """gemmlowp ``one_minus_x_over_one_plus_x_for_x_in_0_1``, Q0.31 in and out."""
    return rescale(wrap32(_newton_reciprocal(a) - (1 << 29)), 2, 0)


def fixed_tanh(a, integer_bits: int) -> np.ndarray:
    """gemmlowp ``tanh`` of a fixed-point value with ``integer_bits``, Q0.31 out."""
    a = _a(a)
    neg = a < 0
    n = np.where(neg, a, wrap32(-a))
    t = one_minus_x_over_one_plus_x(exp_on_negative_values(n, integer_bits + 1))
    return np.where(a == 0, 0, np.where(neg, wrap32(-t), t))


def fixed_logistic(a, integer_bits: int) -> np.ndarray:
    """gemmlowp ``logistic`` of a fixed-point value with ``integer_bits``, Q0.31 out."""
    a = _a(a)
    pos = a > 0
    absolute = np.where(pos, a, wrap32(-a))
    r_pos = one_over_one_plus_x(exp_on_negative_values(wrap32(-absolute), integer_bits))
    r_neg = wrap32(I32_MAX - r_pos)
    return np.where(a == 0, 1 << 30, np.where(pos, r_pos, r_neg))


# ---- TFLM's int8 element-wise kernels as 256-entry tables ---------------------------------------


def input_radius(integer_bits: int, left_shift: int, total_bits: int = 31) -> int:
    """TFLite's ``CalculateInputRadius``: the largest |input| the fixed-point range can hold."""
    return int(math.floor(((1 << integer_bits) - 1) * (1 << (total_bits - integer_bits)) / (1 << left_shift)))


def _table(in_scale: float, in_zero_point: int, fn, out_bits: int, out_zp: int) -> np.ndarray:
    """TFLM's int8 TANH / LOGISTIC for every int8 input (index q + 128)."""
    real = float(np.float32(in_scale)) * float(1 << 27)  # kInputIntegerBits = 4
    q, left_shift = math.frexp(real)
    mult = int(wrap32(int(round_away(q * (1 << 31)))))
    radius = input_radius(4, left_shift)
    x = np.arange(-128, 128, dtype=np.int64) - in_zero_point
    y = rdbpot(fn(multiply_by_quantized_multiplier(x, mult, left_shift), 4), 31 - out_bits) + out_zp
    y = np.where(x <= -radius, -128, np.where(x >= radius, 127, y))
    return np.clip(y, -128, 127).astype(np.int8)


def tanh_table(in_scale: float, in_zero_point: int) -> np.ndarray:
    """TFLM's int8 TANH (output scale 1/128, zero point 0 whatever the file says)."""
    return _table(in_scale, in_zero_point, fixed_tanh, 7, 0)


def logistic_table(in_scale: float, in_zero_point: int) -> np.ndarray:
    """TFLM's int8 LOGISTIC (output scale 1/256, zero point -128)."""
    return _table(in_scale, in_zero_point, fixed_logistic, 8, -128)


# ---- softmax -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SoftmaxParams:
    """TFLM's int8 softmax constants: the beta * input-scale multiplier (Q5.26 diffs) and the
    smallest difference from the row's maximum that still counts."""

    mult: int
    left_shift: int
    diff_min: int

    @staticmethod
    def of(in_scale: float, beta: float = 1.0) -> SoftmaxParams:
        real = min(float(beta) * float(np.float32(in_scale)) * (1 << 26), float((1 << 31) - 1))
        mult, shift = quantize_multiplier(real)
        return SoftmaxParams(mult, shift, -input_radius(5, shift))


def softmax_exp_table(p: SoftmaxParams) -> np.ndarray:
    """int32[256]: exp of difference -d from the row maximum (index d = max - q), Q0.31, already
    rescaled to the Q12.19 accumulator; 0 where the difference is below ``diff_min``."""
    d = -np.arange(256, dtype=np.int64)
    e = exp_on_negative_values(srdhm(wrap32(d << p.left_shift), p.mult), 5)
    return np.where(d >= p.diff_min, e, -1)


def softmax_int8(x: np.ndarray, p: SoftmaxParams) -> np.ndarray:
    """TFLM's reference int8 softmax over the last axis (output scale 1/256, zero point -128)."""
    x = _a(x)
    exps = softmax_exp_table(p)
    d = x.max(axis=-1, keepdims=True) - x
    e = exps[d]
    counted = e >= 0
    total = np.where(counted, rdbpot(np.where(counted, e, 0), 12), 0).sum(axis=-1, keepdims=True)
    total = wrap32(total)
    # total > 0 (the maximum itself always counts): its leading zeros as a uint32
    clz = np.array([32 - int(v).bit_length() for v in total.reshape(-1)], np.int64).reshape(total.shape)
    bits_over_unit = 12 - clz
    shifted = wrap32(((total << clz) & 0xFFFFFFFF) - (1 << 31))
    scale = one_over_one_plus_x(shifted)
    out = rdbpot(srdhm(scale, np.where(counted, e, 0)), bits_over_unit + 23) - 128
    return np.where(counted, np.clip(out, -128, 127), -128).astype(np.int8)
