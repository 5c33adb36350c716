"""A model file's own quantization, validated on the way in.

An importer of a quantized model (QDQ/QOperator ONNX, TFLite) states, per tensor, the scale,
zero point, element type and per-channel axis the file gives it (:class:`GivenTensor`), and per
layer the integer constants (:class:`GivenLinear`) or just the output quantization
(:class:`GivenOutput`). Each kind's ``from_scales`` rule (see :class:`lenetc.kinds.base.Kind`)
turns that into its integer layer; :func:`lenetc.quant.from_scales.quantized_from_scales` walks
a network with them. Everything a file can get wrong is refused here with one line naming the
tensor: zero, negative, NaN, infinite, denormal or huge scales, zero points outside their
type, per-channel scales on the wrong axis or of the wrong length, weights that leave int8 once
their zero point is subtracted, biases whose scale is not input scale x weight scale.

uint8 tensors map exactly to int8: ``real = s * (u - z) = s * ((u - 128) - (z - 128))``, so a
uint8 activation is the int8 activation with zero point ``z - 128`` and every value shifted by
128 (what lenetc's input quantization and the generated C's macros then say).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import LenetcError
from ..numeric import QParams
from .base import Layer, Params, Shape

#: float32's smallest normal number: a smaller scale is a denormal (or zero) in a float32 file.
MIN_SCALE = float(np.finfo(np.float32).tiny)
#: Scales above this are refused as huge: no trained network has a step of 2^32, and the
#: product of two such scales (a bias scale) would leave float32's range.
MAX_SCALE = 2.0**32
#: Value ranges of the element types a file can quantize to.
RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int32": (-(1 << 31), (1 << 31) - 1)}
#: Relative difference allowed between a bias scale and input scale x weight scale: the file
#: computes the product in float32 (half an ulp, 2^-24), lenetc in float64.
BIAS_SCALE_RTOL = 1e-6


@dataclass(frozen=True)
class GivenTensor:
    """One tensor's quantization as a model file states it: ``real = scale * (q - zero_point)``.

    ``tensor`` is the file's name for it (every error names it); ``scale`` and ``zero_point``
    hold one value (per tensor) or one per channel along ``axis`` of the tensor they quantize;
    ``dtype`` is the quantized element type: ``int8`` or ``uint8`` (activations, weights) or
    ``int32`` (biases)."""

    tensor: str
    scale: Any
    zero_point: Any = 0
    dtype: str = "int8"
    axis: int | None = None

    def scales(self) -> np.ndarray:
        """The scales as float64 (1-D), each checked: finite, positive, normal, not huge."""
        s = np.asarray(self.scale, dtype=np.float64).reshape(-1)
        if s.size == 0:
            raise LenetcError(f"quantization of '{self.tensor}': no scale given")
        bad = [
            (~np.isfinite(s), "is NaN or infinite"),
            (s == 0, "is zero"),
            (s < 0, "is negative"),
            ((s > 0) & (s < MIN_SCALE), f"is denormal (below float32's smallest normal {MIN_SCALE:.3g})"),
            (s > MAX_SCALE, f"is huge (above 2^32 = {MAX_SCALE:.4g})"),
        ]
        for mask, what in bad:
            if mask.any():
                i = int(np.flatnonzero(mask)[0])
                where = f" (channel {i})" if s.size > 1 else ""
                raise LenetcError(f"quantization of '{self.tensor}': scale {float(s[i])!r}{where} {what}")
        return s

    def zero_points(self, count: int) -> np.ndarray:
        """The zero points as int64, broadcast to ``count`` values, each inside the element type."""
        if self.dtype not in RANGES:
            what = f"quantization of '{self.tensor}'"
            raise LenetcError(f"{what}: element type '{self.dtype}' is not int8, uint8 or int32")
        raw = np.asarray(self.zero_point).reshape(-1)
        if raw.size == 0:
            raw = np.zeros(1)
        if not np.all(np.isfinite(raw.astype(np.float64))) or np.any(raw != np.round(raw)):
            raise LenetcError(f"quantization of '{self.tensor}': zero point {raw.tolist()} is not an integer")
        z = raw.astype(np.int64)
        if z.size not in (1, count):
            raise LenetcError(f"quantization of '{self.tensor}': {z.size} zero points for {count} scales")
        lo, hi = RANGES[self.dtype]
        out = (z < lo) | (z > hi)
        if out.any():
            i = int(np.flatnonzero(out)[0])
            raise LenetcError(
                f"quantization of '{self.tensor}': zero point {int(z[i])} is outside {self.dtype} [{lo}, {hi}]"
            )
        return np.broadcast_to(z, (count,)).copy()


def activation_qparams(t: GivenTensor) -> QParams:
    """The int8 :class:`QParams` of an activation tensor: per tensor, int8 or uint8 (mapped
    exactly to int8 by moving the zero point down by 128)."""
    s = t.scales()
    if s.size != 1:
        raise LenetcError(
            f"quantization of '{t.tensor}': {s.size} scales (per channel); lenetc quantizes activations per tensor"
        )
    if t.dtype not in ("int8", "uint8"):
        raise LenetcError(f"quantization of '{t.tensor}': activations must be int8 or uint8, not {t.dtype}")
    z = int(t.zero_points(1)[0])
    return QParams(float(s[0]), z - 128 if t.dtype == "uint8" else z)


def channel_weights(t: GivenTensor, values: np.ndarray, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """int8 weights (output channel first, zero point subtracted) and their float64 scale per
    output channel, from the file's integer ``values`` (output channel on axis 0) and their
    quantization ``t`` (per tensor, or per channel on axis 0)."""
    v = np.asarray(values)
    if v.ndim < 1 or v.shape[0] != channels:
        raise LenetcError(f"weights '{t.tensor}': shape {list(v.shape)} does not start with {channels} output channels")
    if t.dtype not in ("int8", "uint8"):
        raise LenetcError(f"weights '{t.tensor}': element type {t.dtype}; lenetc reads int8 or uint8 weights")
    lo, hi = RANGES[t.dtype]
    if not np.issubdtype(v.dtype, np.integer) or (v.size and (v.min() < lo or v.max() > hi)):
        raise LenetcError(f"weights '{t.tensor}': values are not {t.dtype}")
    s = t.scales()
    if s.size != 1:
        axis = t.axis if t.axis is None or t.axis >= 0 else t.axis + v.ndim
        if axis != 0:
            raise LenetcError(
                f"weights '{t.tensor}': per-channel axis {t.axis} is not the output-channel axis "
                f"(0 in lenetc's layout {list(v.shape)})"
            )
        if s.size != channels:
            raise LenetcError(f"weights '{t.tensor}': {s.size} per-channel scales for {channels} output channels")
    z = t.zero_points(s.size)
    zc = np.broadcast_to(z, (channels,)).reshape((channels,) + (1,) * (v.ndim - 1))
    w = v.astype(np.int64) - zc
    if w.size and (w.min() < -128 or w.max() > 127):
        span = f"{int(w.min())}..{int(w.max())}"
        raise LenetcError(f"weights '{t.tensor}': values minus the zero point leave int8 ({span})")
    return w.astype(np.int8), np.broadcast_to(s, (channels,)).astype(np.float64)


def bias_int32(t: GivenTensor, values: np.ndarray, in_q: QParams, w_scale: np.ndarray) -> np.ndarray:
    """The int32 bias (int64 values) in units of input scale x weight scale, checked: int32,
    zero point 0, scale equal to ``in_q.scale * w_scale`` per channel (float32 product)."""
    channels = len(w_scale)
    v = np.asarray(values)
    if v.size != channels:
        raise LenetcError(f"bias '{t.tensor}': {v.size} values for {channels} output channels")
    if t.dtype != "int32" or not np.issubdtype(v.dtype, np.integer):
        raise LenetcError(f"bias '{t.tensor}': element type {t.dtype}; quantized biases must be int32")
    lo, hi = RANGES["int32"]
    if v.min() < lo or v.max() > hi:
        raise LenetcError(f"bias '{t.tensor}': values are not int32")
    s = t.scales()
    if s.size not in (1, channels):
        raise LenetcError(f"bias '{t.tensor}': {s.size} scales for {channels} output channels")
    if np.any(t.zero_points(s.size) != 0):
        raise LenetcError(f"bias '{t.tensor}': zero point must be 0")
    want = np.float32(in_q.scale) * np.asarray(w_scale, np.float32)
    rel = np.abs(np.broadcast_to(s, (channels,)) - want) / want
    if np.any(rel > BIAS_SCALE_RTOL):
        i = int(np.argmax(rel))
        raise LenetcError(
            f"bias '{t.tensor}': scale {float(np.broadcast_to(s, (channels,))[i])!r} (channel {i}) is not input scale "
            f"x weight scale = {float(want[i])!r}; lenetc adds the bias to the integer accumulator"
        )
    return v.reshape(-1).astype(np.int64)


@dataclass(frozen=True)
class GivenLinear:
    """What a file states of a linear layer (conv2d, dense, subsampling).

    ``weight``: the integer weights in lenetc's layout of the layer's float weights, output
    channel first (conv2d (O, C/groups, KH, KW), dense (O, I), subsampling (C,) one coefficient
    per map), quantized by ``weight_q`` (per tensor or per channel on axis 0); ``bias``: int32
    values quantized by ``bias_q`` (absent: zero); ``out_q``: the output's quantization (after
    a fused ReLU/clip); ``pre_q``: the quantization between the linear part and an activation
    the file computes by table (tanh, sigmoid ...), None when there is none."""

    weight: np.ndarray
    weight_q: GivenTensor
    out_q: GivenTensor
    bias: np.ndarray | None = None
    bias_q: GivenTensor | None = None
    pre_q: GivenTensor | None = None


@dataclass(frozen=True)
class GivenOutput:
    """What a file states of a layer without constants (activation, pooling, flattening): its
    output's quantization; None where the file keeps the input's (pooling, reshaping)."""

    out_q: GivenTensor | None = None


@dataclass
class GivenStep:
    """What a kind's ``from_scales`` rule is given: the float layer and its shapes, the int8
    quantization of its input (the previous layer's output), what the file states of the layer
    (``given``: :class:`GivenLinear`, :class:`GivenOutput` or None), the float network's
    parameters (geometry such as a sparse table) and whether it is the last layer."""

    layer: Layer
    in_shape: Shape
    out_shape: Shape
    in_q: QParams
    given: GivenLinear | GivenOutput | None
    params: Params
    last: bool

    def linear(self) -> GivenLinear:
        """``given`` as a :class:`GivenLinear`, or a one-line error naming the layer."""
        if not isinstance(self.given, GivenLinear):
            raise LenetcError(f"layer '{self.layer.name}' ({self.layer.kind}): the model states no integer weights")
        return self.given

    def same_quantization(self) -> QParams:
        """The input's quantization, for a kind whose int8 output keeps it (pooling, flattening):
        a file stating another one for the output is refused naming the tensor."""
        g = self.given
        if isinstance(g, GivenOutput) and g.out_q is not None:
            out = activation_qparams(g.out_q)
            if out != self.in_q:
                raise LenetcError(
                    f"quantization of '{g.out_q.tensor}': layer '{self.layer.name}' ({self.layer.kind}) changes it "
                    f"from (scale {self.in_q.scale!r}, zero point {self.in_q.zero_point}) to (scale {out.scale!r}, "
                    f"zero point {out.zero_point}); lenetc's int8 {self.layer.kind} keeps its input's"
                )
        return self.in_q
