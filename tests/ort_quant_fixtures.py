"""Quantized ONNX fixtures made by onnxruntime.quantization from lenetc's zoo nets.

``quantize_zoo(name, fmt, per_channel, act_type, tmp)`` exports the zoo net (random:7
weights), calibrates it statically on fixed-seed random digits-like inputs and returns the
path of the quantized file (QDQ or QOperator, S8S8 or U8S8).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

import lenetc
from lenetc.exporters.onnx_export import save_onnx


class _Reader(CalibrationDataReader):
    def __init__(self, input_name: str, shape: tuple[int, ...], n: int = 16, seed: int = 3):
        rng = np.random.default_rng(seed)
        self._it = iter({input_name: rng.uniform(0.0, 1.0, (1, *shape)).astype(np.float32)} for _ in range(n))

    def get_next(self):
        return next(self._it, None)


def quantize_zoo(name: str, fmt: str, per_channel: bool, act_type: str, tmp: Path) -> Path:
    """Quantize zoo net ``name`` with onnxruntime; ``fmt`` is "QDQ" or "QOperator", ``act_type`` "s8" or "u8"."""
    net = lenetc.load(name, "random:7")
    float_path = save_onnx(net, tmp / f"{name}.onnx")
    input_name = onnx.load(str(float_path)).graph.input[0].name
    out = tmp / f"{name}-{fmt}-{act_type}-{'pc' if per_channel else 'pt'}.onnx"
    quantize_static(
        str(float_path),
        str(out),
        _Reader(input_name, tuple(net.input_shape)),
        quant_format=QuantFormat.QDQ if fmt == "QDQ" else QuantFormat.QOperator,
        per_channel=per_channel,
        activation_type=QuantType.QInt8 if act_type == "s8" else QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )
    return out
