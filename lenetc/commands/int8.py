"""What the command line adds for ``--dtype int8``: the calibration flags, and the printing of
scales, memory, bit-exact verification and accuracy."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np

from ..api import DEFAULT_CALIBRATION, compile, generate, quantize
from ..codegen import Generated, generated, make_plan
from ..digitsets import load_digit_set
from ..errors import LenetcError
from ..evaluate_int8 import evaluate_int8, plot_sqnr
from ..families import PORTABLE
from ..network import Network
from ..plotting import report_written
from ..quant.calibrate import DEFAULT_METHOD, DEFAULT_PERCENTILE, METHODS
from ..quant.qnetwork import QuantizedNetwork
from ..quant.reference_int8 import forward_int8
from ..quant.requant_mode import REQUANT_MODES, with_requant
from ..text import minus, plus
from ..variants import Dialect
from .verify_report import VerifyReport


def add_int8_args(p) -> None:
    """Options of every command that takes ``--dtype int8``: the calibration set and method."""
    calib_help = (
        f"int8: calibrate on the first N digits (default {DEFAULT_CALIBRATION} MNIST training digits; "
        "with --calib-data all of its digits)"
    )
    p.add_argument("--calib", type=int, metavar="N", help=calib_help)
    p.add_argument(
        "--calib-data",
        metavar="PATH",
        help="int8: calibrate on your own digits instead of MNIST: a folder of pictures, FILE.npy (N, 28, 28) "
        "or FILE.npz with 'images' (see README, 'Your own digits')",
    )
    method_help = f"int8: activation range choice (default {DEFAULT_METHOD} {DEFAULT_PERCENTILE})"
    p.add_argument("--calib-method", choices=METHODS, default=DEFAULT_METHOD, help=method_help)
    p.add_argument(
        "--requant",
        choices=REQUANT_MODES,
        default=None,
        help="int8: requantization rule; int (default): integer multiplier and shift, any CPU; float: "
        "float32 scale with ties to even, as ONNX Runtime computes it (for CPUs with an FPU); tflm (default for "
        ".tflite files): TensorFlow Lite Micro's reference kernels bit for bit, integer only",
    )


def quantize_from_args(net: Network, args: argparse.Namespace) -> QuantizedNetwork:
    """``net`` calibrated as the flags say (default: the first MNIST training digits); the
    calibration set's description is kept in ``notes["calibration"]``. A quantized file's own
    network (an int8 .tflite, a QDQ or QOperator .onnx) is used as it is (``--requant`` default:
    ``tflm`` for .tflite, ``int`` for .onnx)."""
    file_qnet = getattr(args, "file_qnet", None)
    if file_qnet is not None and file_qnet.net is net:
        if getattr(args, "calib", None) is not None or getattr(args, "calib_data", None) is not None:
            raise LenetcError("--calib/--calib-data: a quantized model file carries its own scales")
        file_qnet.notes.setdefault("calibration", "the file's own scales")
        return with_requant(file_qnet, getattr(args, "requant", None) or file_qnet.requant)
    n = getattr(args, "calib", None)
    method = getattr(args, "calib_method", DEFAULT_METHOD)
    path = getattr(args, "calib_data", None)
    if path is not None:
        digits = load_digit_set(path).first(n)
        qnet = quantize(net, digits.images, method)
        qnet.notes["calibration"] = digits.describe()
    else:
        n = DEFAULT_CALIBRATION if n is None else n
        qnet = quantize(net, None, method, n_calib=n, data=getattr(args, "data", None))
        qnet.notes["calibration"] = f"{qnet.calibration_images:,} MNIST training digits"
    mode = getattr(args, "requant", None) or "int"
    return qnet if mode == "int" else with_requant(qnet, mode)


def calibration_doc(qnet: QuantizedNetwork) -> dict:
    """The calibration as ``--json`` reports it."""
    return {"method": qnet.method, "images": qnet.calibration_images, "source": calibration_source(qnet)}


def calibration_phrase(qnet: QuantizedNetwork) -> str:
    """How the report names where the scales came from: the calibration, or the model file's own."""
    if qnet.method == "file":
        return calibration_source(qnet)
    return f"calibrated with {qnet.method} on {calibration_source(qnet)}"


