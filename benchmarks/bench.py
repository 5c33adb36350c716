"""lenetc's generated C against ONNX Runtime on the host, float32 and int8, batch 1 and 64.

One run, one thread, thread CPU time (``time.thread_time``), interleaved rounds (every engine
once per round, the order rotated each round), medians over the rounds. For each zoo net (and a
PyTorch-style ONNX file, imported through ``lenetc.load``):

- float32: lenetc's compiled C vs ONNX Runtime on the model from ``to_onnx`` (the file itself
  for the imported model);
- int8: lenetc's int8 C (float in, quantize, run, dequantize) vs ONNX Runtime's static QDQ
  quantization (per-channel S8S8, the same 100 calibration digits), float in/out on both sides.

Printed: µs per image, ratio = ORT time / lenetc time (higher is better), and the float32
fraction of the host's single-core FMA peak (benchmarks/peak.py, measured in this run).
Then the goal table: ratios, lenetc µs per image and xfloor (lenetc time over the time of the
MACs at the FMA peak measured in this run), and the cells below issue 27's goal; with
``--arm64`` also the bare-metal Arm64 instructions per MAC (benchmarks/arm64_icount.py).
Usage: python benchmarks/bench.py [--models lenet5 lenet-caffe ...] [--rounds 7] [--no-import] [--arm64]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # single thread for every engine, before NumPy loads BLAS

import argparse  # noqa: E402
import logging  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from peak import cpu_vector_features, fma_peak  # noqa: E402

import lenetc  # noqa: E402
from lenetc.api import calibration_digits  # noqa: E402
from lenetc.datasets import preprocessed  # noqa: E402
from lenetc.exporters.onnx_export import ort_session, to_onnx  # noqa: E402

BATCHES = (1, 64)
CALIB = 100
#: Issue 27's goals: every cell at least GOAL x ONNX Runtime, or a float32 cell within FLOOR_GOAL
#: x the FMA floor (MACs at the measured single-core peak).
GOAL, FLOOR_GOAL = 1.5, 1.2


@dataclass
class Case:
    """One model's engines: name -> callable on a float32 batch (N, C, H, W)."""

    model: str
    macs: int
    engines: dict[str, Callable[[np.ndarray], object]]
    times: dict[tuple[str, int], list[float]] = field(default_factory=dict)


