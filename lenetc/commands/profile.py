"""``lenetc profile``: per-layer instructions of a model on an emulated Cortex-M core."""

from __future__ import annotations

import argparse
import json

from ..firmware.bundle import supported_dtypes
from ..firmware.make_args import OPT_FLAGS
from ..firmware.profile import format_profile, profile
from ..firmware.targets import TARGETS
from .int8 import add_int8_args, quantize_from_args
from .model_args import add_model_args, model_from_args, note_if_guessed


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "profile",
        help="per-layer instructions, instructions/MAC, share, arena and stack on an emulated Cortex-M",
        description="Build the example firmware for TARGET, run it under QEMU with deterministic "
        "instruction counting (-icount shift=0) and print, per layer: MACs, instructions, "
        "instructions/MAC, share of the inference and the arena bytes it uses; plus the whole "
        "inference from the plain build (no probes), the arena and the measured stack. The probes' "
        "own cost is measured and taken out.",
    )
    add_model_args(p)
    p.add_argument(
        "--dtype", default="float32", choices=supported_dtypes(), help="weight/activation type (default float32)"
    )
    baremetal = [name for name, t in TARGETS.items() if t.kind == "baremetal"]
    p.add_argument("--target", default="cortex-m4", choices=baremetal, help="default cortex-m4")
    p.add_argument(
        "--opt", default="-O2", metavar="FLAG", help=f"optimisation flag of the build: {', '.join(OPT_FLAGS)}"
    )
    p.add_argument("--json", action="store_true", help="print the profile as JSON")
    add_int8_args(p)
    p.set_defaults(func=run_profile)


def run_profile(args: argparse.Namespace) -> int:
    net = model_from_args(args)
    note_if_guessed(net)  # the firmware's digits and an int8 calibration use it
    model = quantize_from_args(net, args) if args.dtype == "int8" else net
    prof = profile(model, dtype=args.dtype, target=args.target, opt=args.opt)
    print(json.dumps(prof.to_dict()) if args.json else format_profile(prof))
    return 0