def calibration_source(qnet: QuantizedNetwork) -> str:
    """What ``qnet`` was calibrated on, for the reports."""
    return qnet.notes.get("calibration", f"{qnet.calibration_images:,} images")


def memory_lines(fgen: Generated, qgen: Generated) -> list[str]:
    """Flash and arena bytes, float32 against int8, and the accumulator bound, for ``info``/``generate``."""
    fplan, qplan = fgen.plan, qgen.plan
    scratch = max((s.scratch_bytes for s in qgen.memory.stages), default=0)
    equal = "=" if qplan.arena_bytes == qplan.arena_lower_bound else "above its"
    return [
        f"{'':<8} {'flash (weights + tables)':>26} {'arena':>10}",
        f"{'float32':<8} {fplan.weight_bytes():>26,} {fplan.arena_bytes:>10,}",
        f"{'int8':<8} {qplan.weight_bytes():>26,} {qplan.arena_bytes:>10,}",
        f"int8 arena {qplan.arena_bytes:,} bytes {equal} liveness lower bound {qplan.arena_lower_bound:,} "
        f"(the most bytes alive during any one layer); kernel scratch, up to {scratch:,} bytes, is in the arena",
        f"int8 accumulators: |acc| <= {qplan.acc_bound:,} < 2^31 on every int8 input (no overflow)",
    ]


def scale_lines(qnet: QuantizedNetwork) -> list[str]:
    """Per-layer output scale, zero point and accumulator bound."""
    lines = [f"input scale {qnet.input_q.scale:.6g} zero point {qnet.input_q.zero_point}"]
    rows = qnet.summary()
    wn = max([10, *(len(str(r["layer"])) for r in rows)])
    lines.append(f"{'layer':<{wn}} {'kind':<12} {'out scale':>12} {'zp':>5} {'|acc| bound':>14} {'flash':>9}")
    for row in rows:
        lines.append(
            f"{row['layer']:<{wn}} {row['kind']:<12} {row['out_scale']:>12.6g} {row['out_zero_point']:>5} "
            f"{row['acc_bound']:>14,} {row['const_bytes']:>9,}"
        )
    if qnet.final_softmax:
        lines.append(f"({qnet.final_softmax} is applied in Python after dequantizing the int8 logits)")
    return lines


def verify_int8(
    qnet: QuantizedNetwork, x: np.ndarray, what: str, prefix: str | None = None, as_json: bool = False
) -> int:
    """``verify --dtype int8``: the C must equal the NumPy integer reference bit for bit."""
    net = qnet.net
    compiled = compile(qnet, prefix=prefix, dtype="int8")
    xq = qnet.quantize_input(x)
    got, ref = compiled.run_int8(xq), forward_int8(qnet, xq)
    diff = int((got != ref).sum())
    report = VerifyReport(net.name, "int8", "NumPy integer reference", what)
    report.add("outputs", "outputs compared", int(ref.size))
    report.add("differing", "differing outputs", diff)
    report.ok = diff == 0
    report.verdict = "PASS (bit-exact)" if diff == 0 else "FAIL: the int8 C differs from the integer reference"
    return report.emit(as_json)


def info_int8(net: Network, args, dialect: Dialect = PORTABLE) -> int:
    """``info --dtype int8``: scales, accumulator bounds, flash and arena bytes (for ``dialect``)."""
    qnet = quantize_from_args(net, args)
    fgen = generated(make_plan(net, None, dialect))
    qgen = generate(qnet, dtype="int8", target=dialect, ram_bytes=getattr(args, "ram_bytes", None))
    if getattr(args, "json", False):
        qplan, fplan = qgen.plan, fgen.plan
        doc = {
            "model": net.name,
            "dtype": "int8",
            "calibration": {
                "method": qnet.method,
                "images": qnet.calibration_images,
                "source": calibration_source(qnet),
            },
            "input": {"scale": qnet.input_q.scale, "zero_point": qnet.input_q.zero_point},
            "output": {
                "dtype": qnet.output_dtype,
                "scale": qnet.output_q.scale,
                "zero_point": qnet.output_q.zero_point,
            },
            "layers": qnet.summary(),
            "flash_bytes": {"float32": fplan.weight_bytes(), "int8": qplan.weight_bytes()},
            "arena_bytes": {"float32": fplan.arena_bytes, "int8": qplan.arena_bytes},
            "arena_lower_bound": {"float32": fplan.arena_lower_bound, "int8": qplan.arena_lower_bound},
            "acc_bound": qplan.acc_bound,
            "dialect": dialect.name,
            "memory": {"dialect": dialect.name, **qgen.memory.to_dict()},
        }
        print(json.dumps(doc, indent=2))
        return 0
    print(f"model {net.name}, int8 ({calibration_phrase(qnet)})")
    print(f"C dialect {dialect.name} (workspace aligned to {dialect.align})")
    for line in scale_lines(qnet) + memory_lines(fgen, qgen):
        print(line)
    return 0


