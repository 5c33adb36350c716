"""The quantized network of an int8 ``.tflite`` file, built from the file's own scales, zero
points, int8 weights and int32 biases, requantizing as TFLM's reference kernels do
(``requant="tflm"``, :mod:`lenetc.fixedpoint_tflm`).

Every scale is checked on the way in (finite, positive, normal float32); zero points must lie in
int8 and weights must be symmetric. TANH and LOGISTIC become 256-entry tables computed by TFLM's
integer algorithms; SOFTMAX keeps TFLM's constants.
"""

from __future__ import annotations

import numpy as np

from .. import fixedpoint_tflm as tflm
from ..errors import LenetcError
from ..kinds import QLayer
from ..kinds.activation import QActivation
from ..kinds.conv2d import QConv2D
from ..kinds.dense import QDense
from ..kinds.flatten import QFlatten
from ..kinds.given import activation_qparams, bias_int32, channel_weights
from ..kinds.int8_linear import ACC_LIMIT, QLinear
from ..kinds.pool2d import QPool2D
from ..kinds.softmax import QSoftmax
from ..network import Network
from ..numeric import QParams
from ..quant.qnetwork import QuantizedNetwork
from .tflite_import import Imported, QFacts, given_tensor
from .tflite_read import TTensor


def tensor_q(t: TTensor) -> QParams:
    """The per-tensor int8 quantization of activation tensor ``t``, validated as issue 22's
    importers validate (scale finite, positive, normal, not huge; zero point in int8)."""
    if t.dtype != "int8":
        raise LenetcError(f"tensor '{t.name}' is {t.dtype}; lenetc imports int8 activations from TFLite files")
    return activation_qparams(given_tensor(t))


def _clamp(act: str | None, out: QParams) -> tuple[int, int]:
    """TFLM's CalculateActivationRangeQuantized: the fused activation as an int8 clamp."""
    return tflm.activation_range(act, out.scale, out.zero_point)


def _linear(layer, in_shape, out_shape, f: QFacts, in_q: QParams) -> QLinear:
    g = f.given
    out_q = activation_qparams(g.out_q)
    oc = g.weight.shape[0]
    weight, w_scale = channel_weights(g.weight_q, g.weight, oc)
    raw_bias = np.zeros(oc, np.int64) if g.bias is None else bias_int32(g.bias_q, g.bias, in_q, w_scale)
    req_q, pre_q, lut = out_q, None, None
    if f.post:
        (fn, t), *rest = f.post
        if rest:
            raise LenetcError(f"layer '{layer.name}': two activations after one {f.op}")
        pre_q, out_q = out_q, tensor_q(t)
        lut = (
            tflm.tanh_table(pre_q.scale, pre_q.zero_point)
            if fn == "TANH"
            else tflm.logistic_table(pre_q.scale, pre_q.zero_point)
        )
    w = weight.astype(np.int64).reshape(oc, -1)
    bias = raw_bias - in_q.zero_point * w.sum(axis=1)
    if np.abs(bias).max(initial=0) > ACC_LIMIT:
        raise LenetcError(f"layer '{layer.name}': bias with the input zero point folded in exceeds int32")
    float_product = f.op == "FULLY_CONNECTED" and not f.per_channel
    pairs = [tflm.quantize_multiplier(tflm.effective_scale(in_q.scale, s, req_q.scale, float_product))
             for s in w_scale]  # fmt: skip
    lo, hi = _clamp(f.act, req_q)
    bound = int((np.abs(bias) + 128 * np.abs(w).sum(axis=1)).max())
    left = max(0, max(s for _, s in pairs))
    if bound << left > ACC_LIMIT:
        raise LenetcError(f"layer '{layer.name}': accumulator bound {bound} (shifted by {left}) exceeds int32")
    cls = QConv2D if layer.kind == "conv2d" else QDense
    return cls(layer.name, layer, in_shape, out_shape, in_q, out_q, bound, "tflm", weight=weight,
               bias=bias.astype(np.int32), w_scale=w_scale,
               mult=np.array([m for m, _ in pairs], np.int32), shift=np.array([31 - s for _, s in pairs], np.int32),
               req_zp=req_q.zero_point, lo=lo, hi=hi, pre_q=pre_q, lut=lut)  # fmt: skip


def quantized_from_facts(net: Network, imp: Imported) -> QuantizedNetwork:
    """The :class:`QuantizedNetwork` of an imported int8 file, layer by layer from ``imp.facts``."""
    first = imp.input_t
    if imp.float_io:
        facts = next(iter(imp.facts.values()), None)
        if facts is None:
            raise LenetcError("the int8 graph has no layer")
        first = facts.in_t
    input_q = tensor_q(first)
    cur = input_q
    layers: list[QLayer] = []
    shapes = net.shapes()
    for layer, in_shape, out_shape in zip(net.layers, shapes, shapes[1:]):
        f = imp.facts.get(layer.name)
        if f is not None and f.in_t.quantized and tensor_q(f.in_t) != cur and f.op != "SOFTMAX":
            raise LenetcError(
                f"layer '{layer.name}' reads tensor '{f.in_t.name}' with other quantization than its producer"
            )
        if layer.kind in ("conv2d", "dense"):
            q = _linear(layer, in_shape, out_shape, f, cur)
        elif layer.kind == "activation":
            out_q = tensor_q(f.out_t)
            table = tflm.tanh_table if f.op == "TANH" else tflm.logistic_table
            lut = table(cur.scale, cur.zero_point)
            q = QActivation(layer.name, layer, in_shape, out_shape, cur, out_q, rounding="tflm", lut=lut)
        elif layer.kind == "softmax":
            out_q = tensor_q(f.out_t)
            params = tflm.SoftmaxParams.of(cur.scale, f.beta)
            q = QSoftmax(layer.name, layer, in_shape, out_shape, cur, out_q, rounding="tflm", softmax=params)
        elif layer.kind in ("pool2d", "flatten"):
            cls = QPool2D if layer.kind == "pool2d" else QFlatten
            q = cls(layer.name, layer, in_shape, out_shape, cur, cur, rounding="tflm")
        else:  # the importer makes no other kind
            raise LenetcError(f"layer '{layer.name}' ({layer.kind}) has no int8 form from a TFLite file")
        layers.append(q)
        cur = q.out_q
    notes = {"source": "the TFLite file's own scales", "io": "float (QUANTIZE/DEQUANTIZE)" if imp.float_io else "int8"}
    return QuantizedNetwork(net, input_q, layers, cur, "int8", None, "file", 0, notes, "tflm")
