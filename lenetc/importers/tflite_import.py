"""TensorFlow Lite import: a ``.tflite`` file (float32, or full-integer int8 with int8 or float
input and output) as a lenetc :class:`Network`, and for int8 files the integer facts of every
layer (:class:`QFacts`) from which :mod:`lenetc.importers.tflite_quantized` builds the
quantized network with the file's own scales.

TFLite is channels-last (N, H, W, C); lenetc keeps (C, H, W): convolution weights (O, KH, KW, I)
become (O, I, KH, KW), depthwise (1, KH, KW, C M) become (C M, 1, KH, KW) with ``groups = C``,
and a flatten (Keras' SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE, or a plain RESHAPE, or the
implicit one of FULLY_CONNECTED) is an H,W,C-order Flatten layer. An explicit PAD goes into
the padding of the convolution that reads it (TFLite pads int8 with the zero point, as lenetc's
padded convolution does). The graph must be one chain.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..activations import Act
from ..errors import LenetcError
from ..kinds.given import GivenLinear, GivenTensor
from ..kinds.softmax import Softmax
from ..layers import Conv2D, Dense, Pool2D
from ..names import safe_name
from ..network import Preprocess
from .builder import ChainBuilder
from .tflite_read import TGraph, TOp, TTensor, read_tflite

#: TFLite ActivationFunctionType codes.
FUSED_ACTS = {0: None, 1: "relu", 3: "relu6"}
SHAPE_OPS = ("SHAPE", "STRIDED_SLICE", "PACK")


@dataclass
class QFacts:
    """The integer facts of one lenetc layer, straight from the file (int8 files only)."""

    op: str
    in_t: TTensor
    out_t: TTensor
    act: str | None = None  # fused relu / relu6 clamp
    per_channel: bool = True
    post: list[tuple[str, TTensor]] = field(default_factory=list)  # (TANH|LOGISTIC, its output tensor)
    beta: float = 1.0
    given: GivenLinear | None = None  # a linear layer's integers and their quantization, as the file states


@dataclass
class Imported:
    """What the walk produced: the float network and, for int8 files, facts per layer name."""

    builder: ChainBuilder
    int8: bool
    facts: dict[str, QFacts]
    input_t: TTensor
    output_t: TTensor
    float_io: bool
    description: str = ""


def given_tensor(t: TTensor) -> GivenTensor:
    """An activation tensor's quantization as issue 22's :class:`GivenTensor` (validated on use)."""
    if not t.quantized:
        raise LenetcError(f"tensor '{t.name}' is {t.dtype} without quantization; lenetc needs int8 activations")
    return GivenTensor(t.name, t.scale, t.zero_point, t.dtype)


def _nhwc(t: TTensor) -> tuple[int, ...]:
    if len(t.shape) == 4 and t.shape[0] == 1:
        return (t.shape[3], t.shape[1], t.shape[2])
    if len(t.shape) == 2 and t.shape[0] == 1:
        return (t.shape[1],)
    raise LenetcError(f"tensor '{t.name}' has shape {list(t.shape)}; lenetc takes (1, H, W, C) or (1, N)")


def _same_pad(size: int, k: int, s: int) -> tuple[int, int]:
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


class _Walker:
    def __init__(self, g: TGraph, name: str):
        self.g = g
        self.t = g.tensors
        if len(g.inputs) != 1 or len(g.outputs) != 1:
            raise LenetcError(
                f"the graph has {len(g.inputs)} inputs and {len(g.outputs)} outputs; lenetc takes one of each"[:200]
            )
        self.cur = g.inputs[0]
        self.input_t = self.t[self.cur]
        self.float_io = False
        self.pending_pad: tuple[int, int, int, int] | None = None
        self.facts: dict[str, QFacts] = {}
        self.int8 = False
        first = self.input_t
        if g.ops and g.ops[0].name == "QUANTIZE" and g.ops[0].inputs[:1] == [self.cur]:
            first = self.t[g.ops[0].outputs[0]]
        self.int8 = first.dtype == "int8"
        if first.dtype not in ("float32", "int8"):
            raise LenetcError(f"input tensor '{first.name}' is {first.dtype}; lenetc takes float32 or int8 files")
        if self.int8:  # every stated scale and zero point, before any is used (issue 22's checks)
            for t in g.tensors:
                if t.quantized and t.dtype in ("int8", "uint8", "int32"):
                    given = GivenTensor(t.name, t.scale, t.zero_point, t.dtype)
                    given.zero_points(given.scales().size)
        if len(self.input_t.shape) != 4:
            shape = list(self.input_t.shape)
            raise LenetcError(f"input tensor '{self.input_t.name}' has shape {shape}; lenetc takes (1, H, W, C) images")
        self.b = ChainBuilder(name, _nhwc(self.input_t))
        self.last_layer = None

    # ---- helpers -------------------------------------------------------------------------------
    def data_in(self, op: TOp) -> TTensor:
        if not op.inputs or op.inputs[0] != self.cur:
            raise LenetcError(f"operator {op.index} ({op.name}) does not read the previous operator's output: "
                              "lenetc imports a single chain")  # fmt: skip
        return self.t[op.inputs[0]]

    def const(self, op: TOp, i: int, what: str, optional: bool = False) -> TTensor | None:
        idx = op.inputs[i] if i < len(op.inputs) else -1
        if idx < 0:
            if optional:
                return None
            raise LenetcError(f"operator {op.index} ({op.name}) has no {what}")
        t = self.t[idx]
        if t.data is None:
            raise LenetcError(f"operator {op.index} ({op.name}): {what} '{t.name}' is not a constant")
        return t

    def real(self, t: TTensor, axis: int = 0) -> np.ndarray:
        """A constant tensor's real values (dequantized per channel when quantized)."""
        d = t.data.astype(np.float64)
        if not t.quantized or t.dtype == "float32":
            return d
        shape = [1] * d.ndim
        if t.scale.size > 1:
            shape[t.axis] = -1
        s = t.scale.astype(np.float64).reshape(shape)
        z = t.zero_point.astype(np.float64).reshape(shape)
        return (d - z) * s

    def advance(self, op: TOp) -> None:
        self.cur = op.outputs[0]

    def act(self, op: TOp) -> str | None:
        code = op.options.get("FusedActivationFunction", 0)
        if code not in FUSED_ACTS:
            raise LenetcError(f"operator {op.index} ({op.name}): fused activation {code} is not supported")
        return FUSED_ACTS[code]

    def add_act(self, fn: str | None, raw: str) -> None:
        if fn == "relu":
            self.b.add_act(Act("relu"), raw)
        elif fn == "relu6":
            self.b.add_act(Act("clip", lo=0.0, hi=6.0), raw)

    # ---- operators -----------------------------------------------------------------------------
    def run(self) -> Imported:
        ops = self.g.ops
        for i, op in enumerate(ops):
            handler = getattr(self, f"op_{op.name}", None)
            if handler is None:
                raise LenetcError(f"operator {op.index} ({op.name}) is not supported by lenetc's TFLite importer")
            handler(op, i)
        if self.pending_pad is not None:
            raise LenetcError("a PAD is not followed by a convolution")
        out_t = self.t[self.cur]
        if self.cur != self.g.outputs[0]:
            raise LenetcError("the graph's output is not the end of its chain of operators")
        return Imported(self.b, self.int8, self.facts, self.input_t, out_t, self.float_io, self.g.description)

    def op_QUANTIZE(self, op: TOp, i: int) -> None:
        if i != 0:
            raise LenetcError(f"operator {op.index} (QUANTIZE) inside the graph; lenetc takes it only at the input")
        self.data_in(op)
        self.float_io = True
        self.advance(op)

    def op_DEQUANTIZE(self, op: TOp, i: int) -> None:
        if i != len(self.g.ops) - 1:
            raise LenetcError(f"operator {op.index} (DEQUANTIZE) inside the graph; lenetc takes it only at the output")
        self.data_in(op)
        self.float_io = True
        self.advance(op)

    def op_PAD(self, op: TOp, i: int) -> None:
        self.data_in(op)
        p = self.const(op, 1, "paddings").data.astype(np.int64)
        if p.shape != (4, 2) or p[0].any() or p[3].any() or (p < 0).any():
            raise LenetcError(f"operator {op.index} (PAD): only non-negative H and W padding is supported")
        if self.pending_pad is not None:
            raise LenetcError(f"operator {op.index} (PAD) follows another PAD")
        self.pending_pad = (int(p[1, 0]), int(p[2, 0]), int(p[1, 1]), int(p[2, 1]))
        self.pad_in = self.t[op.inputs[0]]
        self.advance(op)

    def _geometry(self, op: TOp, kernel: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
        o = op.options
        if o.get("DilationWFactor", 1) != 1 or o.get("DilationHFactor", 1) != 1:
            raise LenetcError(f"operator {op.index} ({op.name}): dilated convolution is not supported")
        stride = (int(o.get("StrideH", 1)), int(o.get("StrideW", 1)))
        _, h, w = self.b.shape
        if o.get("Padding", 0) == 0:  # SAME
            (pt, pb), (pl, pr) = _same_pad(h, kernel[0], stride[0]), _same_pad(w, kernel[1], stride[1])
        else:
            pt = pl = pb = pr = 0
        return stride, (pt, pl, pb, pr)

    def _conv(self, op: TOp, depthwise: bool) -> None:
        in_t = self.data_in(op)
        if self.pending_pad is not None:
            in_t = self.pad_in
        if len(self.b.shape) != 3:
            raise LenetcError(f"operator {op.index} ({op.name}) reads a vector")
        w_t = self.const(op, 1, "filter")
        b_t = self.const(op, 2, "bias", optional=True)
        if w_t.data.ndim != 4:
            raise LenetcError(f"operator {op.index} ({op.name}): filter shape {list(w_t.shape)} is not 4-D")
        c = self.b.shape[0]
        if depthwise:
            _, kh, kw, oc = w_t.shape
            if oc % c:
                raise LenetcError(f"operator {op.index} (DEPTHWISE_CONV_2D): {oc} outputs for {c} input channels")
            perm, groups = (3, 0, 1, 2), c
        else:
            oc, kh, kw, ic = w_t.shape
            if ic != c:
                raise LenetcError(f"operator {op.index} (CONV_2D): filter has {ic} input channels, input has {c}")
            perm, groups = (0, 3, 1, 2), 1
        stride, pad = self._geometry(op, (kh, kw))
        if self.pending_pad is not None:
            pad = tuple(a + b for a, b in zip(pad, self.pending_pad))
            self.pending_pad = None
        wq_axis = 3 if depthwise else 0
        weight = self.real(w_t).transpose(perm)
        bias = self.real(b_t) if b_t is not None else np.zeros(oc)
        if self.int8 and b_t is not None:
            bias = b_t.data.astype(np.float64) * self._bias_scale(in_t, w_t, oc)
        layer = Conv2D(self.b.unique(f"conv{op.index}"), out_channels=int(oc), kernel=(int(kh), int(kw)),
                       stride=stride, padding=pad, groups=groups)  # fmt: skip
        self.b.add(layer, {"weight": weight, "bias": bias})
        act = self.act(op)
        self.add_act(act, f"act{op.index}")
        if self.int8:
            self._linear_facts(layer.name, op, in_t, w_t, b_t, oc, act, wq_axis, perm)
        self.advance(op)

    def _bias_scale(self, in_t: TTensor, w_t: TTensor, oc: int) -> np.ndarray:
        s_w = np.broadcast_to(w_t.scale.astype(np.float64), (oc,)) if w_t.quantized else np.ones(oc)
        return float(in_t.scale[0]) * s_w

    def _linear_facts(self, name, op, in_t, w_t, b_t, oc, act, axis, perm) -> None:
        if not (w_t.quantized and w_t.dtype == "int8"):
            raise LenetcError(f"operator {op.index} ({op.name}): an int8 graph needs int8 weights, got {w_t.dtype}")
        if (w_t.zero_point != 0).any():
            raise LenetcError(f"operator {op.index} ({op.name}): weights with a nonzero zero point are not supported")
        if w_t.scale.size not in (1, oc) or (w_t.scale.size > 1 and w_t.axis != axis):
            raise LenetcError(f"operator {op.index} ({op.name}): weight scales are not per output channel")
        if b_t is not None and b_t.dtype != "int32":
            raise LenetcError(f"operator {op.index} ({op.name}): int8 graphs need int32 biases, got {b_t.dtype}")
        out_t = self.t[op.outputs[0]]
        # issue 22's statement of a file's integer layer: validated where the quantized network is built
        given = GivenLinear(
            weight=np.ascontiguousarray(w_t.data.transpose(perm)),
            weight_q=GivenTensor(w_t.name, w_t.scale, w_t.zero_point, w_t.dtype, axis=0),
            out_q=given_tensor(out_t),
            bias=b_t.data if b_t is not None else None,
            bias_q=GivenTensor(b_t.name, b_t.scale, b_t.zero_point, b_t.dtype) if b_t is not None and b_t.quantized
            else (GivenTensor(b_t.name, 0.0, 0, b_t.dtype) if b_t is not None else None),
        )  # fmt: skip
        self.facts[name] = QFacts(op.name, in_t, out_t, act=act, per_channel=w_t.scale.size > 1, given=given)
        self.last_layer = name

    def op_CONV_2D(self, op: TOp, i: int) -> None:
        self._conv(op, depthwise=False)

    def op_DEPTHWISE_CONV_2D(self, op: TOp, i: int) -> None:
        self._conv(op, depthwise=True)

    def op_FULLY_CONNECTED(self, op: TOp, i: int) -> None:
        in_t = self.data_in(op)
        if op.options.get("KeepNumDims", False) or op.options.get("WeightsFormat", 0) != 0:
            raise LenetcError(f"operator {op.index} (FULLY_CONNECTED): keep_num_dims / shuffled weights not supported")
        w_t = self.const(op, 1, "weights")
        b_t = self.const(op, 2, "bias", optional=True)
        if len(self.b.shape) == 3:
            self.b.flatten(f"flatten{op.index}", "HWC")
        n = self.b.shape[0]
        if w_t.data.ndim != 2 or w_t.shape[1] != n:
            raise LenetcError(f"operator {op.index} (FULLY_CONNECTED): weights {list(w_t.shape)} for {n} inputs")
        oc = int(w_t.shape[0])
        weight = self.real(w_t)
        bias = self.real(b_t) if b_t is not None else np.zeros(oc)
        if self.int8 and b_t is not None:
            bias = b_t.data.astype(np.float64) * self._bias_scale(in_t, w_t, oc)
        layer = Dense(self.b.unique(f"fc{op.index}"), units=oc)
        self.b.add(layer, {"weight": weight, "bias": bias})
        act = self.act(op)
        self.add_act(act, f"act{op.index}")
        if self.int8:
            self._linear_facts(layer.name, op, in_t, w_t, b_t, oc, act, 0, (0, 1))
        self.advance(op)

    def _pool(self, op: TOp, mode: str) -> None:
        in_t = self.data_in(op)
        if len(self.b.shape) != 3:
            raise LenetcError(f"operator {op.index} ({op.name}) reads a vector")
        o = op.options
        kernel = (int(o.get("FilterHeight", 1)), int(o.get("FilterWidth", 1)))
        stride, pad = self._geometry(op, kernel)
        if self.act(op) is not None:
            raise LenetcError(f"operator {op.index} ({op.name}): a fused activation on pooling is not supported")
        layer = Pool2D(self.b.unique(f"pool{op.index}"), mode=mode, kernel=kernel, stride=stride, padding=pad)
        self.b.add(layer)
        out_t = self.t[op.outputs[0]]
        if self.int8:
            if not out_t.quantized or (out_t.scale[0], out_t.zero_point[0]) != (in_t.scale[0], in_t.zero_point[0]):
                raise LenetcError(f"operator {op.index} ({op.name}): input and output quantization differ")
            self.facts[layer.name] = QFacts(op.name, in_t, out_t)
        self.last_layer = layer.name
        self.advance(op)

    def op_MAX_POOL_2D(self, op: TOp, i: int) -> None:
        self._pool(op, "max")

    def op_AVERAGE_POOL_2D(self, op: TOp, i: int) -> None:
        self._pool(op, "avg")

    def _elementwise(self, op: TOp, fn: str) -> None:
        in_t = self.data_in(op)
        before = len(self.b.layers)
        act = {"TANH": Act("tanh"), "LOGISTIC": Act("sigmoid"), "RELU": Act("relu"),
               "RELU6": Act("clip", lo=0.0, hi=6.0)}[fn]  # fmt: skip
        if self.int8 and fn in ("RELU", "RELU6"):
            raise LenetcError(f"operator {op.index} ({fn}) as a separate int8 operator is not supported")
        self.b.add_act(act, f"act{op.index}")
        if self.int8:
            out_t = self.t[op.outputs[0]]
            if len(self.b.layers) == before:  # fused into the layer before
                facts = self.facts[self.b.layers[-1].name]
                facts.post.append((fn, out_t))
            else:
                self.facts[self.b.layers[-1].name] = QFacts(fn, in_t, out_t)
        self.advance(op)

    def op_TANH(self, op: TOp, i: int) -> None:
        self._elementwise(op, "TANH")

    def op_LOGISTIC(self, op: TOp, i: int) -> None:
        self._elementwise(op, "LOGISTIC")

    def op_RELU(self, op: TOp, i: int) -> None:
        self._elementwise(op, "RELU")

    def op_RELU6(self, op: TOp, i: int) -> None:
        self._elementwise(op, "RELU6")

    def op_SOFTMAX(self, op: TOp, i: int) -> None:
        in_t = self.data_in(op)
        beta = float(op.options.get("Beta", 1.0))
        if len(self.b.shape) != 1:
            raise LenetcError(f"operator {op.index} (SOFTMAX) over a {len(self.b.shape)}-D tensor is not supported")
        if not self.int8 and beta != 1.0:
            raise LenetcError(f"operator {op.index} (SOFTMAX): beta {beta} is not supported in float32 files")
        layer = Softmax(self.b.unique(f"softmax{op.index}"))
        self.b.add(layer)
        if self.int8:
            self.facts[layer.name] = QFacts("SOFTMAX", in_t, self.t[op.outputs[0]], beta=beta)
        self.advance(op)

    def op_SHAPE(self, op: TOp, i: int) -> None:
        # Keras' Flatten computes the new shape from the tensor's shape; the RESHAPE output's
        # static shape says the same, so the shape arithmetic itself is not followed.
        if op.inputs[:1] != [self.cur]:
            raise LenetcError(f"operator {op.index} (SHAPE) of a tensor outside the chain")

    def op_STRIDED_SLICE(self, op: TOp, i: int) -> None:
        if self.cur in op.inputs:
            raise LenetcError(f"operator {op.index} (STRIDED_SLICE) of the data tensor is not supported")

    op_PACK = op_STRIDED_SLICE

    def op_RESHAPE(self, op: TOp, i: int) -> None:
        self.data_in(op)
        out = self.t[op.outputs[0]]
        target = _nhwc(out)
        if math.prod(target) != math.prod(self.b.shape):
            raise LenetcError(f"operator {op.index} (RESHAPE) to {list(out.shape)} changes the element count")
        if target != tuple(self.b.shape):
            if len(target) != 1:
                raise LenetcError(f"operator {op.index} (RESHAPE) to {list(out.shape)} is not a flatten")
            self.b.flatten(f"flatten{op.index}", "HWC")
        self.advance(op)


def import_tflite(path: str | Path) -> Imported:
    """Walk the file at ``path`` into a float chain and, for int8 files, the facts per layer."""
    g = read_tflite(path)
    name = safe_name(Path(path).stem, "tflite_model")
    try:
        return _Walker(g, name).run()
    except LenetcError as exc:
        raise LenetcError(f"'{path}': {exc}") from None


_PREPROCESS = re.compile(r"lenetc-preprocess: scale=(\S+) offset=(\S+) pad=([0-9]+)")


def stated_preprocess(description: str) -> Preprocess | None:
    """The MNIST preprocessing lenetc's export wrote into the file's description, if any."""
    m = _PREPROCESS.search(description)
    if m is None:
        return None
    try:
        scale, offset = float(m.group(1)), float(m.group(2))
    except ValueError:
        return None
    return Preprocess(scale, offset, int(m.group(3)), source="the file's description (a lenetc export)")