def ort_qdq(model_bytes: bytes, calib: np.ndarray, tmp: Path) -> bytes:
    """ONNX Runtime's static QDQ quantization of ``model_bytes``: per-channel S8S8 on ``calib``."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    src, pre, dst = tmp / "f32.onnx", tmp / "pre.onnx", tmp / "int8.onnx"
    src.write_bytes(model_bytes)
    try:
        quant_pre_process(str(src), str(pre))
    except Exception:  # pre-processing is an optimisation; quantize the model as it is
        pre = src
    sess = ort_session(src)
    name = sess.get_inputs()[0].name
    shape = [int(d) if isinstance(d, int) else 1 for d in sess.get_inputs()[0].shape]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(calib)

        def get_next(self):
            x = next(self.it, None)
            return None if x is None else {name: x.reshape(shape).astype(np.float32)}

    quantize_static(str(pre), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)  # fmt: skip
    return dst.read_bytes()


def ort_engine(model_bytes: bytes) -> Callable[[np.ndarray], object]:
    """A one-thread ONNX Runtime session as a callable on (N, C, H, W) float32 batches."""
    import onnx

    sess = ort_session(onnx.load_from_string(model_bytes), threads=1)
    inp = sess.get_inputs()[0]
    shape = [int(d) for d in inp.shape[1:]]
    return lambda x: sess.run(None, {inp.name: x.reshape(len(x), *shape)})


def case(label: str, net: lenetc.Network, model_bytes: bytes, calib_digits: np.ndarray, tmp: Path) -> Case:
    calib = preprocessed(net, calib_digits)
    qnet = lenetc.quantize(net, calib)
    engines = {
        "lenetc f32": lenetc.compile(net),
        "ORT f32": ort_engine(model_bytes),
        "lenetc int8": lenetc.compile(qnet),
        "ORT int8": ort_engine(ort_qdq(model_bytes, calib, tmp)),
    }
    return Case(label, net.totals()["macs"], engines)


def measure_round(c: Case, inputs: dict[int, np.ndarray], shift: int, budget: float) -> None:
    """Time every engine of ``c`` once at each batch size (order rotated by ``shift``)."""
    names = list(c.engines)
    names = names[shift % len(names) :] + names[: shift % len(names)]
    for name in names:
        run = c.engines[name]
        for b in BATCHES:
            x = inputs[b]
            calls, t0 = 0, time.thread_time()
            while True:
                run(x)
                calls += 1
                elapsed = time.thread_time() - t0
                if elapsed >= budget and calls >= 3:
                    break
            c.times.setdefault((name, b), []).append(elapsed / calls / b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["lenet5", "lenet-caffe", "lenet-keras", "lenet5-keras"])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--budget", type=float, default=0.02, help="seconds per engine, batch and round")
    parser.add_argument("--no-import", action="store_true", help="leave out the PyTorch-style ONNX file")
    parser.add_argument("--arm64", action="store_true", help="also count Arm64 instructions (arm64_icount.py)")
    args = parser.parse_args()

    import onnxruntime

    logging.getLogger().setLevel(logging.ERROR)  # ORT quantization's advice to pre-process
    peak = fma_peak()
    best = max(peak.values()) if peak else float("nan")
    print(f"ONNX Runtime {onnxruntime.__version__}; CPU {cpu_vector_features()}")
    print("FMA peak (GFMA/s, one core): " + ", ".join(f"{k} {v:.1f}" for k, v in peak.items()))
    digits = calibration_digits(CALIB)
    cases = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for name in args.models:
            net = lenetc.load(name)
            cases.append(case(name, net, to_onnx(net).SerializeToString(), digits, tmp))
        if not args.no_import:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
            from onnx_models import torch_lenet

            path = tmp / "torch_lenet.onnx"
            path.write_bytes(torch_lenet().SerializeToString())
            net = lenetc.load(path)
            cases.append(case("torch-onnx", net, path.read_bytes(), digits, tmp))
        inputs = {}
        for c in cases:
            shape = next(iter(c.engines.values())).input_shape
            x = preprocessed(lenetc.load(c.model) if c.model != "torch-onnx" else net, digits[:64])
            inputs[c.model] = {b: np.ascontiguousarray(x[:b].reshape(b, *shape), np.float32) for b in BATCHES}
        for r in range(args.rounds):
            for c in cases:
                measure_round(c, inputs[c.model], r, args.budget)

    print(f"\nµs per image, median of {args.rounds} interleaved rounds; ratio = ORT / lenetc; "
          f"%peak = GMAC/s over the best FMA peak ({best:.1f})")  # fmt: skip
    print(f"{'model':<13} {'type':<5} {'batch':>5} {'lenetc':>9} {'ORT':>9} {'ratio':>6} "
          f"{'lenetc %pk':>10} {'ORT %pk':>8}")  # fmt: skip
    summary: dict[str, dict[str, float]] = {}
    for c in cases:
        for dt in ("f32", "int8"):
            for b in BATCHES:
                mine = statistics.median(c.times[(f"lenetc {dt}", b)])
                ort = statistics.median(c.times[(f"ORT {dt}", b)])
                pk_mine = c.macs / mine / 1e9 / best * 100
                pk_ort = c.macs / ort / 1e9 / best * 100
                summary.setdefault(c.model, {})[f"{dt} b{b}"] = ort / mine
                print(f"{c.model:<13} {dt:<5} {b:>5} {mine * 1e6:>9.1f} {ort * 1e6:>9.1f} {ort / mine:>6.2f} "
                      f"{pk_mine:>9.1f}% {pk_ort:>7.1f}%")  # fmt: skip
    cols = [f"{dt} b{b}" for dt in ("f32", "int8") for b in BATCHES]
    print(f"\nratio = ORT / lenetc (goal >= {GOAL}, or for float32 xfloor <= {FLOOR_GOAL}); "
          f"xfloor = lenetc time / (MACs / FMA peak {best:.1f} GFMA/s)")  # fmt: skip
    print("| model | " + " | ".join(cols) + " | lenetc µs/img f32 b1 / b64 | int8 b1 / b64 | xfloor f32 b1 / b64 |")
    print("|---|" + "---|" * (len(cols) + 3))
    missed = []
    for c in cases:
        row = summary[c.model]
        us = {k: statistics.median(c.times[(f"lenetc {k.split()[0]}", int(k.split()[1][1:]))]) * 1e6 for k in cols}
        floor_us = c.macs / (best * 1e9) * 1e6
        xfloor = {k: us[k] / floor_us for k in cols if k.startswith("f32")}
        for k in cols:
            if row[k] < GOAL and not (k in xfloor and xfloor[k] <= FLOOR_GOAL):
                missed.append(f"{c.model} {k}")
        print(f"| {c.model} | " + " | ".join(f"{row[k]:.2f}" for k in cols)
              + f" | {us['f32 b1']:.1f} / {us['f32 b64']:.1f} | {us['int8 b1']:.1f} / {us['int8 b64']:.1f}"
              + f" | {xfloor['f32 b1']:.1f} / {xfloor['f32 b64']:.1f} |")  # fmt: skip
    allr = [v for row in summary.values() for v in row.values()]
    print(
        f"median ratio {statistics.median(allr):.2f}, min {min(allr):.2f}; "
        f"cells below the goal: {', '.join(missed) if missed else 'none'}"
    )
    if args.arm64:
        import arm64_icount

        print(
            "\nArm64 bare metal (qemu-system-aarch64 -M virt -cpu cortex-a76 -icount shift=0, PMU INST_RETIRED), "
            "instructions per MAC, one inference, aarch64-linux-gnu-gcc -O2 -march=armv8.2-a+dotprod:"
        )
        sys.argv = [sys.argv[0]]
        arm64_icount.main()


if __name__ == "__main__":
    main()
