"""Number types of the generated C: what differs between float32 and int8 code, in one place.

A :class:`NumericType` carries the C element type, its size, how constants are written and
which arithmetic finishes a linear layer (an activation in float, a requantization in int8).
The dtype string a user passes is turned into one of these once, at the API boundary; below
it, code asks the type instead of comparing strings. :class:`QParams` is the affine int8
quantization of one tensor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import LenetcError


def c_float(v: float) -> str:
    """A C float literal that reads back as exactly the same float32."""
    v = float(np.float32(v))
    if math.isinf(v):
        return "HUGE_VALF" if v > 0 else "(-HUGE_VALF)"
    s = f"{v:.9g}"
    if not any(ch in s for ch in ".en"):
        s += ".0"
    return f"{s}f"


def c_double(v: float) -> str:
    """A C double literal that reads back as exactly ``v``; negative values parenthesised."""
    v = float(v)
    if not math.isfinite(v):
        raise LenetcError(f"no C literal for {v}")
    s = repr(v)
    return f"({s})" if v < 0 else s


def c_int(v: int) -> str:
    """A C integer literal; negative values are parenthesised so they survive any context."""
    v = int(v)
    return str(v) if v >= 0 else f"({v})"


def c_array(values: np.ndarray, ctype: str, per_line: int = 8) -> str:
    """The body of a C array initialiser, ``per_line`` values a line."""
    fmt = c_float if ctype == "float" else (lambda v: str(int(v)))
    items = [fmt(v) for v in np.asarray(values).reshape(-1)]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return ",\n    ".join(lines)


def fma_f32(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """C's ``fmaf(a, b, c)`` for float32 operands: ``a * b + c`` rounded once to float32.

    ``a * b`` of two float32 values is exact in float64 (48 significant bits); the sum is
    rounded to float64 and its rounding error recovered exactly (Knuth's TwoSum). Rounding
    that float64 to float32 is then wrong only when it sits exactly halfway between two
    float32 values while the exact sum does not; the error's sign picks the right one.
    """
    a32, b32, c32 = (np.asarray(v, dtype=np.float32) for v in (a, b, c))
    p = a32.astype(np.float64) * b32.astype(np.float64)
    c64 = c32.astype(np.float64)
    s = p + c64
    back = s - p
    err = (p - (s - back)) + (c64 - back)
    r = s.astype(np.float32)
    toward = np.where(s > r.astype(np.float64), np.float32(np.inf), np.float32(-np.inf)).astype(np.float32)
    other = np.nextafter(r, toward)
    with np.errstate(invalid="ignore", over="ignore"):
        halfway = (s != r) & (s == (r.astype(np.float64) + other.astype(np.float64)) / 2.0) & (err != 0)
    return np.where(halfway & ((err > 0) == (other > r)), other, r).astype(np.float32)


@dataclass(frozen=True)
class NumericType:
    """One arithmetic of the generated C.

    ``ctype`` is the activation element type, ``elem_bytes`` its size, ``epilogue`` how a
    linear layer turns its accumulator into an output (``activation`` in float, ``requantize``
    in int8) and ``consts_per_line`` how densely constant arrays are printed.
    """

    name: str
    ctype: str
    elem_bytes: int
    is_float: bool
    epilogue: str
    consts_per_line: int

    def literal(self, value: float) -> str:
        """``value`` as a C literal of this type."""
        return c_float(value) if self.is_float else c_int(int(value))


FLOAT32 = NumericType("float32", "float", 4, True, "activation", 8)
INT8 = NumericType("int8", "int8_t", 1, False, "requantize", 16)
NUMERIC_TYPES = {t.name: t for t in (FLOAT32, INT8)}


def numeric_type(name: str | NumericType) -> NumericType:
    """The :class:`NumericType` called ``name`` (``float32`` or ``int8``)."""
    if isinstance(name, NumericType):
        return name
    try:
        return NUMERIC_TYPES[name]
    except KeyError:
        raise LenetcError(f"dtype '{name}' is not supported ({', '.join(NUMERIC_TYPES)})") from None


@dataclass(frozen=True)
class QParams:
    """Affine int8 quantization of one tensor: ``real = scale * (q - zero_point)``."""

    scale: float
    zero_point: int

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Float -> int8, round half to even (NumPy's rounding), saturated to [-128, 127].
        NaN and Inf are refused (as the float C refuses them), never mapped silently."""
        x = np.asarray(x, dtype=np.float64)
        if not np.isfinite(x).all():
            where = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
            raise LenetcError(f"cannot quantize NaN or Inf (first at index {where}): lenetc refuses non-finite input")
        q = np.round(x / self.scale) + self.zero_point
        return np.clip(q, -128, 127).astype(np.int8)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        return (np.asarray(q, dtype=np.float64) - self.zero_point) * self.scale
