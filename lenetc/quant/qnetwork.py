"""The quantized model: integer parameters and per-tensor scales, shared by the NumPy integer
reference and the int8 code generator (one source of truth for every constant)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..layers import Layer, Shape
from ..network import Network


@dataclass(frozen=True)
class QParams:
    """Affine int8 quantization of one tensor: ``real = scale * (q - zero_point)``."""

    scale: float
    zero_point: int

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Float -> int8, round half to even (NumPy's rounding), saturated to [-128, 127]."""
        q = np.round(np.asarray(x, dtype=np.float64) / self.scale) + self.zero_point
        return np.clip(q, -128, 127).astype(np.int8)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        return (np.asarray(q, dtype=np.float64) - self.zero_point) * self.scale


@dataclass
class QLayer:
    """One integer layer. ``kind`` is conv | dense | subsampling | pool | flatten | lut | rbf.

    Linear kinds (conv, dense, subsampling) compute an int32 accumulator
    ``bias + sum(weight * q_in)`` -- the input zero point is already folded into ``bias`` --
    then ``requantize(acc, mult, shift)`` to the zero point ``req_zp`` clamped to [lo, hi]
    (a ReLU is this clamp), then, if ``lut`` is set, ``out = lut[q + 128]`` (tanh, sigmoid...).
    ``pre_q`` is the quantization of the pre-activation tensor the LUT reads.
    """

    name: str
    kind: str
    layer: Layer  # the float layer: geometry (kernel, stride, padding, mode ...)
    in_shape: Shape
    out_shape: Shape
    in_q: QParams
    out_q: QParams
    pre_q: QParams | None = None
    weight: np.ndarray | None = None  # int8; conv (O, C/g, KH, KW) with unconnected taps 0; dense (O, I)
    bias: np.ndarray | None = None  # int32, input zero point folded in
    mult: np.ndarray | None = None  # int32 per output channel
    shift: np.ndarray | None = None  # int32 per output channel, 1..62
    req_zp: int = 0
    lo: int = -128
    hi: int = 127
    lut: np.ndarray | None = None  # int8[256], indexed by q + 128
    proto: np.ndarray | None = None  # RBF prototypes, int16 (units, n) in the input's quantized units
    acc_bound: int = 0  # max |accumulator| over every int8 input (proved in calibrate.py)

    def const_bytes(self) -> int:
        """Bytes of constants this layer puts in flash (weights, biases, multipliers, shifts, LUT)."""
        arrays = (self.weight, self.bias, self.mult, self.shift, self.lut, self.proto)
        return sum(a.nbytes for a in arrays if a is not None)


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

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        return self.input_q.quantize(x)

    def dequantize_output(self, q: np.ndarray) -> np.ndarray:
        """Raw C output -> float in the float network's output units (softmax re-applied)."""
        y = self.output_q.dequantize(q)
        if self.final_softmax is None:
            return y
        z = y - y.max(axis=-1, keepdims=True)
        if self.final_softmax == "log_softmax":
            return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)

    def const_bytes(self) -> int:
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
