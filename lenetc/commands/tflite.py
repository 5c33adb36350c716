"""``verify --against tflm|litert``: lenetc's C against the real TFLite interpreters on the very
``.tflite`` file, bit for bit for int8 files."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..api import compile
from ..exporters.tflite_export import save_tflite
from ..network import Network
from ..tflite_runtime import run
from .int8 import quantize_from_args
from .verify_report import VerifyReport, float_rows

LABELS = {"tflm": "TensorFlow Lite Micro (tflite-micro)", "litert": "LiteRT (ai-edge-litert)"}


def compare_int8(got: np.ndarray, ref: np.ndarray) -> dict:
    """% identical elements, largest difference in LSB and argmax agreement of two int8 batches."""
    d = np.abs(got.astype(np.int64) - ref.astype(np.int64))
    return {
        "identical": float((d == 0).mean()),
        "max_lsb": int(d.max(initial=0)),
        "argmax_agreement": float((got.argmax(axis=1) == ref.argmax(axis=1)).mean()),
    }


def verify_tflite(args: argparse.Namespace, net: Network, x: np.ndarray, what: str) -> int:
    """Compile the C for MODEL and compare it with ``args.against``'s outputs on ``x``: on the
    .tflite file itself, or for any other model on lenetc's TFLite export of it (int8: the
    calibrated network, the C under --requant tflm unless told otherwise)."""
    path = Path(args.model)
    if path.suffix.lower() == ".tflite":
        return _verify_file(args, path, net, x, what)
    with tempfile.TemporaryDirectory(prefix="lenetc-verify-") as tmp:
        qnet = None
        if args.dtype == "int8":
            args.requant = args.requant or "tflm"
            qnet = quantize_from_args(net, args)
        save_tflite(qnet if qnet is not None else net, Path(tmp) / "export.tflite")
        print(f"lenetc: note: checking lenetc's TFLite export of {net.name} ({args.dtype})", file=sys.stderr)
        return _verify_file(args, Path(tmp) / "export.tflite", net, x, what, qnet)


def _verify_file(args, path: Path, net: Network, x: np.ndarray, what: str, qnet=None) -> int:
    label = LABELS[args.against]
    file_qnet = getattr(args, "file_qnet", None)
    if args.dtype != "int8":
        if file_qnet is not None:
            net = file_qnet.net
        got = compile(net, prefix=args.prefix)(x)
        ref = run(args.against, path, x.astype(np.float32)).reshape(got.shape)
        err = np.abs(got.astype(np.float64) - ref)
        rel = float(err.max() / max(float(np.abs(ref).max()), 1e-30))
        agree = float((got.argmax(axis=1) == ref.argmax(axis=1)).mean())
        ok = rel <= args.tolerance
        report = VerifyReport(net.name, "float32", label, what)
        float_rows(report, float(err.max()), rel, agree, args.tolerance)
        report.ok, report.verdict = ok, "PASS" if ok else "FAIL: error above tolerance"
        return report.emit(getattr(args, "json", False))
    qnet = qnet if qnet is not None else quantize_from_args(net, args)
    xq = qnet.quantize_input(x)
    got = compile(qnet, prefix=args.prefix, dtype="int8").run_int8(xq)
    float_io = qnet.notes.get("io", "").startswith("float")
    ref = run(args.against, path, x.astype(np.float32) if float_io else xq).reshape(got.shape)
    if float_io:  # DEQUANTIZE's float32 (q - zp) * scale back to q: exact
        ref = np.rint(ref / np.float32(qnet.output_q.scale)) + qnet.output_q.zero_point
    stats = compare_int8(got, ref)
    ok = stats["identical"] == 1.0
    io = "float input/output" if float_io else "int8 input/output"
    report = VerifyReport(net.name, f"int8, --requant {qnet.requant}", label, f"{what} ({io})")
    report.add("outputs", "outputs compared", got.size)
    report.add("identical", "identical elements", stats["identical"], f"{100 * stats['identical']:.2f} %")
    report.add("max_lsb", "max difference", stats["max_lsb"], f"{stats['max_lsb']} LSB")
    agree = stats["argmax_agreement"]
    report.add("argmax_agreement", "argmax agreement", agree, f"{100 * agree:.2f} %")
    report.ok, report.verdict = ok, "PASS (bit-exact)" if ok else f"FAIL: the int8 C differs from {label}"
    return report.emit(getattr(args, "json", False))
