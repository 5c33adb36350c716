"""The requantization rule of an int8 network: ``int`` (the default, integer-only multiplier and
shift, for any CPU), ``tflm`` (TensorFlow Lite Micro's reference kernels, bit for bit: see
:mod:`lenetc.fixedpoint_tflm`; the default for .tflite files) or ``float`` (for FPU targets:
ONNX Runtime's CPU rule, ``float32(acc) * float32 scale``, round half to even, + zero point, clamp; see
:func:`lenetc.fixedpoint.requantize_float`). With ``float`` the NumPy integer reference and the
generated C compute every linear layer's output as ONNX Runtime does on the QDQ export
(:mod:`lenetc.exporters.onnx_qdq`), bit for bit."""

from __future__ import annotations

import dataclasses

import numpy as np

from .. import fixedpoint_tflm
from ..errors import LenetcError
from ..fixedpoint import multipliers
from ..kinds import KINDS
from ..kinds.int8_linear import QLinear
from .qnetwork import QuantizedNetwork

REQUANT_MODES = ("int", "float", "tflm")
#: Kinds whose requantization the float rule covers (their kernels use the shared epilogue).
FLOAT_KINDS = tuple(name for name, kind in KINDS.items() if kind.float_requant)


def float_scales(q: QLinear) -> np.ndarray:
    """Per-channel float32 ``s_in * s_w / s_req`` computed as ONNX Runtime computes it (QLinearConv:
    the input scale times the weight scale, divided by the output scale, each step in float32)."""
    req = q.pre_q if q.pre_q is not None else q.out_q
    s_in, s_req = np.float32(q.in_q.scale), np.float32(req.scale)
    return ((s_in * np.asarray(q.w_scale, np.float32)) / s_req).astype(np.float32)


def real_scales(q: QLinear) -> np.ndarray:
    """Per-channel ``s_in * s_w / s_req`` in float64 (lenetc's integer multipliers encode these)."""
    req = q.pre_q if q.pre_q is not None else q.out_q
    return q.in_q.scale * np.asarray(q.w_scale, np.float64) / req.scale


def tflm_multipliers(q: QLinear) -> tuple[np.ndarray, np.ndarray]:
    """TFLM's (M, 31 - exponent) per channel, from the float32 scales as TFLM computes them."""
    req = q.pre_q if q.pre_q is not None else q.out_q
    pairs = [fixedpoint_tflm.quantize_multiplier(fixedpoint_tflm.effective_scale(q.in_q.scale, s, req.scale))
             for s in np.asarray(q.w_scale, np.float64)]  # fmt: skip
    return np.array([m for m, _ in pairs], np.int32), np.array([31 - s for _, s in pairs], np.int32)


def with_requant(qnet: QuantizedNetwork, mode: str) -> QuantizedNetwork:
    """``qnet`` with requantization rule ``mode`` (``int``, ``float`` or ``tflm``); a new network,
    ``qnet`` is left as it is. ``tflm`` also averages raw values (TFLM's AVERAGE_POOL_2D); tables
    and a TFLite file's softmax keep the values they hold."""
    if mode not in REQUANT_MODES:
        raise LenetcError(f"unknown requantization '{mode}' (choose {', '.join(REQUANT_MODES)})")
    if mode == qnet.requant:
        return qnet
    rounding = "tflm" if mode == "tflm" else "int"
    layers = []
    for q in qnet.layers:
        if not isinstance(q, QLinear):  # no requantization: pooling, flatten, tables, softmax, RBF
            layers.append(dataclasses.replace(q, rounding=rounding))
            continue
        if mode != "int" and q.kind not in FLOAT_KINDS:
            raise LenetcError(f"layer '{q.name}' ({q.kind}): {mode} requantization supports {', '.join(FLOAT_KINDS)}")
        if mode != "tflm" and q.rounding == "int":  # lenetc's own multipliers stay
            layers.append(dataclasses.replace(q, fscale=float_scales(q) if mode == "float" else None))
            continue
        if mode == "tflm":
            mult, shift = tflm_multipliers(q)
        else:
            mult, shift = multipliers(real_scales(q))
        fscale = float_scales(q) if mode == "float" else None
        layers.append(dataclasses.replace(q, fscale=fscale, mult=mult, shift=shift, rounding=rounding))
    return dataclasses.replace(qnet, layers=layers, requant=mode)
