"""``lenetc train`` (fit a zoo network on MNIST) and ``lenetc eval`` (test accuracy, confusion matrix)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path

from .. import datasets, zoo
from ..datasets import mnist_inputs, preprocessed
from ..digitsets import load_digit_set
from ..errors import LenetcError
from ..evaluate import evaluate, format_report, plot_report
from ..fileio import check_output_file
from ..models import IMPORTED_SUFFIXES
from ..npz import save_npz
from ..plotting import check_plot_path, report_written
from ..train import default_config, train
from .int8 import add_eval_int8_args, eval_int8
from .model_args import add_model_args, model_from_args, note_if_guessed


def _add_data_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        metavar="DIR",
        help="directory with the MNIST idx files (default: $LENETC_DATA, else the copy shipped with lenetc)",
    )


def positive_float(text: str) -> float:
    """An argparse type: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: '{text}'") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def _architecture(model: str):
    """The zoo architecture ``train`` starts from; a model file gets the real reason."""
    if model in zoo.ZOO:
        return zoo.architecture(model)
    if Path(model).suffix.lower() in (".npz", *IMPORTED_SUFFIXES):
        raise LenetcError(
            f"train builds a zoo network from scratch and cannot start from a model file ('{model}'); "
            f"name one of the zoo architectures: {', '.join(zoo.ZOO)}"
        )
    raise LenetcError(f"train: unknown zoo network '{model}' (zoo: {', '.join(zoo.ZOO)})")


def cmd_train(args: argparse.Namespace) -> int:
    net = _architecture(args.model)
    config = default_config(
        args.model,
        epochs=args.epochs,
        seed=args.seed,
        lr=args.lr,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        shift=args.shift,
        limit=args.limit,
    )
    out = check_output_file(Path(args.output))  # now, not after hours of training
    train_data = datasets.mnist("train", args.data)
    test_data = datasets.mnist("test", args.data)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if not args.quiet:
        settings = ", ".join(f"{k} {v}" for k, v in dataclasses.asdict(config).items() if v is not None)
        log(f"training {net.name}: {settings}")
    result = train(net, config, train_data, test_data, progress=not args.quiet, log=log)
    save_npz(result.net, out)
    last = result.history[-1]
    summary = {
        "model": net.name,
        "output": str(out),
        "epochs": config.epochs,
        "seed": config.seed,
        "seconds": round(result.seconds, 1),
        "final_loss": round(last.loss, 5),
        "train_accuracy": round(last.train_accuracy, 5),
        "test_accuracy": None if last.test_accuracy is None else round(last.test_accuracy, 5),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        acc = "n/a" if last.test_accuracy is None else f"{100 * last.test_accuracy:.2f} %"
        print(f"{net.name}: {config.epochs} epochs in {result.seconds:.0f} s, test accuracy {acc}; wrote {out}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    net = model_from_args(args)
    if args.plot:
        check_plot_path(args.plot)  # before the evaluation, not after it
    note_if_guessed(net)
    digits = load_digit_set(args.inputs) if args.inputs else None
    if args.dtype == "int8":
        if digits is None:
            inputs, labels = mnist_inputs(net, args.n, directory=args.data)
            return eval_int8(net, args, inputs, labels)
        if digits.labels is None:
            raise LenetcError(f"digits from {digits.source} have no labels: evaluation needs them (see README)")
        digits = digits.first(args.n)
        return eval_int8(net, args, preprocessed(net, digits.images), digits.labels, f"digits from {digits.source}")
    report = evaluate(net, backend=args.backend, n=args.n, data=args.data, digits=digits)
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        print(format_report(report))
    if args.plot:
        report_written(plot_report(report, args.plot), to_stderr=args.json)
    return 0


def register(sub) -> None:
    p = sub.add_parser("train", help="train a zoo network on MNIST with the NumPy trainer")
    p.add_argument(
        "model", metavar="MODEL", help="zoo name: lenet5, lenet5-softmax, lenet-caffe, lenet-keras, lenet5-keras"
    )
    p.add_argument("-o", "--output", required=True, metavar="F", help="where to write the trained weights (.npz)")
    p.add_argument("--epochs", type=positive_int, help="passes over the training set (default: per model)")
    p.add_argument("--seed", type=int, help="seed for initial weights, shuffling and augmentation (default 0)")
    p.add_argument("--lr", type=positive_float, help="peak learning rate, > 0 (cosine decay; default 1e-3)")
    p.add_argument("--batch-size", type=positive_int, help="mini-batch size (default 64)")
    p.add_argument("--optimizer", choices=["adam", "sgd"], help="adam (default) or sgd with momentum")
    p.add_argument("--shift", type=int, help="augmentation: random shifts of up to N pixels (default 2; 0 = off)")
    p.add_argument("--limit", type=positive_int, metavar="N", help="train on the first N training digits only")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    _add_data_arg(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="accuracy on the 10,000 MNIST test digits, with a confusion matrix")
    add_model_args(p)
    p.add_argument("--backend", choices=["c", "reference"], default="c", help="compiled C (default) or NumPy reference")
    p.add_argument("-n", type=int, metavar="N", help="evaluate the first N test digits only")
    p.add_argument(
        "--inputs",
        metavar="PATH",
        help="evaluate on your own labelled digits instead of MNIST: FILE.npz with 'images' and 'labels', "
        "or a folder of pictures with labels.csv or 0..9 sub-folders (see README)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--plot",
        metavar="FILE",
        help="also draw the confusion matrix and misclassified digits (int8: the per-layer SQNR chart) "
        "into FILE; the format follows the extension: .png, .svg or .pdf",
    )
    add_eval_int8_args(p)
    _add_data_arg(p)
    p.set_defaults(func=cmd_eval)
