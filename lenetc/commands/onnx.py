"""``lenetc export``: write any lenetc model (zoo, .npz, .onnx, Keras) as a checked ONNX file; with
``--dtype int8`` the network lenetc calibrates, as QDQ ONNX."""

from __future__ import annotations

import argparse

from ..errors import LenetcError
from ..exporters.onnx_export import save_onnx
from ..exporters.onnx_qdq import save_qdq_onnx
from .int8 import add_int8_args, quantize_from_args
from .model_args import add_model_args, model_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write MODEL as ONNX (standard operators, passes onnx.checker)",
        description="Export MODEL (zoo name or model file) to ONNX. The file is written under a "
        "temporary name and renamed, so a failed export leaves no output.",
    )
    add_model_args(p)
    p.add_argument("-o", "--output", required=True, help="output .onnx path")
    p.add_argument("--opset", type=int, default=13, help="ONNX opset of the export (13 to 21; default 13)")
    p.add_argument(
        "--dtype",
        default="float32",
        choices=["float32", "int8"],
        help="float32: the float network; int8: the network lenetc calibrates, as QDQ ONNX "
        "(QuantizeLinear/DequantizeLinear around float operators; see docs/onnx.md)",
    )
    add_int8_args(p)
    p.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    if not 13 <= args.opset <= 21:
        raise LenetcError(f"--opset {args.opset} is not supported (13 to 21)")
    net = model_from_args(args)
    if args.dtype == "int8":
        qnet = quantize_from_args(net, args)
        path = save_qdq_onnx(qnet, args.output, opset=args.opset)
        what = f"int8 QDQ, calibrated on {qnet.notes['calibration']}"
    else:
        path = save_onnx(net, args.output, opset=args.opset)
        what = "float32"
    print(f"wrote {path} ({net.name}, {what}, opset {args.opset}, input {'x'.join(map(str, net.input_shape))})")
    return 0
