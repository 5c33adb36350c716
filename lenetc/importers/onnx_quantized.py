"""Recognise quantized ONNX graphs: QDQ, QOperator, and dynamic quantization.

QDQ and QOperator files (static quantization: every scale fixed in the file) are imported with
their own scales (:mod:`.onnx_qdq_import`). Dynamic quantization is another thing: the
activations' scales are computed at run time from each input's own range
(DynamicQuantizeLinear, MatMulInteger, ConvInteger, com.microsoft DynamicQuantizeMatMul ...),
so there is no fixed integer network to compile; it is refused by that name.
"""

from __future__ import annotations

from ..errors import LenetcError

QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})
DYNAMIC_OPS = frozenset(
    {
        "DynamicQuantizeLinear",
        "MatMulInteger",
        "ConvInteger",
        "DynamicQuantizeMatMul",
        "MatMulIntegerToFloat",
        "DynamicQuantizeLSTM",
    }
)
QOPERATOR_OPS = frozenset(
    {
        "QLinearConv",
        "QLinearMatMul",
        "QGemm",
        "QLinearAdd",
        "QLinearMul",
        "QLinearAveragePool",
        "QLinearGlobalAveragePool",
        "QLinearConcat",
        "QLinearLeakyRelu",
        "QLinearSigmoid",
        "QLinearSoftmax",
    }
)


def quantized_format(graph) -> str | None:
    """``"dynamic"``, ``"QOperator"``, ``"QDQ"`` or ``None`` for a float graph (by its operators)."""
    ops = {node.op_type for node in graph.node}
    if ops & DYNAMIC_OPS:
        return "dynamic"
    if ops & QOPERATOR_OPS:
        return "QOperator"
    if ops & QDQ_OPS:
        return "QDQ"
    return None


def refuse_dynamic(graph) -> None:
    """Raise a one-line :class:`LenetcError` if ``graph`` is dynamically quantized."""
    ops = sorted({n.op_type for n in graph.node} & DYNAMIC_OPS)
    if ops:
        raise LenetcError(
            f"dynamically quantized ONNX model ({', '.join(ops)}): its activation scales are computed at run time "
            "from each input, so there is no fixed int8 network to compile; give lenetc the float model "
            "(--dtype int8 calibrates it) or a statically quantized one (onnxruntime.quantization.quantize_static, "
            "QDQ or QOperator)"
        )
