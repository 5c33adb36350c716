"""How much int8 costs inside the model: the per-layer error (SQNR) of the integer reference
against the float reference (the accuracy of the compiled C is in ``lenetc/evaluate_int8.py``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..kinds import kind_of
from .qnetwork import QuantizedNetwork
from .reference_int8 import forward_int8


@dataclass
class LayerSQNR:
    """Signal-to-quantization-noise ratio of one layer's dequantized int8 output, in dB."""

    name: str
    kind: str
    sqnr_db: float
    max_abs_error: float


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
        h = kind_of(q.layer).forward(q.layer, h, net.params)
        deq = q.out_q.dequantize(out).reshape(h.shape)
        rows.append(LayerSQNR(q.name, q.kind, sqnr(h, deq), float(np.abs(h - deq).max())))
    return rows
