"""How much int8 costs: accuracy of the int8 C against the float32 C on the same digits, the
per-layer SQNR of the integer reference, and a chart of it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .api import compile as compile_model
from .errors import LenetcError
from .plotting import plot_format, pyplot, save_figure
from .quant.evaluate import LayerSQNR, sqnr_per_layer
from .quant.qnetwork import QuantizedNetwork
from .quant.reference_int8 import forward_int8
from .reference import forward, predict_classes


@dataclass
class Int8Evaluation:
    model: str
    images: int
    accuracy_float32: float
    accuracy_int8: float
    agreement: float  # fraction of images where both builds predict the same class
    sqnr_images: int
    layers: list[LayerSQNR] = field(default_factory=list)
    backend: str = "c"

    @property
    def drop_points(self) -> float:
        """Accuracy lost by int8, in percentage points."""
        # from the accuracies as exact fractions of the digits, so 0.04 prints as 0.04, not 0.039999999999995595
        return round(100.0 * (self.accuracy_float32 - self.accuracy_int8), 10)


#: Images the NumPy references run at a time (their float64 activations stay bounded).
REFERENCE_BATCH = 500


def evaluate_int8(
    net,
    qnet: QuantizedNetwork,
    inputs: np.ndarray,
    labels: np.ndarray,
    sqnr_images: int = 1000,
    backend: str = "c",
) -> Int8Evaluation:
    """Accuracy of the float32 and the int8 model on ``inputs`` (preprocessed floats) and the
    per-layer SQNR on the first ``sqnr_images`` of them (the float64 reference of every layer
    for all 10,000 MNIST digits would need gigabytes). ``backend`` ``c`` runs the compiled C,
    ``reference`` the NumPy references (float64, and the integer reference for int8), in
    batches of :data:`REFERENCE_BATCH`."""
    if isinstance(sqnr_images, bool) or not isinstance(sqnr_images, int) or sqnr_images < 1:
        raise LenetcError(f"the number of SQNR digits must be at least 1, got {sqnr_images!r}")
    if backend == "c":
        c_float = compile_model(net)
        c_int8 = compile_model(qnet, dtype="int8")
        pred_f = predict_classes(net, c_float(inputs))
        pred_q = predict_classes(net, c_int8.run_int8(qnet.quantize_input(inputs)))
    elif backend == "reference":
        parts = [(p, p + REFERENCE_BATCH) for p in range(0, len(inputs), REFERENCE_BATCH)]
        pred_f = np.concatenate([predict_classes(net, forward(net, inputs[a:b])) for a, b in parts] or [[]])
        pred_q = np.concatenate(
            [predict_classes(net, forward_int8(qnet, qnet.quantize_input(inputs[a:b]))) for a, b in parts] or [[]]
        )
    else:
        raise LenetcError(f"unknown backend '{backend}' (expected c or reference)")
    labels = np.asarray(labels)
    k = min(sqnr_images, len(inputs))
    return Int8Evaluation(
        model=net.name,
        images=len(inputs),
        accuracy_float32=float((pred_f == labels).mean()),
        accuracy_int8=float((pred_q == labels).mean()),
        agreement=float((pred_f == pred_q).mean()),
        sqnr_images=k,
        layers=sqnr_per_layer(qnet, inputs[:k]),
        backend=backend,
    )


def plot_sqnr(layers: list[LayerSQNR], path: str | Path, title: str = "") -> Path:
    """A bar chart of SQNR per layer into ``path`` (PNG, SVG or PDF, from its extension), atomically;
    a lossless layer (infinite SQNR) gets a bar to the top labelled "inf"."""
    plot_format(path)
    plt = pyplot()
    finite = [r.sqnr_db for r in layers if math.isfinite(r.sqnr_db)]
    ymax = max([10.0, *finite]) * 1.1
    heights = [r.sqnr_db if math.isfinite(r.sqnr_db) else ymax for r in layers]
    fig, ax = plt.subplots(figsize=(8, 4))
    bars = ax.bar([r.name for r in layers], [max(v, 0.0) for v in heights], color="#4a7ab5")
    ax.bar_label(bars, labels=[f"{r.sqnr_db:.1f}" if math.isfinite(r.sqnr_db) else "inf" for r in layers])
    ax.set_ylim(0, ymax * 1.08)
    ax.set_ylabel("SQNR (dB)")
    ax.set_title(title or "int8 SQNR per layer")
    ax.grid(axis="y", color="#ddd")
    ax.set_axisbelow(True)
    return save_figure(fig, path)
