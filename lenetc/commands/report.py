"""``lenetc report``: one self-contained HTML page about a model."""

from __future__ import annotations

import argparse

from ..errors import LenetcError
from ..fileio import check_output_file, write_file
from ..firmware.bundle import supported_dtypes
from ..firmware.targets import TARGETS
from ..report import build_report, render_html
from .int8 import add_int8_args, quantize_from_args
from .model_args import add_model_args, model_from_args, note_if_guessed


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="an HTML page about a model: layers, SQNR, arena, flash/RAM, profile, accuracy",
        description="Measure the model and write one self-contained HTML page (no network access needed "
        "to view it): the layers with shapes, parameters, MACs and per-layer int8 SQNR; the arena as a "
        "picture of buffers over time; flash and RAM per --target and the per-layer instruction profile "
        "on bare-metal targets; float32 and int8 accuracy on MNIST with the confusion matrix and the "
        "misclassified digits; the provenance.",
    )
    add_model_args(p)
    p.add_argument("--dtype", default="float32", choices=supported_dtypes(), help="the C whose arena is drawn")
    p.add_argument(
        "--target",
        action="append",
        default=[],
        choices=list(TARGETS),
        metavar="T",
        help=f"measure flash/RAM (and profile, on bare-metal boards) on T; repeatable ({', '.join(TARGETS)})",
    )
    p.add_argument("-n", type=int, default=10_000, help="MNIST test digits for the accuracy (default 10000)")
    p.add_argument("--sqnr-images", type=int, default=1000, metavar="K", help="digits for the int8 SQNR")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the HTML file to write")
    add_int8_args(p)
    p.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    check_output_file(args.output)
    net = model_from_args(args)
    note_if_guessed(net)
    try:  # the int8 column is calibrated as the user asked, whichever C's arena is drawn
        qnet = quantize_from_args(net, args)
    except LenetcError:
        if args.dtype == "int8":
            raise
        qnet = None  # build_report notes why the model has no int8 form
    options = {"command": f"lenetc report {args.model} --dtype {args.dtype}"
               + "".join(f" --target {t}" for t in args.target) + f" -n {args.n}"}  # fmt: skip
    report = build_report(net, args.dtype, tuple(args.target), args.n, qnet=qnet,
                          sqnr_images=args.sqnr_images, options=options)  # fmt: skip
    write_file(args.output, render_html(report).encode("utf-8"))
    print(f"wrote {args.output}")
    return 0
