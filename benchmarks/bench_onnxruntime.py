"""ONNX Runtime rows for benchmarks/bench.py: the same network, single-threaded, same inputs.

``onnxruntime_rows(net, x)`` exports ``net`` to ONNX (or takes an .onnx path), opens a
one-thread CPU session and measures batch-1 latency and batch-64 throughput the way
``lenetc_rows`` measures the compiled C, so both land in one table from one run.

Standalone: ``python benchmarks/bench_onnxruntime.py [MODEL ...]`` prints both engines.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lenetc.exporters.onnx_export import ort_session  # noqa: E402


def _timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up: first-call allocations and lazy initialisation
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def measure(run_batch, x: np.ndarray, repeats: int = 200, batch: int = 64) -> dict[str, float]:
    """Median batch-1 latency (µs) and batch-``batch`` throughput (images/s) of ``run_batch(array)``."""
    one = x[:1]
    many = np.ascontiguousarray(np.resize(x, (batch, *x.shape[1:])))
    lat = _timed(lambda: run_batch(one), repeats)
    thr = _timed(lambda: run_batch(many), max(repeats // 10, 5))
    return {"batch1_us": statistics.median(lat) * 1e6, f"batch{batch}_img_per_s": batch / statistics.median(thr)}


def onnxruntime_rows(net_or_path, x: np.ndarray, repeats: int = 200) -> dict[str, float]:
    """ONNX Runtime (1 intra-op and 1 inter-op thread) timings for the model on inputs ``x`` (N, C, H, W)."""
    return measure(onnxruntime_engine(net_or_path), np.asarray(x, np.float32), repeats)


def onnxruntime_engine(net_or_path):
    """A callable on float32 batches (N, C, H, W) running the model in single-threaded ONNX Runtime,
    for ``engines()`` in benchmarks/bench.py."""
    sess = ort_session(net_or_path, threads=1)
    name = sess.get_inputs()[0].name
    dims = sess.get_inputs()[0].shape
    shape = [int(d) for d in dims[1:]]
    fixed_one = isinstance(dims[0], int) and dims[0] == 1

    def run(batch: np.ndarray):
        b = np.asarray(batch, np.float32).reshape(len(batch), *shape)
        if fixed_one:
            return [sess.run(None, {name: b[i : i + 1]}) for i in range(len(b))]
        return sess.run(None, {name: b})

    return run


def lenetc_rows(net, x: np.ndarray, repeats: int = 200) -> dict[str, float]:
    """The compiled C (cffi bindings, batch loop in C) measured the same way."""
    import lenetc

    compiled = lenetc.compile(net)
    return measure(compiled, np.asarray(x, np.float32), repeats)


def main(argv: list[str]) -> None:
    import lenetc

    models = argv or ["lenet5", "lenet-caffe", "lenet-keras", "lenet5-keras"]
    import onnxruntime

    print(f"onnxruntime {onnxruntime.__version__}, one thread; lenetc -O3 -march=native via cffi")
    print(f"{'model':<14} {'engine':<12} {'batch-1 us':>11} {'batch-64 img/s':>15}")
    for name in models:
        net = lenetc.load(name)
        x = np.random.default_rng(0).uniform(0, 1, size=(64, *net.input_shape)).astype(np.float32)
        for engine, fn in (("lenetc", lenetc_rows), ("onnxruntime", onnxruntime_rows)):
            r = fn(net, x)
            print(f"{name:<14} {engine:<12} {r['batch1_us']:>11.1f} {r['batch64_img_per_s']:>15.0f}")


if __name__ == "__main__":
    main(sys.argv[1:])
