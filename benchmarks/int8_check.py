"""int8 on the full MNIST test split, for every zoo net: the C against the NumPy integer
reference (bit for bit, all 10,000 digits), accuracy of the int8 C against the float32 C, the
per-layer SQNR, flash and arena bytes, and batch-1 latency of both C builds.

Usage:
    python benchmarks/int8_check.py [--models lenet5 lenet-caffe ...] [--calib 1000]
        [--method percentile] [--weights-dir DIR] [--compare-methods]
Exit status 1 when a net is not bit-exact or loses more than 0.3 points.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import lenetc
from lenetc.codegen import make_plan
from lenetc.quant import forward_int8
from lenetc.quant.calibrate import METHODS
from lenetc.quant.evaluate import sqnr_per_layer
from lenetc.reference import predict_classes
from lenetc.zoo import ZOO

MAX_DROP_POINTS = 0.3


def batch1_us(fn, x: np.ndarray, budget: float = 0.5) -> float:
    fn(x)
    times = []
    start = time.perf_counter()
    while len(times) < 20 or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def reference_chunked(qnet, xq: np.ndarray, chunk: int = 500) -> np.ndarray:
    return np.concatenate([forward_int8(qnet, xq[i : i + chunk]) for i in range(0, len(xq), chunk)])


def check(name: str, args) -> bool:
    from lenetc.datasets import mnist_inputs  # lands with the trainer's branch

    weights = Path(args.weights_dir) / f"{name}.npz" if args.weights_dir else None
    net = lenetc.load(name, weights)
    x, labels = mnist_inputs(net, None, "test")
    c_float = lenetc.compile(net)
    pred_f = predict_classes(net, c_float(x))
    acc_f = float((pred_f == labels).mean())
    methods = METHODS if args.compare_methods else (args.method,)
    ok = True
    for method in methods:
        qnet = lenetc.quantize(net, method=method, n_calib=args.calib)
        c_int8 = lenetc.compile(qnet)
        xq = qnet.quantize_input(x)
        raw = c_int8.run_int8(xq)
        diff = int((raw != reference_chunked(qnet, xq)).sum())
        acc_q = float((predict_classes(net, raw) == labels).mean())
        drop = 100 * (acc_f - acc_q)
        good = diff == 0 and drop <= MAX_DROP_POINTS
        ok &= good
        print(f"{name:<15} {method:<10} float32 {100 * acc_f:6.2f} %  int8 {100 * acc_q:6.2f} %  "
              f"drop {drop:+.2f}  C vs integer reference: {diff} of {raw.size} outputs differ  "
              f"{'ok' if good else 'FAIL'}")  # fmt: skip
    sq = sqnr_per_layer(qnet, x[:1000])
    print("    SQNR dB (first 1000 digits): " + ", ".join(f"{r.name} {r.sqnr_db:.1f}" for r in sq))
    fplan, qplan = make_plan(net), make_plan(qnet)
    print(f"    flash float32 {fplan.weight_bytes():,} B, int8 {qplan.weight_bytes():,} B; "
          f"arena float32 {fplan.arena_bytes:,} B, int8 {qplan.arena_bytes:,} B "
          f"(bound {qplan.arena_lower_bound:,}); |acc| <= {qplan.acc_bound:,}")  # fmt: skip
    t_f = batch1_us(c_float, x[:1])
    t_q = batch1_us(c_int8.run_int8, xq[:1])
    print(f"    batch-1 latency: float32 C {t_f:.1f} us, int8 C {t_q:.1f} us ({t_f / t_q:.2f}x)")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(ZOO))
    parser.add_argument("--calib", type=int, default=1000, help="MNIST training digits for calibration")
    parser.add_argument("--method", choices=METHODS, default="percentile")
    parser.add_argument("--weights-dir", help="take <model>.npz from here instead of the shipped weights")
    parser.add_argument("--compare-methods", action="store_true", help="evaluate every calibration method")
    args = parser.parse_args()
    results = [check(name, args) for name in args.models]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
