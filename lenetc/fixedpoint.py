"""Integer requantization: the multiplier/shift encoding of a real scale and the one rounding
rule that the NumPy integer reference and the generated C share.

A real scale ``r > 0`` is encoded as a 31-bit multiplier ``M`` in [2^30, 2^31) and a total
right shift ``n`` in [1, 62] with ``r ~= M / 2^n`` (TFLite/CMSIS-NN's "quantized multiplier":
TFLite stores ``M`` and ``shift = 31 - n``). Requantizing an int32 accumulator ``a`` is

    requant(a) = round_half_away_from_zero(a * M / 2^n)

computed exactly in 64 bits as ``sign(a*M) * ((|a*M| + 2^(n-1)) >> n)``. This is the single
rounding variant (TFLite's ``TFLITE_SINGLE_ROUNDING``, CMSIS-NN's ``CMSIS_NN_USE_SINGLE_ROUNDING``)
rather than the classic doubling-high-multiply followed by a second rounding shift: one
rounding step cannot double-round, and working on the magnitude keeps every shift in C on a
non-negative value (fully defined ISO C). Ties go away from zero, like TFLite's
``SaturatingRoundingDoublingHighMul``. |a| < 2^31 and M < 2^31, so |a*M| < 2^62 and the sum
with 2^(n-1) <= 2^61 stays below 2^63: no int64 overflow.
"""

from __future__ import annotations

import math

import numpy as np

#: Shift range the C helper accepts: 1 <= n <= MAX_SHIFT.
MAX_SHIFT = 62
INT8_MIN, INT8_MAX = -128, 127


def quantize_multiplier(real: float) -> tuple[int, int]:
    """Encode ``real`` (>= 0) as (M, n) with M in [2^30, 2^31) and 1 <= n <= 62, M / 2^n ~= real.

    Scales too small for 62 bits of shift are encoded as (0, 1): the product is then 0.
    Scales of 2^30 or more cannot be encoded and raise ``ValueError`` (no layer gets near).
    """
    if not math.isfinite(real) or real < 0:
        raise ValueError(f"requantization scale must be finite and >= 0, got {real}")
    if real == 0.0:
        return 0, 1
    mant, exp = math.frexp(real)  # real = mant * 2^exp, mant in [0.5, 1)
    m = round(mant * (1 << 31))
    if m == 1 << 31:
        m, exp = m // 2, exp + 1
    n = 31 - exp
    if n > MAX_SHIFT:
        # Shift off the excess precision; below 2^-62 the result is always 0.
        m >>= n - MAX_SHIFT
        n = MAX_SHIFT
        if m == 0:
            return 0, 1
    if n < 1:
        raise ValueError(f"requantization scale {real} is too large (>= 2^30)")
    return int(m), int(n)


def multipliers(scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`quantize_multiplier`: (M int32, n int32) arrays."""
    pairs = [quantize_multiplier(float(s)) for s in np.asarray(scales, dtype=np.float64).reshape(-1)]
    m = np.array([p[0] for p in pairs], dtype=np.int32)
    n = np.array([p[1] for p in pairs], dtype=np.int32)
    return m, n


def rounding_shift(p: np.ndarray, n: np.ndarray) -> np.ndarray:
    """round_half_away_from_zero(p / 2^n) for int64 ``p`` (|p| < 2^62) and 1 <= n <= 62."""
    p = np.asarray(p, dtype=np.int64)
    n = np.asarray(n, dtype=np.int64)
    half = np.left_shift(np.int64(1), n - 1)
    mag = np.right_shift(np.abs(p) + half, n)
    return np.where(p < 0, -mag, mag)


def requantize(acc: np.ndarray, m: np.ndarray, n: np.ndarray, zero_point: int, lo: int, hi: int) -> np.ndarray:
    """The C helper ``lenetc_requant``: zero_point + round(acc * m / 2^n), saturated to [lo, hi].

    ``m`` and ``n`` broadcast against ``acc`` (per output channel). Returns int8 (or int32 when
    the bounds lie outside int8, never the case for the zoo).
    """
    acc = np.asarray(acc, dtype=np.int64)
    if acc.size and (acc.max() > (1 << 31) - 1 or acc.min() < -(1 << 31)):
        raise OverflowError("accumulator outside int32")
    r = rounding_shift(acc * np.asarray(m, dtype=np.int64), n) + zero_point
    out = np.clip(r, lo, hi)
    return out.astype(np.int8) if INT8_MIN <= lo and hi <= INT8_MAX else out.astype(np.int32)


def round_div(num: np.ndarray, den: np.ndarray | int) -> np.ndarray:
    """round_half_away_from_zero(num / den) for integer ``num`` and positive integer ``den``,
    as the C computes it: ``(2|num| + den) / (2 den)`` with the sign put back."""
    num = np.asarray(num, dtype=np.int64)
    den = np.asarray(den, dtype=np.int64)
    mag = (2 * np.abs(num) + den) // (2 * den)
    return np.where(num < 0, -mag, mag)


def requantize_float(acc: np.ndarray, scale: np.ndarray | float, zero_point: int, lo: int, hi: int) -> np.ndarray:
    """ONNX Runtime's CPU requantization: ``float32(acc) * float32(scale)``, round half to even, + zero point, clamp.

    ``scale`` is the float32 product ``s_in * s_w / s_out`` (per output channel or scalar,
    broadcast against ``acc``). This is the reference for the float-requantization option;
    :func:`requantize` is the integer-only one, which can differ by 1 LSB where the float
    product lands within rounding error of a half.
    """
    y = np.asarray(acc, np.int64).astype(np.float32) * np.asarray(scale, np.float32)
    return np.clip(np.rint(y).astype(np.int64) + zero_point, lo, hi)
