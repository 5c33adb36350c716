"""Everything a model report shows, measured by lenetc itself: counts, per-layer int8 SQNR,
the arena's placement, accuracy on MNIST (float32 and int8, with the confusion matrix and the
misclassified digits), flash/RAM per target and the per-layer instruction profile."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field

import numpy as np

from .. import datasets
from .._version import __version__
from ..api import compile as compile_model
from ..api import generate, quantize
from ..codegen.plan import Plan
from ..errors import LenetcError
from ..families import PORTABLE
from ..firmware.profile import Profile, profile
from ..firmware.size import SizeReport, measure
from ..firmware.targets import get_target
from ..network import LayerInfo, Network
from ..quant.evaluate import LayerSQNR, sqnr_per_layer
from ..quant.qnetwork import QuantizedNetwork
from ..reference import predict_classes


@dataclass
class Accuracy:
    """The compiled C of one number type on ``n`` labelled digits."""

    dtype: str
    n: int
    labels: np.ndarray
    predictions: np.ndarray
    images: np.ndarray  # the uint8 digits of the misclassified ones, in order
    wrong: np.ndarray  # their indices among the n

    @property
    def correct(self) -> int:
        return int((self.labels == self.predictions).sum())

    @property
    def percent(self) -> float:
        return 100.0 * self.correct / self.n if self.n else 0.0

    @property
    def confusion(self) -> np.ndarray:
        """(10, 10) counts: row = true digit, column = predicted digit."""
        matrix = np.zeros((10, 10), dtype=np.int64)
        np.add.at(matrix, (self.labels, self.predictions), 1)
        return matrix


@dataclass
class TargetFigures:
    """Flash and RAM of the model on one target, and its per-layer profile where one can be run."""

    target: str
    description: str
    size: SizeReport
    profile: Profile | None = None


@dataclass
class ModelReport:
    """What ``lenetc report`` renders; every number is computed by lenetc in this run."""

    net: Network
    dtype: str
    plan: Plan
    layers: list[LayerInfo]
    totals: dict[str, int]
    sqnr: dict[str, LayerSQNR] = field(default_factory=dict)
    accuracies: list[Accuracy] = field(default_factory=list)
    targets: list[TargetFigures] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    provenance: dict[str, str] = field(default_factory=dict)


def _calibration(qnet: QuantizedNetwork | None) -> str:
    if qnet is None:
        return ""
    return f"{qnet.method}, " + qnet.notes.get("calibration", f"{qnet.calibration_images:,} MNIST training digits")


def _accuracy(model: Network | QuantizedNetwork, dtype: str, inputs, labels, images, max_errors: int) -> Accuracy:
    compiled = compile_model(model)
    net = model.net if isinstance(model, QuantizedNetwork) else model
    pred = np.asarray(predict_classes(net, compiled(inputs)))
    wrong = np.flatnonzero(pred != labels)[:max_errors]
    return Accuracy(dtype, len(labels), labels, pred, images[wrong], wrong)


def build_report(
    net: Network,
    dtype: str = "float32",
    targets: tuple[str, ...] = (),
    n: int = 10_000,
    data=None,
    qnet: QuantizedNetwork | None = None,
    sqnr_images: int = 1000,
    max_errors: int = 40,
    options: dict[str, str] | None = None,
) -> ModelReport:
    """Measure ``net`` for the report: accuracy of its float32 and int8 C on the first ``n`` MNIST
    test digits (``data``: another MNIST folder), per-layer SQNR of the int8 network ``qnet``
    (default: calibrated on MNIST training digits) on ``sqnr_images`` of them, the plan of
    ``dtype`` (its arena), and for each name in ``targets`` the measured flash/RAM and, on
    bare-metal boards, the per-layer instruction profile under QEMU."""
    if n < 1 or sqnr_images < 0 or max_errors < 0:
        raise LenetcError("report: the number of digits must be at least 1 and the other counts not negative")
    if net.output_shape != (10,):
        raise LenetcError(f"model '{net.name}' has output shape {net.output_shape}; the report needs 10 classes")
    boards = [get_target(t) for t in targets]  # fail on an unknown target before any work
    notes: list[str] = []
    if qnet is None:
        try:
            qnet = quantize(net)
        except LenetcError as exc:
            if dtype == "int8":
                raise
            notes.append(f"int8: not available for this model ({exc})")
    model = qnet if dtype == "int8" else net
    dialect = boards[0].dialect if boards else PORTABLE
    plan = generate(model, target=dialect).plan

    inputs, labels = datasets.mnist_inputs(net, n, "test", data)
    images = datasets.mnist("test", data)[0][: len(labels)]
    report = ModelReport(net, dtype, plan, net.layer_info(), net.totals(), notes=notes)
    report.accuracies.append(_accuracy(net, "float32", inputs, labels, images, max_errors))
    if qnet is not None:
        report.accuracies.append(_accuracy(qnet, "int8", inputs, labels, images, max_errors))
        if sqnr_images:
            report.sqnr = {r.name: r for r in sqnr_per_layer(qnet, inputs[:sqnr_images])}
    for board in boards:
        gen = generate(model, target=board.dialect)
        prof = profile(model, dtype=dtype, target=board) if board.kind == "baremetal" else None
        report.targets.append(TargetFigures(board.name, board.description, measure(gen, target=board), prof))
    report.provenance = {
        "lenetc": __version__,
        "model": net.name,
        "weights sha256": net.weights_hash(),
        "dtype of the C": dtype,
        "preprocessing": net.preprocess.describe() + (" (guessed)" if net.preprocess.guessed else ""),
        "digits": f"first {len(labels):,} MNIST test digits",
        "int8 calibration": _calibration(qnet),
        "python": platform.python_version(),
        "numpy": np.__version__,
        **(options or {}),
    }
    report.provenance = {k: v for k, v in report.provenance.items() if v}
    return report
