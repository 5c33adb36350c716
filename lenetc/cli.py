"""The ``lenetc`` command line: argument parsing only; the work is done by the library.

Each sub-command lives in a module of :mod:`lenetc.commands` with a ``register(subparsers)``
function that adds its parser and sets ``func``; ``func(args)`` returns the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ._version import __version__
from .errors import LenetcError

COMMAND_MODULES = ("listing", "core", "train", "onnx", "firmware", "confidence", "cache", "profile", "report", "npu")


class DefaultsFormatter(argparse.HelpFormatter):
    """Help that shows every option's default (unless it already says it, or there is none)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or "%(default)" in text
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or action.option_strings == []
        ):
            return text
        return f"{text} (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lenetc",
        description="Compile LeNet-family networks to checked C99. MODEL is a zoo name "
        "(lenet5, lenet-caffe, lenet-keras, lenet5-keras, lenet5-softmax; `lenetc list`) or a model file "
        "(.npz, .onnx, .h5, .keras, .tflite).",
    )
    parser.add_argument("--version", action="version", version=f"lenetc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"lenetc.commands.{name}").register(sub)
    for command in sub.choices.values():
        command.formatter_class = DefaultsFormatter
    return parser


#: Options whose value may start with '-': an optimisation flag (``--opt -O3``) or a negative
#: number argparse does not recognise as one (``--offset -1e-1``). argparse would read the value
#: as an option of its own, so ``--opt -O3`` is passed on as ``--opt=-O3``.
DASH_VALUE_OPTIONS = frozenset({"--opt", "--offset", "--scale"})


def join_dash_values(argv: list[str]) -> list[str]:
    """``argv`` with ``OPTION VALUE`` joined as ``OPTION=VALUE`` where OPTION is one of
    :data:`DASH_VALUE_OPTIONS` and VALUE starts with '-'."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return out + argv[i:]
        if arg in DASH_VALUE_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-") and argv[i + 1] != "--":
            out.append(f"{arg}={argv[i + 1]}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    try:
        # inside the try: building the parser imports every command (NumPy and the rest), the
        # longest part of start-up, where a Ctrl-C used to end in a traceback
        parser = build_parser()
        args = parser.parse_args(join_dash_values(list(sys.argv[1:] if argv is None else argv)))
        return int(args.func(args) or 0)
    except LenetcError as exc:
        print(f"lenetc: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lenetc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
