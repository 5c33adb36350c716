"""Statically quantized ONNX (QDQ, and QOperator through :mod:`.onnx_qop_to_qdq`) -> a
:class:`~lenetc.quant.qnetwork.QuantizedNetwork` with the file's own scales.

The QDQ graph is taken apart into two things:

- its float skeleton: every ``QuantizeLinear -> DequantizeLinear`` pair on an activation is
  removed (the float tensor before it flows on), every ``DequantizeLinear`` of a constant
  (int8/uint8 weights, int32 biases) becomes the float constant it dequantizes to; the float
  importer (:mod:`.onnx_import`) reads that graph into a :class:`Network` (the float reference,
  with the file's weights dequantized);
- what the file states: per activation tensor its quantization (the ``QuantizeLinear``'s scale
  and zero point), per convolution or dense layer its integer weights and bias with their
  scales. While the float importer builds the layers, it records which layer produced each
  tensor, so each quantization lands on its layer (``pre_q`` when an activation follows that
  the file computes between two quantizations, ``out_q`` after it).

:func:`lenetc.quant.from_scales.quantized_from_scales` then builds and validates the integer
network. A weight-only QDQ file (quantized weights, float activations) is a float network with
the dequantized weights. Float islands (an operator the file computes in float between
quantized tensors with no quantization of its own) are refused naming the layer.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..errors import LenetcError
from ..kinds.given import GivenLinear, GivenOutput, GivenTensor
from ..network import Network
from ..quant.from_scales import quantized_from_scales
from ..quant.qnetwork import QuantizedNetwork
from .onnx_fold import attrs, tensor_to_array
from .onnx_import import OnnxImporter
from .onnx_qop_to_qdq import qoperator_to_qdq
from .onnx_quantized import quantized_format, refuse_dynamic

_NP_TYPES = {TensorProto.INT8: "int8", TensorProto.UINT8: "uint8", TensorProto.INT32: "int32"}
LINEAR_OPS = ("Conv", "Gemm", "MatMul")
#: Operators that only move values: ONNX runs them on int8 tensors directly, keeping the quantization.
MOVES = frozenset({"Identity", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "MaxPool"})


def _dtype_name(values: np.ndarray, where: str) -> str:
    name = np.asarray(values).dtype.name
    if name not in ("int8", "uint8", "int32"):
        raise LenetcError(f"{where}: quantized type {name}; lenetc reads int8, uint8 and int32")
    return name


class _Stripped:
    """A QDQ graph taken apart into its float skeleton and what it states of each tensor."""

    def __init__(self, model: onnx.ModelProto):
        self.model = model
        g = model.graph
        self.consts: dict[str, np.ndarray] = {t.name: tensor_to_array(t) for t in g.initializer}
        self.float_consts: dict[str, np.ndarray] = {}
        self.ints: dict[str, tuple[np.ndarray, GivenTensor]] = {}  # dequantized constant -> integers
        self.quant: dict[str, GivenTensor] = {}  # float activation tensor -> its quantization
        self.q_out: dict[str, str] = {}  # quantized tensor -> the float tensor it quantizes
        self.alias: dict[str, str] = {}
        self.nodes: list[onnx.NodeProto] = []
        self.input_quant: GivenTensor | None = None
        inputs = {i.name for i in g.input if i.name not in self.consts}
        for node in g.node:
            if node.op_type == "Constant" and not node.input:
                from onnx.reference import ReferenceEvaluator  # evaluates the attribute forms alike

                self.consts[node.output[0]] = np.asarray(
                    ReferenceEvaluator(helper.make_model(helper.make_graph([node], "c", [], [
                        helper.make_value_info(node.output[0], onnx.TypeProto())]))).run(None, {})[0]
                )  # fmt: skip
                continue
            ins = [self.alias.get(n, n) for n in node.input]
            if node.op_type == "QuantizeLinear":
                self._quantize(node, ins, inputs)
            elif node.op_type == "DequantizeLinear":
                self._dequantize(node, ins, inputs)
            elif node.op_type in MOVES and ins and ins[0] in self.q_out:
                self._move(node, ins)
            else:
                for n in ins:
                    if self.q_out.get(n, n) != n:  # (a moved tensor is float in the skeleton too)
                        raise LenetcError(
                            f"node '{node.name or node.output[0]}' ({node.op_type}) reads the quantized tensor '{n}' "
                            "directly; lenetc reads QDQ graphs where quantized tensors feed DequantizeLinear"
                        )
                copy = onnx.NodeProto()
                copy.CopyFrom(node)
                del copy.input[:]
                copy.input.extend(ins)
                self.nodes.append(copy)

    def _move(self, node, ins: list[str]) -> None:
        """A data-movement operator run on the quantized tensor itself (lenetc's export flattens int8
        values): in the float skeleton it runs on the float tensor, and its output keeps the input's
        quantization."""
        src = self.q_out[ins[0]]
        out = node.output[0]
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        del copy.input[:]
        copy.input.extend([src, *ins[1:]])
        self.nodes.append(copy)
        t = self.quant[src]
        self.quant[out] = GivenTensor(out, t.scale, t.zero_point, t.dtype, t.axis)
        self.q_out[out] = out

    def _qparams(self, node, ins: list[str]) -> tuple[np.ndarray, np.ndarray, str]:
        where = f"node '{node.name or node.output[0]}' ({node.op_type})"
        if len(ins) < 2 or ins[1] not in self.consts or (len(ins) > 2 and ins[2] and ins[2] not in self.consts):
            raise LenetcError(f"{where}: scale and zero point must be constants")
        scale = np.asarray(self.consts[ins[1]], np.float32)
        zp = self.consts[ins[2]] if len(ins) > 2 and ins[2] else np.zeros((), np.uint8)
        return scale, zp, _dtype_name(zp, where)

    def _given(self, node, ins: list[str], tensor: str) -> GivenTensor:
        scale, zp, dtype = self._qparams(node, ins)
        axis = int(attrs(node).get("axis", 1)) if scale.size > 1 else None
        return GivenTensor(tensor, scale, zp, dtype, axis)

    def _quantize(self, node, ins: list[str], inputs: set[str]) -> None:
        x, y = ins[0], node.output[0]
        t = self._given(node, ins, y)
        if x in self.consts:  # float weights quantized in the graph: the integers ORT computes
            values = np.asarray(self.consts[x], np.float32)
            s = np.asarray(t.scale, np.float32)
            z = np.asarray(t.zero_point).astype(np.int64)
            if s.size > 1:
                shape = [1] * values.ndim
                shape[t.axis if t.axis >= 0 else t.axis + values.ndim] = -1
                s, z = s.reshape(shape), z.reshape(shape)
            lo, hi = {"int8": (-128, 127), "uint8": (0, 255), "int32": (-(2**31), 2**31 - 1)}[t.dtype]
            q = np.clip(np.rint(values / s).astype(np.int64) + z, lo, hi).astype(t.dtype)
            self.consts[y] = q
            return
        if x in self.quant and not _same(self.quant[x], t):
            raise LenetcError(
                f"tensor '{x}' is quantized twice with different scales ('{self.quant[x].tensor}', '{y}')"
            )
        self.quant.setdefault(x, t)
        self.q_out[y] = x

    def _dequantize(self, node, ins: list[str], inputs: set[str]) -> None:
        x, y = ins[0], node.output[0]
        t = self._given(node, ins, x)
        if x in self.consts:  # integer weights or bias
            values = self.consts[x]
            s = np.asarray(t.scale, np.float32)
            z = np.asarray(t.zero_point).astype(np.int64)
            if s.size > 1:
                shape = [1] * values.ndim
                shape[t.axis if t.axis >= 0 else t.axis + values.ndim] = -1
                s, z = s.reshape(shape), z.reshape(shape)
            self.ints[y] = (values, t)
            self.float_consts[y] = ((values.astype(np.int64) - z).astype(np.float32) * s).astype(np.float32)
            self.consts[y] = self.float_consts[y]
            return
        if x in self.q_out:
            src = self.q_out[x]
            first = self.quant[src]
            if not _same(first, t):
                raise LenetcError(f"tensor '{x}' is dequantized with other scale or zero point than it was quantized")
            self.alias[y] = src
            return
        if x in inputs:  # an integer graph input
            self.input_quant = GivenTensor(x, t.scale, t.zero_point, t.dtype)
            self.quant[x] = self.input_quant
            self.alias[y] = x
            return
        raise LenetcError(
            f"node '{node.name or y}' (DequantizeLinear): its input '{x}' is neither constant nor quantized"
        )

    def float_model(self) -> onnx.ModelProto:
        """The float skeleton as a model the float importer reads."""
        g = self.model.graph
        used = {n for node in self.nodes for n in node.input}
        inits = [t for t in g.initializer if t.name in used and t.name not in self.float_consts]
        inits += [numpy_helper.from_array(v, k) for k, v in self.float_consts.items() if k in used]
        inputs = []
        for i in g.input:
            if i.name in self.consts:
                continue
            copy = onnx.ValueInfoProto()
            copy.CopyFrom(i)
            copy.type.tensor_type.elem_type = TensorProto.FLOAT
            inputs.append(copy)
        outputs, seen = [], set()
        for o in g.output:
            name = self.alias.get(o.name, o.name)
            name = self.q_out.get(name, name)  # an int8 graph output: the float tensor it quantizes
            if name in seen:
                continue
            if len(g.output) > 1 and o.type.tensor_type.elem_type in _NP_TYPES:
                continue  # the integer twin of the float output (lenetc's export: output_q)
            seen.add(name)
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
        graph = helper.make_graph(self.nodes, g.name or "qdq", inputs, outputs, initializer=inits)
        out = helper.make_model(graph, opset_imports=list(self.model.opset_import))
        out.ir_version = self.model.ir_version
        out.metadata_props.extend(self.model.metadata_props)
        return out


class _Made(dict):
    """The float importer's computed tensors, recording for each (as it is set) the name of the
    last layer of the chain at that moment: the layer that produced it (None: the input)."""

    def __init__(self, builder):
        super().__init__()
        self.builder, self.made = builder, {}

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        layers = self.builder.layers
        self.made[key] = layers[-1].name if layers else None


class _Tracking(OnnxImporter):
    """The float importer, recording which layer produced each tensor and which node made each layer."""

    def __init__(self, model, name: str):
        super().__init__(model, name)
        made = _Made(self.b)
        for key, value in self.dyn.items():
            made[key] = value
        self.dyn = made
        self.linear_nodes: dict[str, onnx.NodeProto] = {}

    @property
    def made(self) -> dict[str, str | None]:
        return self.dyn.made

    def set(self, node, shape, last: bool = False) -> None:
        super().set(node, shape, last)
        layer = self.b.layers[-1] if self.b.layers else None
        if node.op_type in LINEAR_OPS and layer is not None:
            self.linear_nodes[layer.name] = node


def _linear_given(layer, node, s: _Stripped, out: list[GivenTensor]) -> GivenLinear:
    """What the file states of a conv/dense layer made by ONNX ``node``."""
    where = f"layer '{layer.name}' ({node.op_type} '{node.name or node.output[0]}')"
    if len(node.input) < 2 or node.input[1] not in s.ints:
        raise LenetcError(f"{where}: its weights are float in a quantized graph (a float island)")
    w, wq = s.ints[node.input[1]]
    a = attrs(node)
    if node.op_type == "Conv":
        w = w.reshape(w.shape[0], w.shape[1], *([1] * (4 - w.ndim)), *w.shape[2:]) if w.ndim == 3 else w
        if layer.kind == "subsampling":
            flat = w.reshape(w.shape[0], -1)
            if not (flat == flat[:, :1]).all():
                raise LenetcError(f"{where}: subsampling taps differ in the integers")
            w = flat[:, 0].copy()
    else:
        trans = node.op_type == "Gemm" and a.get("transB", 0)
        if not trans:  # B is (in, out): lenetc's layout is (out, in)
            w = w.T
            if wq.axis is not None:
                wq = GivenTensor(wq.tensor, wq.scale, wq.zero_point, wq.dtype, 1 - (wq.axis % 2))
        alpha = float(a.get("alpha", 1.0)) if node.op_type == "Gemm" else 1.0
        if alpha != 1.0:
            wq = GivenTensor(wq.tensor, np.asarray(wq.scale, np.float64) * alpha, wq.zero_point, wq.dtype, wq.axis)
    bias = bias_q = None
    if node.op_type in ("Conv", "Gemm") and len(node.input) > 2 and node.input[2]:
        if node.input[2] not in s.ints:
            raise LenetcError(f"{where}: its bias is float in a quantized graph (a float island)")
        bias, bias_q = s.ints[node.input[2]]
        beta = float(a.get("beta", 1.0)) if node.op_type == "Gemm" else 1.0
        if beta != 1.0:
            bias_q = GivenTensor(bias_q.tensor, np.asarray(bias_q.scale, np.float64) * beta, 0, bias_q.dtype)
    if not out:
        raise LenetcError(f"{where}: its output is not quantized (a float island in an int8 graph)")
    if len(out) > 2 or (len(out) == 2 and getattr(layer, "act", None) is None):
        names = ", ".join(t.tensor for t in out)
        raise LenetcError(f"{where}: its output is requantized {len(out)} times ({names}); lenetc computes one layer")
    pre = out[0] if len(out) == 2 else None
    return GivenLinear(weight=w, weight_q=wq, out_q=out[-1], bias=bias, bias_q=bias_q, pre_q=pre)


def _same(a: GivenTensor, b: GivenTensor) -> bool:
    """Whether two quantizations are the same (scale, zero point and type)."""
    return (
        a.dtype == b.dtype
        and np.array_equal(np.asarray(a.scale), np.asarray(b.scale))
        and np.array_equal(np.asarray(a.zero_point), np.asarray(b.zero_point))
    )


def _distinct(ts: list[GivenTensor]) -> list[GivenTensor]:
    """``ts`` without a quantization repeated right after itself (a reshape between two equal ones)."""
    out: list[GivenTensor] = []
    for t in ts:
        if not out or not _same(out[-1], t):
            out.append(t)
    return out


def import_quantized(model: onnx.ModelProto, name: str) -> Network | QuantizedNetwork:
    """A statically quantized ONNX model as a :class:`QuantizedNetwork` with its own scales (a
    weight-only QDQ model: the float :class:`Network` of its dequantized weights)."""
    refuse_dynamic(model.graph)
    fmt = quantized_format(model.graph)
    if fmt == "QOperator":
        model = qoperator_to_qdq(model)
    s = _Stripped(model)
    imp = _Tracking(s.float_model(), name)
    net = imp.run()
    if not s.quant:  # weight-only QDQ
        return net
    input_name = imp.input.name
    if input_name not in s.quant:
        raise LenetcError(
            f"graph input '{input_name}' is not quantized; lenetc's int8 network starts from an int8 input"
        )
    layers = {layer.name for layer in net.layers}
    per_layer: dict[str, list[GivenTensor]] = {}
    for tensor, t in s.quant.items():
        if tensor not in imp.made:
            raise LenetcError(
                f"quantized tensor '{t.tensor}' is inside an operator pattern lenetc computes as one layer"
            )
    for tensor, layer_name in imp.made.items():
        if tensor in s.quant and layer_name is not None:
            if layer_name not in layers:
                raise LenetcError(f"quantized tensor '{s.quant[tensor].tensor}' belongs to no lenetc layer")
            per_layer.setdefault(layer_name, []).append(s.quant[tensor])
    given: dict[str, GivenLinear | GivenOutput] = {}
    final = net.layers[-1].name if net.layers and net.layers[-1].kind == "softmax" else None
    for layer in net.layers:
        if layer.name == final or layer.kind == "activation" and layer.name not in per_layer:
            continue
        out = _distinct(per_layer.get(layer.name, []))
        if layer.name in imp.linear_nodes:
            given[layer.name] = _linear_given(layer, imp.linear_nodes[layer.name], s, out)
        elif len(out) > 1:
            raise LenetcError(f"layer '{layer.name}' ({layer.kind}): its output is requantized {len(out)} times")
        else:
            given[layer.name] = GivenOutput(out[0] if out else None)
    source = f"the {fmt} ONNX file's own scales and zero points"
    qnet = quantized_from_scales(net, s.quant[input_name], given, source)
    last = net.layers[-2] if final is not None else net.layers[-1]
    outs = _distinct(per_layer.get(last.name, []))
    if outs:
        qnet.notes["onnx_output_q"] = outs[-1].tensor
        qnet.notes["onnx_output_dtype"] = outs[-1].dtype
    qnet.notes["format"] = fmt
    qnet.input_division = "float32"  # QuantizeLinear as ONNX Runtime computes it
    return qnet
