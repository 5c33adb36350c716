"""The requantization rule of an int8 network: ``int`` (the default, integer-only multiplier and
shift, for any CPU) or ``float`` (for FPU targets: ONNX Runtime's CPU rule, ``float32(acc) *
float32 scale``, round half to even, + zero point, clamp; see
:func:`lenetc.fixedpoint.requantize_float`). With ``float`` the NumPy integer reference and the
generated C compute every linear layer's output as ONNX Runtime does on the QDQ export
(:mod:`lenetc.exporters.onnx_qdq`), bit for bit."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import LenetcError
from ..kinds.int8_linear import QLinear
from .qnetwork import QuantizedNetwork

REQUANT_MODES = ("int", "float")
#: Kinds whose requantization the float rule covers (their kernels use the shared epilogue).
FLOAT_KINDS = ("conv2d", "dense", "subsampling")


def float_scales(q: QLinear) -> np.ndarray:
    """Per-channel float32 ``s_in * s_w / s_req`` computed as ONNX Runtime computes it (QLinearConv:
    the input scale times the weight scale, divided by the output scale, each step in float32)."""
    req = q.pre_q if q.pre_q is not None else q.out_q
    s_in, s_req = np.float32(q.in_q.scale), np.float32(req.scale)
    return ((s_in * np.asarray(q.w_scale, np.float32)) / s_req).astype(np.float32)


def with_requant(qnet: QuantizedNetwork, mode: str) -> QuantizedNetwork:
    """``qnet`` with requantization rule ``mode`` (``int`` or ``float``); a new network, ``qnet``
    is left as it is."""
    if mode not in REQUANT_MODES:
        raise LenetcError(f"unknown requantization '{mode}' (choose {' or '.join(REQUANT_MODES)})")
    layers = []
    for q in qnet.layers:
        if not isinstance(q, QLinear):  # no requantization: pooling, flatten, tables, RBF
            layers.append(q)
            continue
        if mode == "float" and q.kind not in FLOAT_KINDS:
            raise LenetcError(f"layer '{q.name}' ({q.kind}): float requantization supports {', '.join(FLOAT_KINDS)}")
        layers.append(dataclasses.replace(q, fscale=float_scales(q) if mode == "float" else None))
    return dataclasses.replace(qnet, layers=layers, requant=mode)
