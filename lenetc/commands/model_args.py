"""MODEL, ``--weights`` and the preprocessing flags, shared by every command that loads a model."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from ..errors import LenetcError
from ..extension import compiler, host_flags
from ..families import DIALECTS, host_dialect
from ..firmware.targets import TARGETS
from ..models import IMPORTED_SUFFIXES, load
from ..network import Network, stated_preprocess
from ..quant.qnetwork import QuantizedNetwork
from ..variants import Dialect
from ..zoo import ZOO

#: Where a preprocessing given on the command line says it came from (``info`` prints it).
CLI_SOURCE = "the command line (--scale/--offset/--pad)"


MODEL_HELP = (
    f"zoo name ({', '.join(ZOO)}; `lenetc list`) or a model file: .npz (lenetc's), "
    f"{', '.join(IMPORTED_SUFFIXES)} (ONNX, Keras, TensorFlow Lite)"
)
#: What ``--target`` accepts for the generated C's dialect.
TARGET_HELP = (
    f"C dialect: {', '.join(DIALECTS)}, or a firmware target ({', '.join(TARGETS)}), which means "
    "its CPU's dialect (host: the one the host compiler supports under -march=native)"
)


def resolve_dialect(name: str) -> Dialect:
    """The dialect a ``--target`` names: a dialect itself, a firmware target's dialect, or for
    ``host`` the one detected from the host compiler (as :func:`lenetc.compile` does)."""
    if name in DIALECTS:
        return DIALECTS[name]
    if name == "host":
        cc = compiler()
        return host_dialect(cc, host_flags(cc))
    if name in TARGETS:
        return TARGETS[name].dialect
    raise LenetcError(f"unknown --target '{name}' (dialects: {', '.join(DIALECTS)}; targets: {', '.join(TARGETS)})")


def add_model_args(p: argparse.ArgumentParser) -> None:
    """The MODEL positional, ``--weights`` and ``--scale/--offset/--pad``."""
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("--weights", metavar="F", help="weights .npz for a zoo model, or random:SEED")
    g = p.add_argument_group(
        "MNIST preprocessing",
        "how a digit (pixels 0..255, 0 = background) becomes the model's input: x = pixel * SCALE + OFFSET, "
        "then PAD background pixels on every side. Overrides what the model states or lenetc guesses "
        "(a foreign .onnx/.h5/.keras file without lenetc metadata: SCALE 1/255, OFFSET 0).",
    )
    g.add_argument("--scale", type=float, help="multiply each pixel by SCALE (e.g. 0.00392156862745098 = 1/255)")
    g.add_argument("--offset", type=float, help="then add OFFSET")
    g.add_argument("--pad", type=int, help="then pad PAD pixels of background (OFFSET) on every side")


def model_from_args(args: argparse.Namespace) -> Network:
    """The model the arguments name, with the preprocessing the user stated (if any)."""
    net = load(args.model, args.weights)
    if isinstance(net, QuantizedNetwork):  # a quantized .tflite/.onnx file: its own scales, int8 unless told
        args.file_qnet = net
        net = net.net
        if getattr(args, "dtype", "") is None:
            args.dtype = "int8"
    elif getattr(args, "dtype", "") is None:
        args.dtype = "float32"
    given = {k: getattr(args, k, None) for k in ("scale", "offset", "pad")}
    given = {k: v for k, v in given.items() if v is not None}
    if given:
        net = net.with_preprocess(stated_preprocess(net.preprocess, given, CLI_SOURCE))
        if getattr(args, "file_qnet", None) is not None:
            args.file_qnet = dataclasses.replace(args.file_qnet, net=net)
    return net


def note_if_guessed(net: Network) -> None:
    """On stderr: the MNIST preprocessing about to be used is lenetc's guess, not the model's word."""
    if net.preprocess.guessed:
        print(f"lenetc: note: MNIST preprocessing {net.preprocess.describe()}", file=sys.stderr)
