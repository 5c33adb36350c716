"""The int8 C's preprocessing in integers: an 8-bit pixel straight to the quantized input.

Python maps a pixel ``p`` (0..255) to ``x = fmaf(p, scale, offset)`` in float32
(:meth:`lenetc.network.Preprocess.pixel_values`) and quantizes it with round half to even
(:meth:`lenetc.numeric.QParams.quantize`). The integer-only C computes the same int8 as

    q = clamp(((p * mult + add) >> shift) - 128, -128, 127)      (p * mult + add in [0, 2^31))

Because the domain is only 256 pixels, exactness is not an approximation argument: the
constraints "the formula gives target(p)" for every p are linear in (mult, add) and are solved
exactly (:func:`fit`), and :func:`pixel_map` re-checks all 256 values before the constants are
used. Where no such line exists (a preprocessing whose rounding is not that of any line, in
practice one where x / scale lands on exact halves) the C gets a 256-entry table instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..network import Preprocess
from ..numeric import QParams

PIXELS = np.arange(256, dtype=np.int64)
#: The sum p * mult + add is computed in int32 in the C: keep it below 2^31.
LIMIT = 1 << 31
#: Shifts tried, smallest first (smallest constants that are exact).
MAX_SHIFT = 23


@dataclass(frozen=True)
class PixelMap:
    """Pixel -> int8 input: the fixed-point line (``table`` None) or a 256-entry table."""

    mult: int = 0
    add: int = 0
    shift: int = 0
    table: np.ndarray | None = None

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        """The int8 the C computes for each pixel (integer arithmetic, as in the C)."""
        p = np.asarray(pixels).astype(np.int64)
        if self.table is not None:
            return self.table[p]
        return np.clip(((p * self.mult + self.add) >> self.shift) - 128, -128, 127).astype(np.int8)


def targets(preprocess: Preprocess, input_q: QParams, quantize=None) -> np.ndarray:
    """What Python's preprocessing and quantization give each pixel value 0..255 (``quantize``:
    the network's own rule, e.g. TFLM's ties away from zero; default ``input_q.quantize``)."""
    values = preprocess.pixel_values(PIXELS.astype(np.uint8))
    return np.asarray(quantize(values) if quantize is not None else input_q.quantize(values), np.int8)


def _bounds(want: np.ndarray, shift: int) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, the half-open range [lower, upper) that p * mult + add must fall in."""
    w = want.astype(np.int64) + 128  # the value before "- 128", 0..255
    lower = np.where(w == 0, 0, w << shift)
    upper = np.where(w == 255, LIMIT, (w + 1) << shift)
    return lower, upper


def fit(want: np.ndarray, shift: int) -> tuple[int, int] | None:
    """``(mult, add)`` with ``clamp(((p * mult + add) >> shift) - 128) == want[p]`` for every
    pixel and ``0 <= p * mult + add < 2^31``, or None.

    For a fixed mult, an add exists iff ``lower[p] - p * mult <= upper[q] - 1 - q * mult`` for
    every pair (p, q), i.e. ``mult * (q - p) <= upper[q] - 1 - lower[p]``: pairs with q > p
    bound mult from above, pairs with q < p from below.
    """
    lower, upper = _bounds(want, shift)
    dq = PIXELS[None, :] - PIXELS[:, None]  # q - p, rows p, columns q
    room = upper[None, :] - 1 - lower[:, None]
    up = dq > 0
    hi = int(np.floor_divide(room[up], dq[up]).min())
    lo = int((-np.floor_divide(room[~up & (dq < 0)], -dq[~up & (dq < 0)])).max())
    if lo > hi:
        return None
    slope = (int(want[-1]) - int(want[0])) / 255.0 * (1 << shift)  # the line's own slope, if it fits
    mult = int(min(max(round(slope), lo), hi))
    add = int((lower - PIXELS * mult).max())
    if add > int((upper - 1 - PIXELS * mult).min()):
        return None
    return mult, add


def pixel_map(preprocess: Preprocess, input_q: QParams, quantize=None) -> PixelMap:
    """The exact integer pixel map for this preprocessing and input quantization (rounded as
    ``quantize`` does, see :func:`targets`): the line with the smallest shift that reproduces all
    256 values, else the table."""
    want = targets(preprocess, input_q, quantize)
    for shift in range(MAX_SHIFT + 1):
        found = fit(want, shift)
        if found is not None:
            line = PixelMap(found[0], found[1], shift)
            if np.array_equal(line(PIXELS), want):  # the proof, value by value
                return line
    return PixelMap(table=want.astype(np.int8))
