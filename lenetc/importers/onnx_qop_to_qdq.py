"""Rewrite a QOperator-format quantized ONNX graph into the equivalent QDQ-format graph.

QOperator graphs (onnxruntime's ``quantize_static(..., quant_format=QuantFormat.QOperator)``,
the ONNX model zoo's ``*-int8`` files) hide the float operator inside a fused quantized one
(``QLinearConv``, ``QGemm``, ...). QDQ graphs spell the same computation as
``DequantizeLinear -> float op -> QuantizeLinear``, which is what lenetc's quantized
importer reads. The rewrite keeps every scale, zero point and integer initializer of the
file as it is (int8/uint8 weights, int32 biases, per-channel axes); it only adds the bias
scales (``x_scale * w_scale``) that the fused operators leave implicit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
import onnx.version_converter
from onnx import TensorProto, helper, numpy_helper

from ..errors import LenetcError

MS_DOMAIN = "com.microsoft"
MIN_OPSET = 13
"""Per-axis DequantizeLinear (the ``axis`` attribute) needs opset 13."""

# Data-movement operators a QOperator graph runs directly on quantized tensors; in QDQ
# form they sit between a DequantizeLinear and a QuantizeLinear of the same scale.
PASSTHROUGH_OPS = frozenset({"MaxPool", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze"})

# Fused quantized operators of the QOperator format (ONNX and com.microsoft).
_OTHER_QOPERATOR_OPS = frozenset(
    {
        "QGemm",
        "QAttention",
        "ConvInteger",
        "MatMulInteger",
        "MatMulIntegerToFloat",
        "DynamicQuantizeMatMul",
        "DynamicQuantizeLSTM",
        "QEmbedLayerNormalization",
    }
)


def is_qoperator_op(node: onnx.NodeProto) -> bool:
    """True for a fused quantized operator of the QOperator format (``QLinear*``, ``QGemm``, ...)."""
    return node.op_type.startswith("QLinear") or node.op_type in _OTHER_QOPERATOR_OPS


@dataclass(frozen=True)
class QParams:
    """How a quantized tensor maps to floats: names of its scale and zero point, and its element type."""

    scale: str
    zero_point: str
    elem_type: int


def _where(node: onnx.NodeProto) -> str:
    domain = f"{node.domain}::" if node.domain else ""
    return f"ONNX node '{node.name or node.output[0]}' ({domain}{node.op_type})"


def _arg(node: onnx.NodeProto, index: int) -> str:
    """Input ``index`` of ``node`` or "" when it is absent (optional inputs)."""
    return node.input[index] if index < len(node.input) else ""


def _attrs(node: onnx.NodeProto, drop: tuple[str, ...] = ()) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute if a.name not in drop}


@dataclass
class _Rewriter:
    """Builds the QDQ node list for one graph; see ``qoperator_to_qdq``."""

    graph: onnx.GraphProto
    consts: dict[str, np.ndarray] = field(default_factory=dict)
    quant: dict[str, QParams] = field(default_factory=dict)
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[TensorProto] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    dq_cache: dict[tuple, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for init in self.graph.initializer:
            self.consts[init.name] = numpy_helper.to_array(init)
        for node in self.graph.node:
            self.names.update(node.output)
            self.names.add(node.name)
            if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
                self.consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        self.names.update(self.consts)
        self.names.update(i.name for i in self.graph.input)

    # -- small builders -------------------------------------------------------------------
    def fresh(self, base: str) -> str:
        """A tensor or node name not used anywhere in the graph yet."""
        name, k = base, 1
        while name in self.names:
            name, k = f"{base}_{k}", k + 1
        self.names.add(name)
        return name

    def const(self, node: onnx.NodeProto, name: str, what: str) -> np.ndarray:
        if name not in self.consts:
            raise LenetcError(f"{_where(node)}: its {what} '{name}' is not a constant")
        return self.consts[name]

    def add_initializer(self, base: str, value: np.ndarray) -> str:
        name = self.fresh(base)
        self.initializers.append(numpy_helper.from_array(value, name))
        self.consts[name] = value
        return name

    def elem_type(self, node: onnx.NodeProto, zero_point: str, default: int = TensorProto.UINT8) -> int:
        if not zero_point:
            return default
        return helper.np_dtype_to_tensor_dtype(self.const(node, zero_point, "zero point").dtype)

    def axis_of(self, node: onnx.NodeProto, scale: str, axis: int) -> int | None:
        """``axis`` when ``scale`` is a per-channel vector, else None (per-tensor)."""
        value = self.const(node, scale, "scale")
        return axis if value.ndim == 1 and value.size > 1 else None

    def dequantize(self, tensor: str, scale: str, zero_point: str, axis: int | None = None) -> str:
        """Name of the float tensor ``DequantizeLinear(tensor, scale, zero_point)`` (one node per tensor)."""
        key = (tensor, scale, zero_point, axis)
        if key not in self.dq_cache:
            out = self.fresh(f"{tensor}_dequantized")
            inputs = [tensor, scale] + ([zero_point] if zero_point else [])
            extra = {} if axis is None else {"axis": axis}
            self.nodes.append(helper.make_node("DequantizeLinear", inputs, [out], self.fresh(f"{out}_DQ"), **extra))
            self.dq_cache[key] = out
        return self.dq_cache[key]

    def dequantize_input(self, tensor: str) -> str:
        q = self.quant[tensor]
        return self.dequantize(tensor, q.scale, q.zero_point)

    def quantize(self, value: str, scale: str, zero_point: str, out: str, elem_type: int) -> None:
        """Emit ``out = QuantizeLinear(value, scale, zero_point)`` and record ``out`` as quantized."""
        if not zero_point and elem_type != TensorProto.UINT8:
            zero_point = self.add_initializer(
                f"{out}_zero_point", np.zeros((), helper.tensor_dtype_to_np_dtype(elem_type))
            )
        inputs = [value, scale] + ([zero_point] if zero_point else [])
        self.nodes.append(helper.make_node("QuantizeLinear", inputs, [out], self.fresh(f"{out}_Q")))
        self.quant[out] = QParams(scale, zero_point, elem_type)

    def bias(self, node: onnx.NodeProto, bias: str, scale: np.ndarray) -> str:
        """Float tensor of an int32 bias whose scale is ``scale`` (zero point 0)."""
        scale = np.asarray(scale, np.float32)
        scale_name = self.add_initializer(f"{bias}_scale", scale)
        zero_name = self.add_initializer(f"{bias}_zero_point", np.zeros(scale.shape, np.int32))
        self.const(node, bias, "bias")
        return self.dequantize(bias, scale_name, zero_name, 0 if scale.ndim == 1 and scale.size > 1 else None)

    def float_op(self, node: onnx.NodeProto, op_type: str, inputs: list[str], attrs: dict) -> str:
        out = self.fresh(f"{node.output[0]}_float")
        name = self.fresh(node.name or out)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name, **attrs))
        return out

    # -- one rewrite per operator ---------------------------------------------------------
    def conv(self, node: onnx.NodeProto) -> None:
        x, xs, xz, w, ws, wz, ys, yz = (_arg(node, i) for i in range(8))
        inputs = [self.dequantize(x, xs, xz), self.dequantize(w, ws, wz, self.axis_of(node, ws, 0))]
        if _arg(node, 8):
            scale = self.const(node, xs, "input scale") * self.const(node, ws, "weight scale")
            inputs.append(self.bias(node, _arg(node, 8), scale))
        y = self.float_op(node, "Conv", inputs, _attrs(node))
        self.quantize(y, ys, yz, node.output[0], self.elem_type(node, yz))

    def matmul(self, node: onnx.NodeProto) -> None:
        a, a_s, az, b, bs, bz, ys, yz = (_arg(node, i) for i in range(8))
        if self.axis_of(node, a_s, 0) is not None:
            raise LenetcError(f"{_where(node)}: a per-row scale of input A is not supported")
        b_axis = self.const(node, b, "input B").ndim - 1 if self.axis_of(node, bs, 0) is not None else None
        inputs = [self.dequantize(a, a_s, az), self.dequantize(b, bs, bz, b_axis)]
        y = self.float_op(node, "MatMul", inputs, {})
        self.quantize(y, ys, yz, node.output[0], self.elem_type(node, yz))

    def gemm(self, node: onnx.NodeProto) -> None:
        a, a_s, az, b, bs, bz, c, ys, yz = (_arg(node, i) for i in range(9))
        attrs = _attrs(node)
        alpha = float(attrs.get("alpha", 1.0))
        b_axis = 0 if attrs.get("transB", 0) else 1
        inputs = [self.dequantize(a, a_s, az), self.dequantize(b, bs, bz, self.axis_of(node, bs, b_axis))]
        if c:
            # ORT's QGemm adds the int32 C to the integer accumulator before scaling by alpha*a_scale*b_scale.
            scale = alpha * self.const(node, a_s, "A scale") * self.const(node, bs, "B scale")
            inputs.append(self.bias(node, c, scale))
        gemm_attrs = {k: v for k, v in attrs.items() if k in ("alpha", "transA", "transB")}
        if not ys:
            out = node.output[0]
            self.nodes.append(helper.make_node("Gemm", inputs, [out], self.fresh(node.name or out), **gemm_attrs))
            return
        y = self.float_op(node, "Gemm", inputs, gemm_attrs)
        self.quantize(y, ys, yz, node.output[0], self.elem_type(node, yz))

    def binary(self, node: onnx.NodeProto, op_type: str) -> None:
        a, a_s, az, b, bs, bz, cs, cz = (_arg(node, i) for i in range(8))
        elem = self.elem_type(node, az)
        inputs = [self.dequantize(a, a_s, az), self.dequantize(b, bs, bz)]
        y = self.float_op(node, op_type, inputs, {})
        self.quantize(y, cs, cz, node.output[0], self.elem_type(node, cz, elem))

    def unary(self, node: onnx.NodeProto, op_type: str, attrs: dict) -> None:
        x, xs, xz, ys, yz = (_arg(node, i) for i in range(5))
        elem = self.elem_type(node, xz)
        y = self.float_op(node, op_type, [self.dequantize(x, xs, xz)], attrs)
        self.quantize(y, ys, yz, node.output[0], self.elem_type(node, yz, elem))

    def pool(self, node: onnx.NodeProto, op_type: str) -> None:
        attrs = _attrs(node, drop=("channels_last",))
        if _attrs(node).get("channels_last", 0):
            raise LenetcError(f"{_where(node)}: channels_last=1 is not supported")
        self.unary(node, op_type, attrs)

    def softmax(self, node: onnx.NodeProto) -> None:
        attrs = _attrs(node)
        if attrs.get("opset", MIN_OPSET) < MIN_OPSET:
            raise LenetcError(f"{_where(node)}: softmax of opset {attrs['opset']} (2-D coercion) is not supported")
        self.unary(node, "Softmax", {"axis": attrs.get("axis", -1)})

    def passthrough(self, node: onnx.NodeProto) -> None:
        q = self.quant[node.input[0]]
        inputs = [self.dequantize_input(node.input[0]), *node.input[1:]]
        y = self.float_op(node, node.op_type, inputs, _attrs(node))
        self.quantize(y, q.scale, q.zero_point, node.output[0], q.elem_type)

    def keep(self, node: onnx.NodeProto) -> None:
        """Copy a node; QuantizeLinear outputs and Identity of quantized tensors stay known as quantized."""
        if node.op_type == "QuantizeLinear":
            zp = _arg(node, 2)
            self.quant[node.output[0]] = QParams(node.input[1], zp, self.elem_type(node, zp))
        elif node.op_type == "Identity" and node.input[0] in self.quant:
            self.quant[node.output[0]] = self.quant[node.input[0]]
        elif node.op_type != "DequantizeLinear" and any(i in self.quant for i in node.input):
            raise LenetcError(
                f"{_where(node)}: runs on a quantized tensor; not supported by the QOperator-to-QDQ rewrite"
            )
        self.nodes.append(node)

    def node(self, node: onnx.NodeProto) -> None:
        """Rewrite one node of the original graph (in topological order)."""
        ms = node.domain == MS_DOMAIN
        op = node.op_type
        if op == "QLinearConv" and not node.domain:
            self.conv(node)
        elif op == "QLinearMatMul" and not node.domain:
            self.matmul(node)
        elif op == "QGemm" and ms:
            self.gemm(node)
        elif op in ("QLinearAdd", "QLinearMul") and ms:
            self.binary(node, op.removeprefix("QLinear"))
        elif op in ("QLinearAveragePool", "QLinearGlobalAveragePool") and ms:
            self.pool(node, op.removeprefix("QLinear"))
        elif op == "QLinearSoftmax" and ms:
            self.softmax(node)
        elif is_qoperator_op(node):
            raise LenetcError(f"{_where(node)}: QOperator op not supported by the QOperator-to-QDQ rewrite")
        elif op in PASSTHROUGH_OPS and not node.domain and node.input[0] in self.quant:
            self.passthrough(node)
        else:
            self.keep(node)


def _opsets(model: onnx.ModelProto, nodes: list[onnx.NodeProto]) -> list[onnx.OperatorSetIdProto]:
    """The model's opset imports with the default domain raised to 13 and unused domains dropped."""
    used = {n.domain for n in nodes}
    out = []
    for opset in model.opset_import:
        domain = opset.domain
        if domain in ("", "ai.onnx"):
            out.append(helper.make_opsetid(domain, max(opset.version, MIN_OPSET)))
        elif domain in used:
            out.append(helper.make_opsetid(domain, opset.version))
    if not any(o.domain in ("", "ai.onnx") for o in out):
        out.append(helper.make_opsetid("", MIN_OPSET))
    return out


