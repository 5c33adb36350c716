"""Test-set evaluation: accuracy, confusion matrix and timing of a network on MNIST, with the
compiled C or the NumPy reference, and an optional picture of the mistakes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import datasets
from .api import compile as compile_net
from .digitsets import DigitSet
from .errors import LenetcError
from .network import Network
from .plotting import plot_format, pyplot, save_figure
from .reference import forward, predict_classes
from .text import count

BACKENDS = ("c", "reference")


@dataclass
class EvalReport:
    """The outcome of :func:`evaluate`; ``seconds`` is inference time only (not data loading or compiling)."""

    model: str
    backend: str
    dtype: str
    n: int
    labels: np.ndarray
    predictions: np.ndarray
    seconds: float
    build_seconds: float
    weights_hash: str
    images: np.ndarray  # the uint8 digits, for the picture of mistakes
    source: str = "MNIST test digits"

    @property
    def correct(self) -> int:
        return int((self.labels == self.predictions).sum())

    @property
    def accuracy(self) -> float:
        return self.correct / self.n

    @property
    def confusion(self) -> np.ndarray:
        """(10, 10) counts: row = true digit, column = predicted digit."""
        matrix = np.zeros((10, 10), dtype=np.int64)
        np.add.at(matrix, (self.labels, self.predictions), 1)
        return matrix

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "backend": self.backend,
            "dtype": self.dtype,
            "n": self.n,
            "accuracy": self.accuracy,
            "correct": self.correct,
            "errors": self.n - self.correct,
            "seconds": round(self.seconds, 4),
            "images_per_second": round(self.n / self.seconds, 1) if self.seconds > 0 else None,
            "build_seconds": round(self.build_seconds, 3),
            "weights": self.weights_hash,
            "confusion": self.confusion.tolist(),
        }


def evaluate(
    net: Network,
    backend: str = "c",
    n: int | None = None,
    data: str | Path | None = None,
    dtype: str = "float32",
    digits: DigitSet | None = None,
) -> EvalReport:
    """Run ``net`` on the first ``n`` (default all 10,000) MNIST test digits, or of ``digits``
    (a labelled :class:`~lenetc.digitsets.DigitSet`)."""
    if backend not in BACKENDS:
        raise LenetcError(f"unknown backend '{backend}' (expected one of: {', '.join(BACKENDS)})")
    if net.output_shape != (10,):
        raise LenetcError(f"model '{net.name}' has output shape {net.output_shape}; MNIST evaluation needs 10 classes")
    if digits is not None:
        if digits.labels is None:
            raise LenetcError(f"digits from {digits.source} have no labels: evaluation needs them (see README)")
        digits = digits.first(n)
        images, labels, source = digits.images, digits.labels, f"digits from {digits.source}"
        inputs = datasets.preprocessed(net, images)
    else:
        inputs, labels = datasets.mnist_inputs(net, n, "test", data)
        images, source = datasets.mnist("test", data)[0][: len(labels)], "MNIST test digits"
    build_seconds = 0.0
    if backend == "c":
        t0 = time.perf_counter()
        compiled = compile_net(net, dtype=dtype)
        build_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        pred = compiled.predict(inputs)
    else:
        t0 = time.perf_counter()
        pred = predict_classes(net, forward(net, inputs))
        dtype = "float64"
    seconds = time.perf_counter() - t0
    return EvalReport(
        net.name,
        backend,
        dtype,
        len(labels),
        labels,
        np.asarray(pred),
        seconds,
        build_seconds,
        net.weights_hash(),
        images,
        source,
    )


def format_report(report: EvalReport) -> str:
    """Accuracy line, confusion matrix (rows: true digit, columns: predicted) and per-digit accuracy."""
    lines = [
        f"{report.model} ({report.backend}, {report.dtype}): {100 * report.accuracy:.2f} % "
        f"({report.correct}/{report.n}) on {report.source}, {count(report.n - report.correct, 'error')}",
        f"time: {report.seconds:.3f} s ({report.n / max(report.seconds, 1e-9):,.0f} digits/s)"
        + (f", build {report.build_seconds:.2f} s" if report.backend == "c" else ""),
        "",
        "confusion matrix (row: true digit, column: predicted)",
        "true  " + "".join(f"{d:>6}" for d in range(10)) + "   acc %",
    ]
    matrix = report.confusion
    for d in range(10):
        total = matrix[d].sum()
        acc = f"{100 * matrix[d, d] / total:7.2f}" if total else "      -"
        lines.append(f"{d:>4}  " + "".join(f"{v:>6}" for v in matrix[d]) + f"  {acc}")
    return "\n".join(lines)


def plot_report(report: EvalReport, path: str | Path, max_errors: int = 40) -> Path:
    """Draw the confusion matrix and up to ``max_errors`` misclassified digits into ``path``
    (PNG, SVG or PDF, from its extension), atomically."""
    plot_format(path)
    return save_figure(report_figure(report, max_errors), path)


def report_figure(report: EvalReport, max_errors: int = 40):
    """The matplotlib figure of :func:`plot_report`."""
    plt = pyplot()
    wrong = np.flatnonzero(report.labels != report.predictions)[:max_errors]
    cols = 10
    rows = max(1, -(-len(wrong) // cols))
    fig = plt.figure(figsize=(12, 6 + 1.2 * rows))
    # room between the matrix's "predicted" label and the mistakes' captions below it
    grid = fig.add_gridspec(2, 1, height_ratios=[6, 1.2 * rows], hspace=0.3)
    ax = fig.add_subplot(grid[0])
    matrix = report.confusion
    ax.imshow(np.log1p(matrix), cmap="Blues")
    for (i, j), v in np.ndenumerate(matrix):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", fontsize=7, color="white" if i == j else "black")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{report.model} ({report.backend}): {100 * report.accuracy:.2f} % of {report.n}")
    sub = grid[1].subgridspec(rows, cols)
    for k, idx in enumerate(wrong):
        a = fig.add_subplot(sub[k // cols, k % cols])
        a.imshow(report.images[idx], cmap="gray_r")
        a.set_title(f"{report.labels[idx]}→{report.predictions[idx]}", fontsize=8)
        a.axis("off")
    return fig
