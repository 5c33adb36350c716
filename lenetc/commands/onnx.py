"""``lenetc export``: write any lenetc model (zoo, .npz, .onnx, Keras) as a checked ONNX file; with
``--dtype int8`` the network lenetc calibrates, as QDQ ONNX."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import LenetcError
from ..exporters.onnx_export import save_onnx
from ..exporters.onnx_qdq import save_qdq_onnx
from ..exporters.tflite_export import save_tflite
from .int8 import add_int8_args, quantize_from_args
from .model_args import add_model_args, model_from_args, note_if_guessed


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write MODEL as ONNX (standard operators, passes onnx.checker)",
        description="Export MODEL (zoo name or model file) to ONNX. The file is written under a "
        "temporary name and renamed, so a failed export leaves no output.",
    )
    add_model_args(p)
    p.add_argument("-o", "--output", required=True, help="output .onnx path, or .tflite for TensorFlow Lite")
    p.add_argument("--opset", type=int, default=13, help="ONNX opset of the export (13 to 21; default 13)")
    p.add_argument(
        "--dtype",
        default=None,
        choices=["float32", "int8"],
        help="float32: the float network; int8: the network lenetc calibrates, as QDQ ONNX "
        "(QuantizeLinear/DequantizeLinear around float operators; see docs/onnx.md) or as a full-integer "
        ".tflite file that TFLM runs with the bits of lenetc's C under --requant tflm",
    )
    add_int8_args(p)
    p.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    if Path(args.output).suffix.lower() == ".tflite":
        return export_tflite(args)
    if not 13 <= args.opset <= 21:
        raise LenetcError(f"--opset {args.opset} is not supported (13 to 21)")
    net = model_from_args(args)
    if args.dtype == "int8":
        note_if_guessed(net)  # calibration preprocesses MNIST digits with it
        qnet = quantize_from_args(net, args)
        path = save_qdq_onnx(qnet, args.output, opset=args.opset)
        what = f"int8 QDQ, calibrated on {qnet.notes['calibration']}"
    else:
        path = save_onnx(net, args.output, opset=args.opset)
        what = "float32"
    print(f"wrote {path} ({net.name}, {what}, opset {args.opset}, input {'x'.join(map(str, net.input_shape))})")
    return 0


def export_tflite(args: argparse.Namespace) -> int:
    """``export -o m.tflite``: float32, or int8 with lenetc's calibrated integers (TFLM's rounding)."""
    net = model_from_args(args)
    if args.dtype == "int8":
        note_if_guessed(net)
        qnet = quantize_from_args(net, args)
        path = save_tflite(qnet, args.output)
        what = f"int8, calibrated on {qnet.notes['calibration']}; TFLM computes lenetc's --requant tflm C bit for bit"
        if qnet.final_softmax:
            what += f"; outputs int8 logits ({qnet.final_softmax} left to the caller, as lenetc's int8 C does)"
    else:
        path = save_tflite(net, args.output)
        what = "float32"
    print(f"wrote {path} ({net.name}, {what}, input {'x'.join(map(str, net.input_shape))})")
    return 0
