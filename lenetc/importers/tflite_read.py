"""Read a ``.tflite`` flatbuffer into plain dataclasses with the ``tflite`` package (generated
from TensorFlow Lite's schema), so the importer never touches flatbuffer accessors.

Only the first subgraph is read (LeNets have one). A file that does not parse, or whose
tables point outside the file, is refused with one line; the whole file is read once with a
size limit, so memory stays bounded whatever the file claims.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import LenetcError

#: Largest .tflite file lenetc reads (a LeNet is well under 1 MiB).
MAX_FILE_BYTES = 64 << 20
#: TFLite TensorType codes lenetc meets, with their NumPy types.
TENSOR_TYPES = {0: np.float32, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8, 7: np.int16}
TYPE_NAMES = {0: "float32", 2: "int32", 3: "uint8", 4: "int64", 9: "int8", 7: "int16", 1: "float16", 10: "float64"}


@dataclass
class TTensor:
    """One tensor: static shape, element type, per-axis quantization and constant data."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: np.ndarray | None = None  # float32, one per channel (or one)
    zero_point: np.ndarray | None = None  # int64
    axis: int = 0
    data: np.ndarray | None = None  # constant tensors only

    @property
    def quantized(self) -> bool:
        return self.scale is not None and self.scale.size > 0


@dataclass
class TOp:
    """One operator: its builtin name, tensor indices (-1: an absent optional input) and options."""

    index: int
    name: str
    inputs: list[int]
    outputs: list[int]
    options: dict = field(default_factory=dict)


@dataclass
class TGraph:
    tensors: list[TTensor]
    ops: list[TOp]
    inputs: list[int]
    outputs: list[int]
    description: str = ""


def _op_names() -> dict[int, str]:
    from tflite.BuiltinOperator import BuiltinOperator

    return {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)}


def _options(op, name: str) -> dict:
    """The builtin options lenetc reads, as a dict (absent options give the schema defaults)."""
    import tflite

    table = op.BuiltinOptions()
    kinds = {
        "CONV_2D": tflite.Conv2DOptions,
        "DEPTHWISE_CONV_2D": tflite.DepthwiseConv2DOptions,
        "FULLY_CONNECTED": tflite.FullyConnectedOptions,
        "MAX_POOL_2D": tflite.Pool2DOptions,
        "AVERAGE_POOL_2D": tflite.Pool2DOptions,
        "SOFTMAX": tflite.SoftmaxOptions,
    }
    cls = kinds.get(name)
    if cls is None or table is None:
        return {}
    o = cls()
    o.Init(table.Bytes, table.Pos)
    out: dict = {}
    for key in ("Padding", "StrideW", "StrideH", "FusedActivationFunction", "DilationWFactor", "DilationHFactor",
                "DepthMultiplier", "FilterWidth", "FilterHeight", "KeepNumDims", "WeightsFormat", "Beta"):  # fmt: skip
        if hasattr(o, key):
            out[key] = getattr(o, key)()
    return out


def _tensor(model, buf: bytes, t, index: int) -> TTensor:
    shape = tuple(int(v) for v in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    code = t.Type()
    name = (t.Name() or b"").decode("utf-8", "replace")
    tt = TTensor(index, name, shape, TYPE_NAMES.get(code, f"type{code}"))
    q = t.Quantization()
    if q is not None and q.ScaleLength():
        tt.scale = np.asarray(q.ScaleAsNumpy(), np.float32).copy()
        zp = q.ZeroPointAsNumpy() if q.ZeroPointLength() else np.zeros(tt.scale.size)
        tt.zero_point = np.asarray(zp, np.int64).copy()
        tt.axis = int(q.QuantizedDimension())
    b = t.Buffer()
    if b > 0:
        if b >= model.BuffersLength():
            raise LenetcError(f"tensor '{name}' points at buffer {b}, the file has {model.BuffersLength()}")
        bb = model.Buffers(b)
        raw = None
        if bb.DataLength():
            raw = bb.DataAsNumpy().tobytes()
        elif bb.Offset() > 1:
            start, size = int(bb.Offset()), int(bb.Size())
            if start + size > len(buf):
                raise LenetcError(f"tensor '{name}': its data lies outside the file")
            raw = buf[start : start + size]
        if raw is not None:
            if code not in TENSOR_TYPES:
                raise LenetcError(f"tensor '{name}' has type {tt.dtype}, which lenetc does not read")
            dt = np.dtype(TENSOR_TYPES[code]).newbyteorder("<")
            n = int(np.prod(shape)) if shape else 1
            if len(raw) != n * dt.itemsize:
                raise LenetcError(f"tensor '{name}': {len(raw)} bytes of data for shape {list(shape)} of {tt.dtype}")
            tt.data = np.frombuffer(raw, dt).astype(dt.newbyteorder("=")).reshape(shape)
    return tt


def read_tflite(path: str | Path) -> TGraph:
    """Parse the ``.tflite`` file at ``path`` (one-line :class:`LenetcError` when it cannot)."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise LenetcError(f"cannot read '{path}': {exc.strerror or exc}") from None
    if size > MAX_FILE_BYTES:
        raise LenetcError(f"'{path}' is {size} bytes; lenetc reads .tflite files up to {MAX_FILE_BYTES} bytes")
    buf = path.read_bytes()
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise LenetcError(f"'{path}' is not a TensorFlow Lite file (no 'TFL3' identifier)")
    try:
        import tflite
    except ImportError:
        raise LenetcError("reading .tflite files needs the 'tflite' package: pip install 'lenetc[tflite]'") from None
    try:
        return _read(tflite, buf)
    except LenetcError as exc:
        raise LenetcError(f"'{path}': {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a corrupt flatbuffer fails anywhere in the generated accessors
        raise LenetcError(f"'{path}' is a malformed TensorFlow Lite file ({type(exc).__name__})") from None


def _read(tflite, buf: bytes) -> TGraph:
    model = tflite.Model.GetRootAsModel(buf, 0)
    if model.SubgraphsLength() < 1:
        raise LenetcError("the file has no subgraph")
    g = model.Subgraphs(0)
    names = _op_names()
    tensors = [_tensor(model, buf, g.Tensors(i), i) for i in range(g.TensorsLength())]
    ops = []
    for i in range(g.OperatorsLength()):
        op = g.Operators(i)
        if op.OpcodeIndex() >= model.OperatorCodesLength():
            raise LenetcError(f"operator {i} has opcode index {op.OpcodeIndex()} out of range")
        oc = model.OperatorCodes(op.OpcodeIndex())
        code = max(int(oc.BuiltinCode()), int(oc.DeprecatedBuiltinCode()))
        name = names.get(code, f"builtin {code}")
        if name == "CUSTOM":
            name = f"CUSTOM ({(oc.CustomCode() or b'').decode('utf-8', 'replace')})"
        ins = [int(v) for v in op.InputsAsNumpy()] if op.InputsLength() else []
        outs = [int(v) for v in op.OutputsAsNumpy()] if op.OutputsLength() else []
        for t in ins + outs:
            if t >= len(tensors) or t < -1:
                raise LenetcError(f"operator {i} ({name}) refers to tensor {t}; the graph has {len(tensors)}")
        ops.append(TOp(i, name, ins, outs, _options(op, name)))
    gin = [int(v) for v in g.InputsAsNumpy()] if g.InputsLength() else []
    gout = [int(v) for v in g.OutputsAsNumpy()] if g.OutputsLength() else []
    desc = (model.Description() or b"").decode("utf-8", "replace")
    return TGraph(tensors, ops, gin, gout, desc)
