"""Speed of the generated C (through the cffi bindings) beside the NumPy reference.

Prints, for each zoo net, batch-1 median latency (µs) and batch-64 throughput (images/s),
single thread, all rows measured in the same run. Usage:
    python benchmarks/bench.py [--models lenet5 lenet-caffe ...] [--seconds 0.5]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # single thread for every engine, before NumPy loads BLAS

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

import lenetc  # noqa: E402
from lenetc.zoo import ZOO  # noqa: E402


def median_seconds(fn: Callable[[], object], budget: float, min_runs: int = 5) -> float:
    """Median wall time of ``fn`` over as many runs as fit in ``budget`` seconds (at least ``min_runs``)."""
    fn()  # warm-up: caches, lazy loading
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def int8_engines(net: lenetc.Network) -> dict[str, Callable[[np.ndarray], object]]:
    """The int8 C: raw (int8 in, int8 out: what firmware runs; the input is quantized once,
    outside the timing) and from Python floats (quantize, run, dequantize + softmax)."""
    qnet = lenetc.quantize(net, n_calib=256)
    c8 = lenetc.compile(qnet)
    quantized: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def raw(x: np.ndarray) -> object:
        if id(x) not in quantized:
            quantized[id(x)] = (x, qnet.quantize_input(x))
        return c8.run_int8(quantized[id(x)][1])

    return {"lenetc C int8": raw, "lenetc C int8 float io": c8}


def engines(net: lenetc.Network) -> dict[str, Callable[[np.ndarray], object]]:
    """The engines to compare: name -> callable on a float32 batch."""
    found = {"lenetc C float32": lenetc.compile(net), **int8_engines(net)}
    try:
        from bench_onnxruntime import onnxruntime_engine
    except ImportError as exc:  # onnxruntime is an optional extra
        print(f"(no ONNX Runtime rows: {exc})")
    else:
        found["ONNX Runtime 1 thr"] = onnxruntime_engine(net)
    found["NumPy reference"] = net.forward
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=[m for m in ZOO if m != "lenet5-softmax"])
    parser.add_argument("--seconds", type=float, default=0.5, help="time budget per measurement")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'model':<14} {'engine':<24} {'batch-1 µs':>11} {'batch-64 img/s':>15} {'vs C b1':>8}")
    for name in args.models:
        net = lenetc.load(name)
        x64 = rng.uniform(-1, 1, size=(64, *net.input_shape)).astype(np.float32)
        x1 = x64[:1]
        base = None
        for engine, run in engines(net).items():
            t1 = median_seconds(lambda run=run, x=x1: run(x), args.seconds)
            t64 = median_seconds(lambda run=run, x=x64: run(x), args.seconds, min_runs=3)
            base = base or t1
            print(f"{name:<14} {engine:<24} {t1 * 1e6:>11.1f} {64 / t64:>15,.0f} {t1 / base:>7.2f}x")


if __name__ == "__main__":
    main()
