"""Recognise quantized ONNX graphs (QDQ and QOperator formats).

lenetc does not yet import a file's own scales and zero points (issue 15). Until it does,
a quantized graph is refused up front with one line that names the format, instead of a
confusing error from the node that happens to fail first ("cannot fold its constant
inputs" for a DequantizeLinear on a bias, "operator not supported" for QLinearConv).
"""

from __future__ import annotations

from ..errors import LenetcError

QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"})
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
        "ConvInteger",
        "MatMulInteger",
    }
)


def quantized_format(graph) -> str | None:
    """``"QOperator"``, ``"QDQ"`` or ``None`` for a float graph (by the operators it holds)."""
    ops = {node.op_type for node in graph.node}
    if ops & QOPERATOR_OPS:
        return "QOperator"
    if ops & QDQ_OPS:
        return "QDQ"
    return None


def refuse_quantized(graph) -> None:
    """Raise a one-line :class:`LenetcError` if ``graph`` is a quantized (QDQ/QOperator) graph."""
    fmt = quantized_format(graph)
    if fmt is None:
        return
    ops = sorted({n.op_type for n in graph.node} & (QDQ_OPS | QOPERATOR_OPS))
    raise LenetcError(
        f"quantized ONNX model ({fmt} format: {', '.join(ops)}) is not supported yet; "
        "import the float model and let lenetc quantize it (--dtype int8)"
    )
