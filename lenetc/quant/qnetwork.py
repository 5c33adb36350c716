"""The quantized model: integer parameters and per-tensor scales, shared by the NumPy integer
reference and the int8 code generator (one source of truth for every constant)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import fixedpoint_tflm
from ..kinds import QLayer
from ..kinds.softmax import softmax
from ..network import Network
from ..numeric import QParams


@dataclass
class QuantizedNetwork:
    """A :class:`Network` quantized to int8: input/output quantization and integer layers.

    ``output_dtype`` is ``int8`` (logits; a final softmax is dropped and applied in Python after
    dequantizing) or ``int32`` (RBF squared distances in units of ``output_q.scale``).
    """

    net: Network
    input_q: QParams
    layers: list[QLayer]
    output_q: QParams
    output_dtype: str = "int8"
    final_softmax: str | None = None  # None, "softmax" or "log_softmax"
    method: str = "percentile"
    calibration_images: int = 0
    notes: dict[str, str] = field(default_factory=dict)
    requant: str = "int"  # "int" (multiplier and shift) or "float" (lenetc.quant.requant_mode)
    #: How float inputs become int8 outside ``tflm``: ``float64`` (x / scale in double, ties to
    #: even) or ``float32`` (ONNX's QuantizeLinear as ONNX Runtime computes it: the float32
    #: quotient, ties to even), for a network imported from a quantized ONNX file.
    input_division: str = "float64"

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        """Float input to int8: round half to even (the quotient in double, or in float32 for
        ``input_division == "float32"``), or under ``tflm`` TFLM's QUANTIZE (float32 division,
        ties away from zero)."""
        if self.requant == "tflm":
            self.input_q.quantize(x)  # the same refusal of NaN and Inf
            return fixedpoint_tflm.quantize_input(x, self.input_q.scale, self.input_q.zero_point)
        q = self.input_q.quantize(x)  # also refuses NaN and Inf
        if self.input_division == "float32":
            x32 = np.asarray(x, np.float32) / np.float32(self.input_q.scale)
            q = np.clip(np.rint(x32).astype(np.int64) + self.input_q.zero_point, -128, 127).astype(np.int8)
        return q

    def dequantize_output(self, q: np.ndarray) -> np.ndarray:
        """Raw C output -> float in the float network's output units (softmax re-applied)."""
        y = self.output_q.dequantize(q)
        if self.final_softmax is None:
            return y
        return softmax(y, log=self.final_softmax == "log_softmax")

    def const_bytes(self) -> int:
        """Bytes of integer constants every layer puts in flash."""
        return sum(q.const_bytes() for q in self.layers)

    def summary(self) -> list[dict[str, object]]:
        """Per-layer scales and zero points, for ``info`` and for the generated C's comments."""
        rows = []
        for q in self.layers:
            rows.append(
                {
                    "layer": q.name,
                    "kind": q.kind,
                    "out_scale": q.out_q.scale,
                    "out_zero_point": q.out_q.zero_point,
                    "acc_bound": q.acc_bound,
                    "acc_bits": math.ceil(math.log2(q.acc_bound + 1)) + 1 if q.acc_bound else 0,
                    "const_bytes": q.const_bytes(),
                }
            )
        return rows
