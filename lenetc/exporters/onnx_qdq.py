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

from ..errors import LenetcError
from ..fileio import check_output_file, write_file
from ..importers.onnx_fold import need_onnx
from ..kinds import KINDS
from ..numeric import QParams
from ..quant.qnetwork import QuantizedNetwork
from .onnx_export import EXPORT_OPSET, _Graph

#: The kinds with a faithful QDQ form (each kind's ``to_qdq``).
SUPPORTED = tuple(name for name, kind in KINDS.items() if kind.to_qdq is not None)


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
        x = KINDS[q.kind].to_qdq(g, q, x)
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
