"""What calibration keeps of one tensor while the calibration images stream through: bounded
state whatever the number of images.

- exact minimum and maximum (``minmax``);
- a histogram of the values with power-of-two bin widths that doubles its range by merging
  neighbouring bins when a larger value arrives (exact: no value ever changes bin side), fine
  enough that a percentile read from it is within one bin width -- at most 2 / 2^15 of the
  largest magnitude, about 1.6 % of one int8 quantization step (``percentile``);
- a uniform random sample of at most :data:`RESERVOIR` values (``mse``), kept by bottom-k
  sampling on random keys, so batches can arrive in any size.

Memory per tensor: 2 x 2^15 int64 bin counts (512 KiB) plus, for ``mse``, the sample (3.2 MB).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Histogram bins on each side of zero.
BINS = 1 << 15
#: Values kept for the ``mse`` range search (the sample the in-memory version drew, too).
RESERVOIR = 200_000


@dataclass
class TensorStats:
    """Streaming statistics of one tensor's calibration values; :meth:`add` a batch at a time."""

    histogram: bool = True
    sample: bool = False
    count: int = 0
    lo: float = 0.0
    hi: float = 0.0
    zeros: int = 0
    width: float = 0.0  # bin width, a power of two; 0 until a non-zero value arrives
    pos: np.ndarray = field(default_factory=lambda: np.zeros(BINS, np.int64))  # v > 0, by floor(v / width)
    neg: np.ndarray = field(default_factory=lambda: np.zeros(BINS, np.int64))  # v < 0, by floor(-v / width)
    keys: np.ndarray = field(default_factory=lambda: np.empty(0))
    values: np.ndarray = field(default_factory=lambda: np.empty(0))
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    @classmethod
    def of(cls, values: np.ndarray, method: str = "percentile") -> TensorStats:
        """The statistics of one array (what calibration would keep had it come in one batch)."""
        stats = cls(histogram=method == "percentile", sample=method == "mse")
        stats.add(values)
        return stats

    def add(self, values: np.ndarray) -> None:
        """Fold a batch of values in."""
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        if not v.size:
            return
        lo, hi = float(v.min()), float(v.max())
        self.lo, self.hi = (lo, hi) if self.count == 0 else (min(self.lo, lo), max(self.hi, hi))
        self.count += v.size
        if self.histogram:
            self._add_histogram(v, max(-lo, hi))
        if self.sample:
            self._add_sample(v)

    def _add_histogram(self, v: np.ndarray, biggest: float) -> None:
        if biggest == 0.0:
            self.zeros += v.size
            return
        if self.width == 0.0:
            # the smallest power of two with biggest < BINS * width
            self.width = math.ldexp(1.0, math.frexp(biggest / BINS)[1])
        while biggest >= BINS * self.width:
            self.pos = _merge_pairs(self.pos)
            self.neg = _merge_pairs(self.neg)
            self.width *= 2.0
        # one pass: positive magnitudes in [0, BINS), negative ones in [BINS, 2 BINS), zeros at 2 BINS
        idx = np.minimum((np.abs(v) / self.width).astype(np.int64), BINS - 1)
        idx += BINS * (v < 0.0)
        idx[v == 0.0] = 2 * BINS
        counts = np.bincount(idx, minlength=2 * BINS + 1)
        self.pos += counts[:BINS]
        self.neg += counts[BINS : 2 * BINS]
        self.zeros += int(counts[2 * BINS])

    def _add_sample(self, v: np.ndarray) -> None:
        keys = np.concatenate([self.keys, self.rng.random(v.size)])
        values = np.concatenate([self.values, v])
        if values.size > RESERVOIR:
            keep = np.argpartition(keys, RESERVOIR - 1)[:RESERVOIR]
            keys, values = keys[keep], values[keep]
        self.keys, self.values = keys, values

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (NumPy's linear interpolation between order statistics),
        read from the histogram: within one bin width of the exact value, never outside
        [min, max]."""
        if not self.histogram:
            raise ValueError("these statistics keep no histogram")
        if self.count == 0:
            return 0.0
        rank = q / 100.0 * (self.count - 1)
        below = math.floor(rank)
        frac = rank - below
        a = self._value_at(below)
        b = self._value_at(min(below + 1, self.count - 1))
        return float(min(max(a + frac * (b - a), self.lo), self.hi))

    def _value_at(self, k: int) -> float:
        """The k-th smallest value (0-based), values spread evenly inside their bin."""
        n_neg = int(self.neg.sum())
        if k < n_neg:
            # negative bins from the most negative: magnitude bin j covers (-(j+1)w, -jw]
            counts = self.neg[::-1]
            cum = np.cumsum(counts)
            i = int(np.searchsorted(cum, k, side="right"))
            j = BINS - 1 - i
            before = int(cum[i] - counts[i])
            inside = (k - before + 0.5) / int(counts[i])
            return -(j + 1 - inside) * self.width
        k -= n_neg
        if k < self.zeros:
            return 0.0
        k -= self.zeros
        cum = np.cumsum(self.pos)
        i = int(np.searchsorted(cum, k, side="right"))
        before = int(cum[i] - self.pos[i])
        return (i + (k - before + 0.5) / int(self.pos[i])) * self.width

    def sampled(self) -> np.ndarray:
        """The uniform sample kept for the ``mse`` method (every value while there are few)."""
        return self.values


def _merge_pairs(counts: np.ndarray) -> np.ndarray:
    """The histogram with twice the bin width: bins 2i and 2i+1 become bin i."""
    out = np.zeros_like(counts)
    out[: counts.size // 2] = counts.reshape(-1, 2).sum(axis=1)
    return out
