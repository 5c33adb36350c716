"""How much int8 costs: accuracy of the int8 C against the float32 C, and the per-layer error
(SQNR) of the integer reference against the float reference."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..outputs import write_file_atomic
from ..reference import LAYER_FORWARD, predict_classes
from .qnetwork import QuantizedNetwork
from .reference_int8 import forward_int8


@dataclass
class LayerSQNR:
    """Signal-to-quantization-noise ratio of one layer's dequantized int8 output, in dB."""

    name: str
    kind: str
    sqnr_db: float
    max_abs_error: float


@dataclass
class Int8Evaluation:
    model: str
    images: int
    accuracy_float32: float
    accuracy_int8: float
    agreement: float  # fraction of images where both C builds predict the same class
    sqnr_images: int
    layers: list[LayerSQNR] = field(default_factory=list)

    @property
    def drop_points(self) -> float:
        """Accuracy lost by int8, in percentage points."""
        return 100.0 * (self.accuracy_float32 - self.accuracy_int8)


def sqnr(reference: np.ndarray, approx: np.ndarray) -> float:
    """10 log10(sum ref^2 / sum (ref - approx)^2); +inf when equal."""
    ref = np.asarray(reference, dtype=np.float64)
    noise = float(((ref - np.asarray(approx, dtype=np.float64)) ** 2).sum())
    signal = float((ref**2).sum())
    if noise == 0.0:
        return math.inf
    return 10.0 * math.log10(max(signal, 1e-300) / noise)


def sqnr_per_layer(qnet: QuantizedNetwork, x: np.ndarray) -> list[LayerSQNR]:
    """Each integer layer's dequantized output against the float64 reference of the same
    (activation-fused) layer, both fed the float input ``x`` (N, C, H, W)."""
    net = qnet.net
    outs = forward_int8(qnet, qnet.quantize_input(x), return_all=True)
    h = np.asarray(x, dtype=np.float64)
    rows = []
    for q, out in zip(qnet.layers, outs[1:], strict=True):
        h = LAYER_FORWARD[type(q.layer)](q.layer, h, net.params)
        deq = q.out_q.dequantize(out).reshape(h.shape)
        rows.append(LayerSQNR(q.name, q.kind, sqnr(h, deq), float(np.abs(h - deq).max())))
    return rows


def evaluate_int8(
    net, qnet: QuantizedNetwork, inputs: np.ndarray, labels: np.ndarray, sqnr_images: int = 1000
) -> Int8Evaluation:
    """Accuracy of the float32 C and the int8 C on ``inputs`` (preprocessed floats) and the
    per-layer SQNR on the first ``sqnr_images`` of them (the float64 reference of every layer
    for all 10,000 MNIST digits would need gigabytes)."""
    from ..build import compile as build

    c_float = build(net)
    c_int8 = build(net, dtype="int8", calibration=qnet)
    pred_f = predict_classes(net, c_float(inputs))
    pred_q = predict_classes(net, c_int8.run_int8(qnet.quantize_input(inputs)))
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
    )


def plot_sqnr(layers: list[LayerSQNR], path: str | Path, title: str = "") -> Path:
    """A bar chart of SQNR per layer as a self-contained SVG (no plotting library needed)."""
    w, h, left, bottom, top = 640, 320, 60, 60, 40
    finite = [r.sqnr_db for r in layers if math.isfinite(r.sqnr_db)]
    ymax = max([10.0, *finite]) * 1.1
    bw = (w - left - 20) / max(len(layers), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
        f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="13">{title or "int8 SQNR per layer"} (dB)</text>',
        f'<line x1="{left}" y1="{h - bottom}" x2="{w - 10}" y2="{h - bottom}" stroke="black"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="black"/>',
    ]
    for tick in range(0, int(ymax) + 1, 10):
        y = h - bottom - (h - bottom - top) * tick / ymax
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>')
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{w - 10}" y2="{y:.1f}" stroke="#ddd"/>')
    for i, r in enumerate(layers):
        v = r.sqnr_db if math.isfinite(r.sqnr_db) else ymax
        bh = (h - bottom - top) * max(v, 0.0) / ymax
        x = left + i * bw + bw * 0.15
        parts.append(
            f'<rect x="{x:.1f}" y="{h - bottom - bh:.1f}" width="{bw * 0.7:.1f}" height="{bh:.1f}" fill="#4a7ab5"/>'
        )
        label = "inf" if not math.isfinite(r.sqnr_db) else f"{r.sqnr_db:.1f}"
        parts.append(f'<text x="{x + bw * 0.35:.1f}" y="{h - bottom - bh - 4:.1f}" text-anchor="middle">{label}</text>')
        parts.append(f'<text x="{x + bw * 0.35:.1f}" y="{h - bottom + 16}" text-anchor="middle">{r.name}</text>')
    parts.append("</svg>\n")
    svg = "\n".join(parts).encode()
    return write_file_atomic(path, lambda fh: fh.write(svg))
