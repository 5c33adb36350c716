"""``lenetc confidence``: the fitted temperature and reject thresholds of a model, with the
expected calibration error and false-reject rate measured on the MNIST test digits."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from ..confidence import (
    CONFIDENCE_QUANTILE,
    SHAPE_QUANTILE,
    calibration_for,
    fit_calibration,
    measure_on_test,
)
from ..errors import LenetcError
from .model_args import add_model_args, model_from_args, note_if_guessed


def cmd_confidence(args: argparse.Namespace) -> int:
    if args.n is not None and args.n < 1:  # before the fit, which takes a while
        raise LenetcError(f"-n must be at least 1, got {args.n}")
    net = model_from_args(args)
    note_if_guessed(net)
    cal = fit_calibration(net) if args.refit else calibration_for(net)
    m = measure_on_test(net, cal, args.n)
    shape = cal.shape
    if args.json:
        doc = {
            "model": net.name,
            "weights": cal.weights,
            "temperature": cal.temperature,
            "min_confidence": cal.min_confidence,
            "min_ink_pixels": shape.min_ink,
            "max_solid_fraction": shape.max_solid,
            "max_residual_fraction": shape.max_residual,
            "test": asdict(m),
        }
        print(json.dumps(doc, indent=2))
        return 0
    print(f"{net.name}: temperature {cal.temperature:.4f} (fitted on MNIST training digits, NLL)")
    print(
        f"  reject when: ink pixels < {shape.min_ink:g}, solid fraction > {shape.max_solid:.4f}, "
        f"residual > {shape.max_residual:.4f} (each {100 * SHAPE_QUANTILE:g} % of training digits), "
        f"or p < {cal.min_confidence:.4f} ({100 * CONFIDENCE_QUANTILE:g} %)"
    )
    print(f"  on {m.digits} MNIST test digits:")
    print(f"    ECE (15 bins, top label)  {m.ece:.4f}   (uncalibrated softmax of the scores: {m.ece_uncalibrated:.4f})")
    rejected = ", ".join(f"{reason} {count}" for reason, count in sorted(m.rejected_by.items())) or "none"
    print(f"    false-reject rate         {100 * m.false_reject_rate:.2f} %   ({rejected})")
    accepted = f"{100 * m.accepted_accuracy:.2f} % of accepted"
    print(f"    accuracy                  {100 * m.accuracy:.2f} % of all, {accepted}")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "confidence", help="temperature and reject thresholds of a model, with ECE and false-reject rate on test digits"
    )
    add_model_args(p)
    p.add_argument("-n", type=int, metavar="N", help="measure on the first N test digits only")
    p.add_argument("--refit", action="store_true", help="fit again instead of using the cached calibration")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_confidence)
