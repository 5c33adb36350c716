"""``verify --against onnxruntime --dtype int8``: the int8 C against ONNX Runtime's integer
outputs on the very quantized .onnx file (or, for a network lenetc calibrated, on its QDQ
export): % identical int8 outputs, largest difference in LSB, argmax agreement, and on
labelled digits both accuracies."""

from __future__ import annotations

import argparse

import numpy as np

from ..api import compile
from ..exporters.onnx_int8_run import onnxruntime_int8
from ..network import Network
from .int8 import quantize_from_args
from .tflite import compare_int8
from .verify_report import VerifyReport

#: With integer requantization lenetc may round a value the other way from ONNX Runtime's float
#: requantization where the product lands within rounding error of a half: at most this many LSB
#: on at least this fraction of the outputs passes. Float requantization must be identical.
INT_MAX_LSB, INT_MIN_IDENTICAL = 1, 0.999


def verify_onnxruntime_int8(args: argparse.Namespace, net: Network, x: np.ndarray, what: str,
                            labels: np.ndarray | None) -> int:  # fmt: skip
    """Compile the int8 C and compare its outputs with ONNX Runtime's on ``x``; 0 if they agree."""
    qnet = quantize_from_args(net, args)
    model = args.model if str(args.model).lower().endswith(".onnx") else None
    ref, label = onnxruntime_int8(qnet, x, model)
    got = compile(qnet, prefix=args.prefix, dtype="int8").run_int8(qnet.quantize_input(x)).reshape(ref.shape)
    stats = compare_int8(got, ref)
    if qnet.requant == "float":
        ok, rule = stats["identical"] == 1.0, "identical on every output"
    else:
        ok = stats["identical"] >= INT_MIN_IDENTICAL and stats["max_lsb"] <= INT_MAX_LSB
        rule = f">= {100 * INT_MIN_IDENTICAL:g} % identical, never more than {INT_MAX_LSB} LSB off"
    report = VerifyReport(net.name, f"int8, --requant {qnet.requant}", label, what)
    report.add("outputs", "outputs compared", int(got.size))
    report.add("identical", "identical outputs", stats["identical"], f"{100 * stats['identical']:.3f} %")
    report.add("max_lsb", "max difference", stats["max_lsb"], f"{stats['max_lsb']} LSB")
    agree = stats["argmax_agreement"]
    report.add("argmax_agreement", "argmax agreement", agree, f"{100 * agree:.2f} %")
    if labels is not None and ref.shape[1] == 10:
        acc_c, acc_ort = float((got.argmax(1) == labels).mean()), float((ref.argmax(1) == labels).mean())
        report.add("accuracy", "accuracy", {"lenetc": acc_c, "onnxruntime": acc_ort},
                   f"lenetc {100 * acc_c:.2f} %, ONNX Runtime {100 * acc_ort:.2f} %")  # fmt: skip
    report.ok = ok
    report.verdict = f"PASS ({rule})" if ok else f"FAIL: needs {rule}"
    return report.emit(getattr(args, "json", False))
