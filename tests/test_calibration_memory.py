"""Calibration runs in bounded memory (issue 9 item 8): the images stream through the network
in batches into bounded per-tensor statistics, so peak memory does not grow with their number."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import lenetc
from lenetc.quant import calibrate
from lenetc.quant.calibrate import choose_qparams
from lenetc.quant.observer import BINS, TensorStats

PEAK_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    import lenetc
    from lenetc.api import calibration_digits
    net = lenetc.load("lenet5", "random:0")
    images = calibration_digits(int(sys.argv[1]))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    lenetc.quantize(net, images)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
    """
)


def _peak_growth_kib(n: int) -> int:
    """How far calibrating on ``n`` MNIST training digits raises the peak RSS (KiB), in a fresh process."""
    proc = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(n)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split()[-1])


def test_peak_memory_does_not_grow_with_calibration_images():
    # Before: every layer ran on all images at once (~355 KiB per LeNet-5 image: 1.2 GiB more
    # for 3,500 more images). Now one batch of 256 and the histograms: the same for any count.
    small, large = _peak_growth_kib(500), _peak_growth_kib(4000)
    assert large - small < 32 * 1024, f"peak RSS grew by {large - small} KiB for 3,500 more images"
    assert large < 160 * 1024, f"calibration on 4,000 digits raised the peak RSS by {large} KiB"


def test_histogram_percentile_within_one_bin_of_numpy():
    rng = np.random.default_rng(3)
    cases = [
        rng.normal(0.3, 1.0, 200_000),
        np.abs(rng.normal(size=100_000)),  # ReLU-like, no negatives
        np.tanh(3 * rng.normal(size=100_000)),  # saturating
        np.r_[np.zeros(50_000), rng.exponential(size=3_000)],  # mostly exact zeros
        -np.abs(rng.normal(size=10_000)),
    ]
    for values in cases:
        stats = TensorStats()
        for part in np.array_split(values, 11):
            stats.add(part)
        width = 2.0 * np.abs(values).max() / BINS  # the bound the observer documents
        for q in (0.01, 1.0, 50.0, 99.0, 99.99, 100.0, 0.0):
            assert abs(stats.percentile(q) - np.percentile(values, q)) <= width, q
        assert (stats.lo, stats.hi) == (values.min(), values.max())


def test_batches_do_not_change_the_result(monkeypatch):
    """The histogram's bin width depends only on the largest value, never on how the values
    were split, so the calibration is the same whatever the batch size (up to the last bits
    of BLAS sums, whose blocking depends on the batch)."""
    net = lenetc.load("lenet5-keras", "random:1")
    images = lenetc.api.calibration_digits(300)
    for method in ("percentile", "minmax"):
        whole = lenetc.quantize(net, images, method=method)
        monkeypatch.setattr(calibrate, "BATCH", 7)
        split = lenetc.quantize(net, images, method=method)
        monkeypatch.undo()
        assert whole.input_q == split.input_q
        pairs = [(a.out_q, b.out_q) for a, b in zip(whole.layers, split.layers)]
        pairs += [(a.pre_q, b.pre_q) for a, b in zip(whole.layers, split.layers) if getattr(a, "pre_q", None)]
        for a, b in pairs:
            assert a.zero_point == b.zero_point
            assert a.scale == pytest.approx(b.scale, rel=1e-12)


@pytest.mark.parametrize("method", ["percentile", "mse"])
def test_streamed_scales_close_to_exact(method):
    """Against the in-memory computation (all values at once, NumPy's exact percentile or the
    sample of all values): scales agree within 1 % (the histogram's bound is 1.6 % of a step
    in the percentile position, far less in the scale of a tensor whose range is wide)."""
    rng = np.random.default_rng(5)
    values = rng.standard_t(4, size=150_000)
    got = choose_qparams(values, method)
    if method == "percentile":
        lo, hi = np.percentile(values, [0.01, 99.99])
    else:
        lo, hi = calibrate._mse_range(values, values.min(), values.max())
    want = calibrate._affine(min(lo, 0.0), max(hi, 0.0))
    assert got.scale == pytest.approx(want.scale, rel=1e-2)
    assert abs(got.zero_point - want.zero_point) <= 1
