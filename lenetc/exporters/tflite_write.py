"""A small TFLite graph writer on the ``tflite`` package's schema-generated builders
(``flatbuffers.Builder``): tensors with per-channel quantization, constant buffers, builtin
operators and their options. The exporter decides what to write; this module only serialises."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np

#: BuiltinOperator codes and the TensorType codes lenetc writes.
OPS = {"ADD": 0, "AVERAGE_POOL_2D": 1, "CONV_2D": 3, "DEPTHWISE_CONV_2D": 4, "FULLY_CONNECTED": 9, "LOGISTIC": 14,
       "MAX_POOL_2D": 17, "RELU": 19, "RELU6": 21, "RESHAPE": 22, "SOFTMAX": 25, "TANH": 28, "PAD": 34}  # fmt: skip
TYPES = {np.dtype(np.float32): 0, np.dtype(np.int32): 2, np.dtype(np.int8): 9}
#: BuiltinOptions union codes of the options tables lenetc writes.
OPTIONS = {"Conv2DOptions": 1, "DepthwiseConv2DOptions": 2, "Pool2DOptions": 5, "FullyConnectedOptions": 8,
           "SoftmaxOptions": 9, "ReshapeOptions": 17, "PadOptions": 22}  # fmt: skip


def _m(name: str):
    return importlib.import_module(f"tflite.{name}")


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    buffer: int = 0
    scale: np.ndarray | None = None
    zero_point: np.ndarray | None = None
    axis: int = 0


@dataclass
class Op:
    name: str
    inputs: list[int]
    outputs: list[int]
    options: str | None = None
    fields: dict = field(default_factory=dict)
    version: int = 1


class GraphWriter:
    """Collects tensors, constant buffers and operators; :meth:`serialize` writes the file bytes."""

    def __init__(self, description: str):
        self.description = description
        self.buffers: list[bytes] = [b""]  # buffer 0 is the empty buffer of every computed tensor
        self.tensors: list[Tensor] = []
        self.ops: list[Op] = []

    def tensor(self, name, shape, dtype, data=None, scale=None, zero_point=None, axis=0) -> int:
        buf = 0
        if data is not None:
            self.buffers.append(
                np.ascontiguousarray(np.asarray(data, dtype).astype(np.dtype(dtype).newbyteorder("<"))).tobytes()
            )
            buf = len(self.buffers) - 1
        sc = None if scale is None else np.atleast_1d(np.asarray(scale, np.float32))
        zp = None if zero_point is None else np.atleast_1d(np.asarray(zero_point, np.int64))
        self.tensors.append(Tensor(name, tuple(int(v) for v in shape), np.dtype(dtype), buf, sc, zp, axis))
        return len(self.tensors) - 1

    def op(self, name: str, inputs: list[int], outputs: list[int], options: str | None = None, version=1, **fields):
        self.ops.append(Op(name, inputs, outputs, options, fields, version))

    # ---- serialisation ------------------------------------------------------------------------
    def serialize(self, inputs: list[int], outputs: list[int]) -> bytes:
        import flatbuffers

        b = flatbuffers.Builder(1024)
        codes = sorted({(o.name, o.version) for o in self.ops}, key=lambda c: (OPS[c[0]], c[1]))
        code_index = {c: i for i, c in enumerate(codes)}
        buffers = [self._buffer(b, data) for data in self.buffers]
        tensors = [self._tensor(b, t) for t in self.tensors]
        ops = [self._op(b, o, code_index[(o.name, o.version)]) for o in self.ops]
        sg = _m("SubGraph")
        t_vec = self._offsets(b, sg.StartTensorsVector, tensors)
        o_vec = self._offsets(b, sg.StartOperatorsVector, ops)
        in_vec = self._ints(b, sg.StartInputsVector, inputs)
        out_vec = self._ints(b, sg.StartOutputsVector, outputs)
        name = b.CreateString("main")
        sg.Start(b)
        sg.AddTensors(b, t_vec)
        sg.AddInputs(b, in_vec)
        sg.AddOutputs(b, out_vec)
        sg.AddOperators(b, o_vec)
        sg.AddName(b, name)
        subgraph = sg.End(b)
        oc = _m("OperatorCode")
        opcodes = []
        for op_name, version in codes:
            oc.Start(b)
            oc.AddDeprecatedBuiltinCode(b, min(OPS[op_name], 127))
            oc.AddBuiltinCode(b, OPS[op_name])
            oc.AddVersion(b, version)
            opcodes.append(oc.End(b))
        mm = _m("Model")
        codes_vec = self._offsets(b, mm.StartOperatorCodesVector, opcodes)
        sub_vec = self._offsets(b, mm.StartSubgraphsVector, [subgraph])
        buf_vec = self._offsets(b, mm.StartBuffersVector, buffers)
        desc = b.CreateString(self.description)
        mm.Start(b)
        mm.AddVersion(b, 3)
        mm.AddOperatorCodes(b, codes_vec)
        mm.AddSubgraphs(b, sub_vec)
        mm.AddDescription(b, desc)
        mm.AddBuffers(b, buf_vec)
        b.Finish(mm.End(b), file_identifier=b"TFL3")
        return bytes(b.Output())

    @staticmethod
    def _offsets(b, start, items: list[int]) -> int:
        start(b, len(items))
        for item in reversed(items):
            b.PrependUOffsetTRelative(item)
        return b.EndVector()

    @staticmethod
    def _ints(b, start, items, prepend="PrependInt32") -> int:
        start(b, len(items))
        for item in reversed(list(items)):
            getattr(b, prepend)(item)
        return b.EndVector()

    def _buffer(self, b, data: bytes) -> int:
        bb = _m("Buffer")
        vec = None
        if data:
            b.StartVector(1, len(data), 16)  # 16-byte aligned, as the converter writes
            b.head = b.head - len(data)
            b.Bytes[b.head : b.head + len(data)] = data
            vec = b.EndVector()
        bb.Start(b)
        if vec is not None:
            bb.AddData(b, vec)
        return bb.End(b)

    def _tensor(self, b, t: Tensor) -> int:
        tt, qp = _m("Tensor"), _m("QuantizationParameters")
        q = None
        if t.scale is not None:
            scales = self._floats(b, qp.StartScaleVector, t.scale)
            zps = self._ints(b, qp.StartZeroPointVector, t.zero_point, "PrependInt64")
            qp.Start(b)
            qp.AddScale(b, scales)
            qp.AddZeroPoint(b, zps)
            qp.AddQuantizedDimension(b, t.axis)
            q = qp.End(b)
        shape = self._ints(b, tt.StartShapeVector, t.shape)
        name = b.CreateString(t.name)
        tt.Start(b)
        tt.AddShape(b, shape)
        tt.AddType(b, TYPES[t.dtype])
        tt.AddBuffer(b, t.buffer)
        tt.AddName(b, name)
        if q is not None:
            tt.AddQuantization(b, q)
        return tt.End(b)

    @staticmethod
    def _floats(b, start, values) -> int:
        start(b, len(values))
        for v in reversed(list(values)):
            b.PrependFloat32(float(v))
        return b.EndVector()

    def _op(self, b, o: Op, code: int) -> int:
        options = None
        if o.options is not None:
            mod = _m(o.options)
            mod.Start(b)
            for key, value in o.fields.items():
                getattr(mod, f"Add{key}")(b, value)
            options = mod.End(b)
        oo = _m("Operator")
        ins = self._ints(b, oo.StartInputsVector, o.inputs)
        outs = self._ints(b, oo.StartOutputsVector, o.outputs)
        oo.Start(b)
        oo.AddOpcodeIndex(b, code)
        oo.AddInputs(b, ins)
        oo.AddOutputs(b, outs)
        if options is not None:
            oo.AddBuiltinOptionsType(b, OPTIONS[o.options])
            oo.AddBuiltinOptions(b, options)
        return oo.End(b)
