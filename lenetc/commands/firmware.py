"""``lenetc size``: flash and RAM of a model measured on the cross-compiled object."""

from __future__ import annotations

import argparse
import json

from ..api import generate
from ..firmware.bundle import supported_dtypes
from ..firmware.size import format_report, measure
from ..firmware.targets import TARGETS
from .int8 import quantize_from_args
from .model_args import add_model_args, model_from_args


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "size",
        help="flash and RAM of a model on a microcontroller, measured by cross-compiling it",
        description="Compile the model's generated C for TARGET (arm-none-eabi-gcc for Cortex-M) and "
        "report flash (code + weights + data, from `size -A`) and RAM (static arena + data + the "
        "worst-case stack of <prefix>_run from -fstack-usage).",
    )
    add_model_args(p)
    p.add_argument(
        "--dtype", default="float32", choices=supported_dtypes(), help="weight/activation type (default float32)"
    )
    p.add_argument("--target", default="cortex-m4", choices=list(TARGETS), help="default cortex-m4")
    p.add_argument("--prefix", help="C symbol prefix (default: from the model name)")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")
    p.set_defaults(func=run_size)


def run_size(args: argparse.Namespace) -> int:
    net = model_from_args(args)
    model = quantize_from_args(net, args) if args.dtype == "int8" else net
    report = measure(generate(model, prefix=args.prefix, dtype=args.dtype), target=args.target)
    print(json.dumps(report.to_dict()) if args.json else format_report(report))
    return 0