def qoperator_to_qdq(model: onnx.ModelProto) -> onnx.ModelProto:
    """Return a QDQ-format copy of a QOperator-format model (the input is left unchanged).

    Fused operators become ``DequantizeLinear -> float op -> QuantizeLinear``: QLinearConv
    (Conv), QLinearMatMul (MatMul), com.microsoft QGemm (Gemm; no QuantizeLinear when it
    has no y_scale), QLinearAdd/QLinearMul (Add/Mul), QLinearAveragePool,
    QLinearGlobalAveragePool and QLinearSoftmax. MaxPool, Reshape, Flatten, Transpose,
    Squeeze and Unsqueeze on quantized tensors are wrapped in a DequantizeLinear and a
    QuantizeLinear of their input's scale and zero point. Weights get a per-channel
    DequantizeLinear (axis 0 for Conv and transposed Gemm weights) when their scale is a
    vector; int32 biases are dequantized with scale ``x_scale * w_scale`` and zero point 0.
    QuantizeLinear/DequantizeLinear and float operators are kept. Quantized tensors keep
    their names, so graph inputs and outputs keep theirs. The default-domain opset is
    raised to at least 13 (per-axis DequantizeLinear); a model below opset 13 has its other
    operators converted with ``onnx.version_converter`` first.

    Raises LenetcError (one line naming the node) for a QOperator op it cannot rewrite.
    """
    src = onnx.ModelProto()
    src.CopyFrom(model)
    default = [o.version for o in src.opset_import if o.domain in ("", "ai.onnx")]
    if default and default[0] < MIN_OPSET:
        src = _upgrade(src)
    rewriter = _Rewriter(src.graph)
    for node in src.graph.node:
        rewriter.node(node)
    out = onnx.ModelProto()
    out.CopyFrom(src)
    del out.graph.node[:]
    out.graph.node.extend(rewriter.nodes)
    out.graph.initializer.extend(rewriter.initializers)
    del out.opset_import[:]
    out.opset_import.extend(_opsets(src, rewriter.nodes))
    return out


def _upgrade(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with its default-domain operators converted to opset 13."""
    try:
        return onnx.version_converter.convert_version(model, MIN_OPSET)
    except Exception as exc:  # the converter raises bare RuntimeError/ValidationError
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LenetcError(f"cannot convert the quantized ONNX model to opset {MIN_OPSET}: {first}") from None
