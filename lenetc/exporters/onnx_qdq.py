"""A lenetc :class:`QuantizedNetwork` -> QDQ ONNX: the int8 network lenetc calibrated, in the
form ONNX Runtime fuses into its integer kernels (QLinearConv, QLinearMatMul, int8 MaxPool).

The float input is quantized with the network's input quantization; every linear layer is
``DequantizeLinear(x) -> Conv/Gemm(DequantizeLinear(int8 weight, per-channel scale, axis 0),
DequantizeLinear(int32 bias, scale s_in * s_w)) -> QuantizeLinear(out)``. The bias is the
one lenetc folds the input zero point into, with the fold undone (the graph subtracts the zero
point when it dequantizes). A fused ReLU is an explicit Relu before the QuantizeLinear (its
clamp at the zero point); a table activation (tanh, sigmoid ...) is ``QuantizeLinear(pre_q)
-> DequantizeLinear -> activation -> QuantizeLinear(out_q)``. Pooling and flattening run
between a DequantizeLinear and a QuantizeLinear of the same quantization. The graph has two
outputs: ``output`` (float, the float network's units, softmax re-applied) and ``output_q``,
the last int8 tensor, which is what the integer reference computes.

Kinds without a faithful QDQ form (subsampling, affine, rbf) are refused naming the layer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..activations import act_onnx
from ..errors import LenetcError
from ..fileio import check_output_file, write_file
from ..importers.onnx_fold import need_onnx
from ..kinds import QLayer
from ..kinds.int8_linear import QLinear, unfolded_bias
from ..numeric import QParams
from ..quant.qnetwork import QuantizedNetwork
from .onnx_export import EXPORT_OPSET, _Graph

SUPPORTED = ("conv2d", "dense", "pool2d", "flatten", "activation")


class _QGraph(_Graph):
    """A :class:`_Graph` whose initializers keep their integer width (int8 weights, int32 biases)."""

    def typed(self, name: str, values: np.ndarray, dtype) -> str:
        self.inits.append(self.onnx.numpy_helper.from_array(np.asarray(values, dtype=dtype), name))
        return name

    def quant(self, x: str, qp: QParams, name: str) -> str:
        s = self.typed(f"{name}.q_scale{self.count}", np.float32(qp.scale), np.float32)
        z = self.typed(f"{name}.q_zp{self.count}", np.int8(qp.zero_point), np.int8)
        return self.node("QuantizeLinear", [x, s, z], name)

    def dequant(self, x: str, qp: QParams, name: str) -> str:
        s = self.typed(f"{name}.dq_scale{self.count}", np.float32(qp.scale), np.float32)
        z = self.typed(f"{name}.dq_zp{self.count}", np.int8(qp.zero_point), np.int8)
        return self.node("DequantizeLinear", [x, s, z], name)


def _linear(g: _QGraph, q: QLinear, x: str) -> str:
    """Conv or Gemm on dequantized int8 weights and the unfolded int32 bias; returns the int8 output."""
    n = q.name
    w_scale = np.asarray(q.w_scale, np.float32)
    oc = q.weight.shape[0]
    w = g.node(
        "DequantizeLinear",
        [g.typed(f"{n}.weight", q.weight, np.int8), g.typed(f"{n}.w_scale", w_scale, np.float32),
         g.typed(f"{n}.w_zp", np.zeros(oc, np.int8), np.int8)],
        n, axis=0,
    )  # fmt: skip
    b_scale = (np.float32(q.in_q.scale) * w_scale).astype(np.float32)
    b = g.node(
        "DequantizeLinear",
        [g.typed(f"{n}.bias", unfolded_bias(q), np.int32), g.typed(f"{n}.b_scale", b_scale, np.float32),
         g.typed(f"{n}.b_zp", np.zeros(oc, np.int32), np.int32)],
        n, axis=0,
    )  # fmt: skip
    xf = g.dequant(x, q.in_q, n)
    layer = q.layer
    if q.kind == "conv2d":
        pt, pl, pb, pr = layer.padding
        y = g.node("Conv", [xf, w, b], n, kernel_shape=list(layer.kernel), strides=list(layer.stride),
                   pads=[pt, pl, pb, pr], group=layer.groups)  # fmt: skip
    else:
        if len(q.in_shape) != 1:
            xf = g.node("Flatten", [xf], n, axis=1)
        y = g.node("Gemm", [xf, w, b], n, transB=1)
    act = getattr(layer, "act", None)
    if q.lut is not None:
        pre = g.dequant(g.quant(y, q.pre_q, n), q.pre_q, n)
        return g.quant(act_onnx(g, act, pre, n), q.out_q, n)
    if act is not None:  # relu: the only activation without a table
        y = g.node("Relu", [y], n)
    return g.quant(y, q.out_q, n)


def _layer(g: _QGraph, q: QLayer, x: str) -> str:
    n = q.name
    if q.kind in ("conv2d", "dense"):
        return _linear(g, q, x)
    if q.kind == "flatten":  # a reshape of int8 values: no requantization
        layer = q.layer
        if layer.order == "HWC" and len(q.in_shape) == 3:
            x = g.node("Transpose", [x], n, perm=[0, 2, 3, 1])
        return g.node("Flatten", [x], n, axis=1)
    if q.kind == "pool2d":
        from_kind = _pool(g, q, g.dequant(x, q.in_q, n))
        return g.quant(from_kind, q.out_q, n)
    if q.kind == "activation":
        return g.quant(act_onnx(g, q.layer.act, g.dequant(x, q.in_q, n), n), q.out_q, n)
    raise AssertionError(f"layer '{n}' ({q.kind}) passed the QDQ kind check")  # pragma: no cover


def _pool(g: _QGraph, q: QLayer, x: str) -> str:
    layer = q.layer
    pt, pl, pb, pr = layer.padding
    attrs = {"kernel_shape": list(layer.kernel), "strides": list(layer.stride), "pads": [pt, pl, pb, pr],
             "ceil_mode": int(layer.ceil_mode)}  # fmt: skip
    if layer.mode == "avg":
        return g.node("AveragePool", [x], q.name, count_include_pad=int(layer.count_include_pad), **attrs)
    return g.node("MaxPool", [x], q.name, **attrs)


def to_qdq_onnx(qnet: QuantizedNetwork, opset: int = EXPORT_OPSET):
    """The checked QDQ ``ModelProto`` of ``qnet``: input ``input`` (N, C, H, W) float, outputs
    ``output`` (float) and ``output_q`` (the int8 logits the integer reference computes)."""
    onnx = need_onnx()
    for q in qnet.layers:
        if q.kind not in SUPPORTED:
            raise LenetcError(
                f"layer '{q.name}' ({q.kind}) has no faithful QDQ ONNX form (export supports {', '.join(SUPPORTED)})"
            )
    g = _QGraph(onnx)
    x = g.quant("input", qnet.input_q, "input")
    for q in qnet.layers:
        x = _layer(g, q, x)
    h = g.h
    g.nodes.append(h.make_node("Identity", [x], ["output_q"], name="output_q"))
    y = g.dequant(x, qnet.output_q, "output")
    if qnet.final_softmax is not None:
        y = g.node("LogSoftmax" if qnet.final_softmax == "log_softmax" else "Softmax", [y], "output", axis=1)
    g.nodes.append(h.make_node("Identity", [y], ["output"], name="output"))
    out_shape = ["N", *qnet.layers[-1].out_shape]
    graph = h.make_graph(
        g.nodes,
        f"{qnet.net.name}-int8",
        [h.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["N", *qnet.net.input_shape])],
        [
            h.make_tensor_value_info("output", onnx.TensorProto.FLOAT, out_shape),
            h.make_tensor_value_info("output_q", onnx.TensorProto.INT8, out_shape),
        ],
        initializer=g.inits,
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)], producer_name="lenetc")
    model.ir_version = min(model.ir_version, 8)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:  # pragma: no cover - a bug in this exporter
        raise LenetcError(f"exported QDQ ONNX model fails onnx.checker: {str(exc).splitlines()[0]}") from None
    return model


def save_qdq_onnx(qnet: QuantizedNetwork, path: str | Path, opset: int = EXPORT_OPSET) -> Path:
    """Write ``qnet`` as QDQ ONNX to ``path`` through a temporary file and a rename."""
    check_output_file(path)
    data = to_qdq_onnx(qnet, opset).SerializeToString()
    return write_file(path, data)