def generate_int8(net: Network, args, dialect: Dialect = PORTABLE) -> int:
    """``generate --dtype int8``: write the integer-only C (for ``dialect``) and report its memory."""
    qnet = quantize_from_args(net, args)
    qgen = generate(qnet, args.output, prefix=args.prefix, dtype="int8", target=dialect,
                    ram_bytes=getattr(args, "ram_bytes", None))  # fmt: skip
    for path in qgen.paths:
        print(f"wrote {path}")
    inq, outq = qnet.input_q, qnet.output_q
    print(f"input: q = round(x / {inq.scale:.9g}){plus(inq.zero_point)}; "
          f"output {qnet.output_dtype}: x = {outq.scale:.9g} * (q{minus(outq.zero_point)})")  # fmt: skip
    print(f"C dialect {dialect.name}")
    for line in memory_lines(generated(make_plan(net, args.prefix, dialect)), qgen):
        print(line)
    return 0


def add_eval_int8_args(p) -> None:
    """What ``eval`` needs for ``--dtype int8`` (the ``eval`` command itself lives with the trainer)."""
    p.add_argument("--dtype", choices=["float32", "int8"], default="float32", help="arithmetic of the C")
    add_int8_args(p)
    p.add_argument(
        "--sqnr-images", type=int, default=1000, metavar="K", help="int8: digits for the SQNR (default 1000)"
    )


def eval_int8(net: Network, args, inputs: np.ndarray, labels: np.ndarray, what: str = "MNIST test digits") -> int:
    """``eval --dtype int8``: accuracy of the float32 C and the int8 C on ``inputs`` (preprocessed
    MNIST test digits), the per-layer SQNR, and with ``args.plot`` a chart of it (format from the extension)."""
    qnet = quantize_from_args(net, args)
    backend = getattr(args, "backend", "c")
    ev = evaluate_int8(net, qnet, inputs, labels, getattr(args, "sqnr_images", 1000), backend)
    runs = "C" if backend == "c" else "reference"
    if getattr(args, "json", False):
        doc = {
            "model": ev.model, "images": ev.images, "accuracy_float32": ev.accuracy_float32,
            "accuracy_int8": ev.accuracy_int8, "drop_points": ev.drop_points, "agreement": ev.agreement,
            "backend": backend,
            "calibration": calibration_doc(qnet),
            "inputs": what, "sqnr_images": ev.sqnr_images,
            "layers": [{"name": r.name, "kind": r.kind, "sqnr_db": r.sqnr_db if math.isfinite(r.sqnr_db) else None,
                        "max_abs_error": r.max_abs_error} for r in ev.layers],
        }  # fmt: skip
        print(json.dumps(doc, indent=2))
    else:
        print(f"{net.name} on {ev.images} {what} "
              f"(int8 {calibration_phrase(qnet)})")  # fmt: skip
        print(f"  float32 {runs} accuracy".ljust(23) + f"{100 * ev.accuracy_float32:.2f} %")
        print(
            f"  int8 {runs} accuracy".ljust(23) + f"{100 * ev.accuracy_int8:.2f} %  (drop {ev.drop_points:+.2f} points)"
        )
        print(f"  same prediction      {100 * ev.agreement:.2f} %")
        print(f"  per-layer SQNR, int8 reference vs float reference, first {ev.sqnr_images} digits:")
        for r in ev.layers:
            print(f"    {r.name:<10} {r.kind:<12} {r.sqnr_db:7.2f} dB   max |error| {r.max_abs_error:.4g}")
    if getattr(args, "plot", None):
        path = plot_sqnr(ev.layers, args.plot, f"{net.name}: int8 SQNR per layer")
        report_written(path, to_stderr=getattr(args, "json", False))
    return 0
