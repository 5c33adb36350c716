"""2-D convolution (``conv2d``): stride, padding, groups, LeNet-5's sparse connection table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..activations import Act, act_grad, act_onnx, apply_act
from ..errors import LenetcError
from ..ir import kernel_template
from ..variants import Scratch, Variant
from .base import (
    Kind,
    Layer,
    Node,
    Params,
    QuantStep,
    Shape,
    act_suffix,
    as_int,
    at_least,
    checked_geometry,
    chw,
    init_weight_bias,
    pair,
    param,
    quad,
)
from .dense import lower_dense_float, lower_dense_int8
from .given import GivenStep
from .int8_linear import (
    QLinear,
    finish,
    linear_from_scales,
    linear_qdq,
    pad_cols,
    pad_to,
    qdoc,
    quantize_linear,
    requant_ctx,
)
from .shared_ops import emit_pad
from .windows import crop, pad, windows


@dataclass
class Conv2D(Layer):
    """2-D convolution. With ``sparse`` the parameter ``<name>.table`` (out, in) uint8
    says which input maps each output map reads (LeNet-5's C3); weights keep the dense
    (out, in, kh, kw) shape and unconnected taps are never computed."""

    out_channels: int = 1
    kernel: tuple[int, int] = (5, 5)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    groups: int = 1
    sparse: bool = False
    act: Act | None = None
    kind = "conv2d"

    def __post_init__(self) -> None:
        def normalise() -> None:
            self.kernel, self.stride = pair(self.kernel), pair(self.stride, "stride")
            self.padding = quad(self.padding)
            self.out_channels, self.groups = as_int(self.out_channels, "out_channels"), as_int(self.groups, "groups")

        checked_geometry(self, normalise)
        at_least(self, 1, out_channels=self.out_channels, kernel=self.kernel, stride=self.stride, groups=self.groups)
        at_least(self, 0, padding=self.padding)

    def output_shape(self, in_shape: Shape) -> Shape:
        c, h, w = chw(self, in_shape)
        if c % self.groups or self.out_channels % self.groups:
            raise LenetcError(
                f"layer '{self.name}': {c} input and {self.out_channels} output channels "
                f"are not divisible by groups={self.groups}"
            )
        (kh, kw), (sh, sw), (pt, pl, pb, pr) = self.kernel, self.stride, self.padding
        oh, ow = (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1
        if oh < 1 or ow < 1:
            raise LenetcError(f"layer '{self.name}': kernel {kh}x{kw} larger than input {h}x{w}")
        return (self.out_channels, oh, ow)

    def param_shapes(self, in_shape: Shape) -> dict[str, Shape]:
        c = in_shape[0]
        shapes = {"weight": (self.out_channels, c // self.groups, *self.kernel), "bias": (self.out_channels,)}
        if self.sparse:
            shapes["table"] = (self.out_channels, c)
        return shapes

    def links(self, in_shape: Shape, params: Params) -> int:
        """How many (output map, input map) pairs are connected."""
        if self.sparse:
            return int(np.count_nonzero(params[f"{self.name}.table"]))
        return self.out_channels * (in_shape[0] // self.groups)

    def macs(self, in_shape, params):
        _, oh, ow = self.output_shape(in_shape)
        return self.links(in_shape, params) * self.kernel[0] * self.kernel[1] * oh * ow

    def trainable_params(self, in_shape, params):
        return self.links(in_shape, params) * self.kernel[0] * self.kernel[1] + self.out_channels

    def connections(self, in_shape, params):
        return self.macs(in_shape, params) + int(np.prod(self.output_shape(in_shape)))

    def describe(self, in_shape):
        kh, kw = self.kernel
        extra = " sparse" if self.sparse else ""
        extra += f" stride {self.stride[0]}" if self.stride != (1, 1) else ""
        extra += f" pad {list(self.padding)}" if any(self.padding) else ""
        extra += f" groups {self.groups}" if self.groups != 1 else ""
        return f"conv {kh}x{kw}, {self.out_channels} maps{extra}{act_suffix(self.act)}"

    def is_whole_window(self, in_shape: Shape) -> bool:
        """True when the window covers the whole input: a dense layer over the flattened input."""
        return not self.sparse and self.groups == 1 and not any(self.padding) and self.kernel == tuple(in_shape[1:])


def dense_weight(layer: Conv2D, params: Params, dtype=np.float64) -> np.ndarray:
    """(out, in/groups, kh, kw) weights with the unconnected taps of a sparse table set to 0."""
    weight = param(params, layer, "weight", dtype)
    if layer.sparse:
        weight = weight * param(params, layer, "table", dtype)[:, :, None, None]
    return weight


# ---- float64 reference ---------------------------------------------------------------------


def forward(layer: Conv2D, x: np.ndarray, p: Params) -> np.ndarray:
    weight = dense_weight(layer, p)
    _, oh, ow = layer.output_shape(x.shape[1:])
    win = windows(pad(x, layer.padding), layer.kernel, layer.stride, (oh, ow))
    g, cin = layer.groups, x.shape[1] // layer.groups
    gout = layer.out_channels // g
    parts = [
        np.einsum(
            "nchwij,ocij->nohw", win[:, k * cin : (k + 1) * cin], weight[k * gout : (k + 1) * gout], optimize=True
        )
        for k in range(g)
    ]
    y = np.concatenate(parts, axis=1) + param(p, layer, "bias")[None, :, None, None]
    return apply_act(layer.act, y)


# ---- training ------------------------------------------------------------------------------


def train_forward(layer: Conv2D, x: np.ndarray, params: Params):
    dt = x.dtype
    weight = dense_weight(layer, params, dt)
    bias = param(params, layer, "bias", dt)
    n = x.shape[0]
    _, oh, ow = layer.output_shape(x.shape[1:])
    # im2col in channels-last order: rows are output pixels (n, oh, ow), columns (kh, kw, c).
    # Gathering from an NHWC copy reads contiguous channels, several times faster than NCHW.
    xp = pad(x, layer.padding)
    xh = np.ascontiguousarray(xp.transpose(0, 2, 3, 1))
    win = sliding_window_view(xh, layer.kernel, axis=(1, 2))[:, :: layer.stride[0], :: layer.stride[1]]
    win = win[:, :oh, :ow]  # (n, oh, ow, c, kh, kw)
    g, cin = layer.groups, x.shape[1] // layer.groups
    gout = layer.out_channels // g
    w_hwc = weight.transpose(0, 2, 3, 1)  # (o, kh, kw, cin) to match the columns
    cols, outs = [], []
    for k in range(g):
        col = win[:, :, :, k * cin : (k + 1) * cin].transpose(0, 1, 2, 4, 5, 3).reshape(n * oh * ow, -1)
        cols.append(col)
        outs.append(col @ w_hwc[k * gout : (k + 1) * gout].reshape(gout, -1).T)
    z = np.concatenate(outs, axis=1) if g > 1 else outs[0]
    z = z.reshape(n, oh, ow, layer.out_channels).transpose(0, 3, 1, 2) + bias[None, :, None, None]
    y = apply_act(layer.act, z)
    return y, {"cols": cols, "z": z, "y": y, "x_shape": x.shape, "xp_hw": xp.shape[2:], "w_hwc": w_hwc}


def backward(layer: Conv2D, dy, cache, params, need_dx=True):
    dz = act_grad(layer.act, dy, cache["z"], cache["y"])
    n, c, h, w = cache["x_shape"]
    _, o, oh, ow = dz.shape
    g = layer.groups
    cin, gout = c // g, o // g
    kh, kw = layer.kernel
    sh, sw = layer.stride
    dz2 = dz.transpose(0, 2, 3, 1).reshape(n * oh * ow, o)
    w_hwc = cache["w_hwc"]
    dws = []
    dxp = np.zeros((n, *cache["xp_hw"], c), dtype=dz.dtype) if need_dx else None
    for k in range(g):
        d = dz2[:, k * gout : (k + 1) * gout]
        dws.append((d.T @ cache["cols"][k]).reshape(gout, kh, kw, cin).transpose(0, 3, 1, 2))
        if dxp is not None:
            dcol = (d @ w_hwc[k * gout : (k + 1) * gout].reshape(gout, -1)).reshape(n, oh, ow, kh, kw, cin)
            # col2im: add each kernel tap's contribution back at its input position (NHWC).
            for i in range(kh):
                for j in range(kw):
                    rows = slice(i, i + sh * (oh - 1) + 1, sh)
                    cols = slice(j, j + sw * (ow - 1) + 1, sw)
                    dxp[:, rows, cols, k * cin : (k + 1) * cin] += dcol[:, :, :, i, j, :]
    dweight = np.concatenate(dws, axis=0) if g > 1 else dws[0]
    if layer.sparse:
        dweight = dweight * param(params, layer, "table", dweight.dtype)[:, :, None, None]
    grads = {"weight": np.ascontiguousarray(dweight), "bias": dz.sum(axis=(0, 2, 3))}
    if dxp is None:
        return None, grads
    return crop(dxp.transpose(0, 3, 1, 2), layer.padding, (h, w)), grads


# ---- int8 ------------------------------------------------------------------------------------


@dataclass
class QConv2D(QLinear):
    """An int8 convolution: ``weight`` (O, C/groups, KH, KW) int8 with the unconnected taps of a
    sparse table 0, one scale, bias and multiplier per output map."""


def quantize(step: QuantStep) -> QConv2D:
    layer: Conv2D = step.layer
    w = dense_weight(layer, step.params)
    return quantize_linear(QConv2D, step, w, step.params[f"{layer.name}.bias"], np.ones(w.shape[0], dtype=np.int64))


def from_scales(step: GivenStep) -> QConv2D:
    """The file's integer weights (O, C/groups, KH, KW) and scales; a sparse layer's
    unconnected taps must be 0 in the file (they are how the importer found the table)."""
    layer: Conv2D = step.layer
    shape = layer.param_shapes(step.in_shape)["weight"]
    q = linear_from_scales(QConv2D, step, shape, np.ones(shape[0], dtype=np.int64))
    if layer.sparse:
        table = step.params[f"{layer.name}.table"].astype(bool)
        if np.any(q.weight[~table]):
            raise LenetcError(f"layer '{layer.name}': nonzero integer weights on taps its connection table omits")
    return q


def forward_int8(q: QConv2D, x: np.ndarray) -> np.ndarray:
    layer: Conv2D = q.layer
    pt, pl, pb, pr = layer.padding
    xi = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=q.in_q.zero_point)
    _, oh, ow = q.out_shape
    win = windows(xi, layer.kernel, layer.stride, (oh, ow))
    w = q.weight.astype(np.int64)
    g = layer.groups
    cin, gout = x.shape[1] // g, layer.out_channels // g
    parts = [
        np.einsum("nchwij,ocij->nohw", win[:, k * cin : (k + 1) * cin], w[k * gout : (k + 1) * gout]) for k in range(g)
    ]
    acc = np.concatenate(parts, axis=1) + q.bias.astype(np.int64)[None, :, None, None]
    return finish(q, acc, 1)


# ---- lowering ----------------------------------------------------------------------------------
#
# A convolution lowers to the best kernel variant of the registry (lenetc/variants.py) for the
# call below; this module registers the portable ones (``VARIANTS``), the CPU families add
# theirs (lenetc/families/<family>/). The im2col helpers are shared with the families' int8
# variants, which differ only in segment padding and weight packing.


@dataclass
class ConvCall:
    """One convolution as its kernel variants see it, after the kind's own padding op:
    ``c, h, w`` the padded input, ``oc, oh, ow`` the conv output, ``epilogue`` the fused
    pooling's template context (None: whole map), ``fn`` the C function name. float32 carries
    ``weight`` (oc, ic/g, kh, kw) and ``bias``; int8 ``q`` and the im2col row layout: ``nseg``
    segments (one per input map for a sparse table, else one per group) of ``seg`` taps."""

    lw: Any
    node: Node
    layer: Conv2D
    c: int
    h: int
    w: int
    oc: int
    oh: int
    ow: int
    fn: str
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    q: QConv2D | None = None

    @property
    def epilogue(self) -> dict | None:
        return self.node.epilogue_ctx

    @property
    def kh(self) -> int:
        return self.layer.kernel[0]

    @property
    def kw(self) -> int:
        return self.layer.kernel[1]

    @property
    def icg(self) -> int:
        return self.c // self.layer.groups

    @property
    def seg(self) -> int:
        return self.kh * self.kw if self.layer.sparse else self.icg * self.kh * self.kw

    @property
    def nseg(self) -> int:
        return self.c if self.layer.sparse else self.layer.groups

    def geometry(self) -> dict:
        """The template context every convolution kernel reads."""
        layer = self.layer
        return {"ic": self.c, "ih": self.h, "iw": self.w, "oc": self.oc, "oh": self.oh, "ow": self.ow,
                "kh": self.kh, "kw": self.kw, "sh": layer.stride[0], "sw": layer.stride[1]}  # fmt: skip


def _sparse_maps(lw, layer: Conv2D) -> tuple[list[np.ndarray], np.ndarray]:
    table = lw.params[f"{layer.name}.table"].astype(bool)
    src_maps = [np.flatnonzero(row) for row in table]
    starts = np.concatenate([[0], np.cumsum([len(s) for s in src_maps])])
    return src_maps, starts


def pack_float32(lw, call: ConvCall) -> dict:
    """The portable float kernel's context: biases, then weights (connected taps only for a
    sparse table, with its start/source index arrays)."""
    layer, fn, weight, c = call.layer, call.fn, call.weight, call.c
    ctx = {**call.geometry(), "act": layer.act, "groups": layer.groups, "sparse": layer.sparse,
           "epilogue": call.epilogue, "bias": lw.const(fn, "bias", call.bias)}  # fmt: skip
    if layer.sparse:
        src_maps, starts = _sparse_maps(lw, layer)
        packed = np.concatenate([weight[o, s] for o, s in enumerate(src_maps)])  # (links, kh, kw)
        table_size = len(src_maps) * c
        ctx["weight"] = lw.const(
            fn, "weight", packed, comment=f"connected taps only: {len(packed)} of {table_size} maps"
        )
        ctx["start"] = lw.const(fn, "start", starts.astype(np.int32), ctype="int")
        ctx["src"] = lw.const(fn, "src", np.concatenate(src_maps).astype(np.int32), ctype="int")
    else:
        ctx["weight"] = lw.const(fn, "weight", weight, comment=f"(out, in, kh, kw) = {weight.shape}")
    return ctx


def float32_scratch(call: ConvCall, mode: str) -> Scratch | None:
    """The fused float kernel keeps a band of ``kh`` conv rows of one map."""
    return ("float", call.epilogue["kh"] * call.ow) if mode == "fused" else None


def pack_im2col(lw, call: ConvCall, segp: int, repack=None, note: str = "") -> dict:
    """The int8 im2col kernels' context: requantization, then each output map's weight row
    (connected maps only for a sparse table) zero-padded to ``segp`` per segment, rearranged
    by ``repack`` (a family's packing, described by ``note``) where given."""
    q, layer, fn = call.q, call.layer, call.fn
    ctx = requant_ctx(lw, fn, q)
    ctx.update(**call.geometry(), groups=layer.groups, sparse=layer.sparse, icg=call.icg, seg=call.seg, segp=segp,
               nseg=call.nseg, epilogue=call.epilogue)  # fmt: skip
    if layer.sparse:
        src_maps, starts = _sparse_maps(lw, layer)
        packed = np.concatenate([q.weight[o, s].reshape(len(s), -1) for o, s in enumerate(src_maps)])
        comment = f"connected taps only: {len(packed)} of {len(src_maps) * call.c} maps, each zero-padded to {segp}"
        rows = pad_cols(packed, segp)
    else:
        comment = f"(out, in, kh, kw) = {q.weight.shape}, rows zero-padded to {segp}"
        rows = pad_cols(q.weight.reshape(call.oc, -1), segp)
    if repack is not None:
        rows, comment = repack(rows), f"{comment}, {note}"
    ctx["weight"] = lw.const(fn, "weight", rows, "int8_t", comment)
    if layer.sparse:
        ctx["start"] = lw.const(fn, "start", starts.astype(np.int16), "int16_t")
        ctx["src"] = lw.const(fn, "src", np.concatenate(src_maps).astype(np.int16), "int16_t")
    return ctx


def im2col_scratch(call: ConvCall, segp: int, rows: int, mode: str) -> Scratch:
    """Scratch of an im2col kernel keeping ``rows`` int16 rows of ``nseg * segp`` taps: then
    the band of ``kh`` conv rows of every map (``fused``), or one accumulator per output map
    (window modes: int8 for max, int32 for sums), or nothing more (``whole``)."""
    row_bytes = rows * 2 * call.nseg * segp
    e = call.epilogue
    if mode.startswith("window"):
        return ("unsigned char", row_bytes + call.oc * (1 if e["mode"] == "max" else 4))
    return ("unsigned char", row_bytes + (e["kh"] * call.oc * call.ow if mode == "fused" else 0))


def _prepare(lw, node: Node, src: int, zero, name: str, doc: str, **kw) -> tuple[int, ConvCall]:
    """Emit the padding op if any; the call on the padded input."""
    layer: Conv2D = node.layer
    c, h, w = node.in_shape
    (pt, pl, pb, pr) = layer.padding
    if any(layer.padding):
        src = emit_pad(lw, name, src, (c, h, w), layer.padding, zero, doc)
        h, w = h + pt + pb, w + pl + pr
    oc, oh, ow = node.out_shape
    return src, ConvCall(lw, node, layer, c, h, w, oc, oh, ow, lw.fn_name(name), **kw)


def _emit(lw, call: ConvCall, name: str, src: int, doc: str) -> int:
    variant = lw.choose(KIND_NAME, call)
    ctx = variant.pack(lw, call)
    doc = f"{doc}{variant.note(call)}"
    node, e = call.node, call.epilogue
    if e is not None:
        doc = f"{doc}, fused with {e['doc']}"
    out_shape = node.epilogue.out_shape if e is not None else node.out_shape
    return lw.emit_variant(variant, call, name, src, out_shape, ctx, fused=e is not None, doc=doc, fn=call.fn)


def lower_float32(lw, node: Node, src: int) -> int:
    layer: Conv2D = node.layer
    weight, bias = param(lw.params, layer, "weight", np.float32), param(lw.params, layer, "bias", np.float32)
    doc = layer.describe(node.in_shape)
    if layer.is_whole_window(node.in_shape):
        return lower_dense_float(lw, layer.name, weight.reshape(layer.out_channels, -1), bias, layer.act, src, doc)
    src, call = _prepare(lw, node, src, 0.0, layer.name, f"zero padding {list(layer.padding)}", weight=weight,
                         bias=bias)  # fmt: skip
    return _emit(lw, call, layer.name, src, doc)


def lower_int8(lw, node: Node, src: int) -> int:
    q = node.q
    layer: Conv2D = q.layer
    if layer.is_whole_window(q.in_shape):
        return lower_dense_int8(lw, q, q.weight, src, None)
    doc = f"padding {list(layer.padding)} with the zero point"
    src, call = _prepare(lw, node, src, q.in_q.zero_point, q.name, doc, q=q)
    return _emit(lw, call, q.name, src, qdoc(q))


def _window_modes(call: ConvCall) -> tuple[str, ...]:
    return ("whole", "fused", "window")


KIND_NAME = "conv2d"
VARIANTS = (
    Variant("conv2d/float32", KIND_NAME, "float32", kernel_template("conv2d/float32"), pack=pack_float32,
            scratch=float32_scratch),
    Variant("conv2d/int8", KIND_NAME, "int8", kernel_template("conv2d/int8"),
            pack=lambda lw, call: pack_im2col(lw, call, pad_to(call.seg)),
            scratch=lambda call, mode: im2col_scratch(call, pad_to(call.seg), 1, mode),
            modes=_window_modes),  # one template, both loop orders (op.mode)
)  # fmt: skip


# ---- initial weights ----------------------------------------------------------------------


def init_params(layer: Conv2D, in_shape: Shape, params: Params, rng) -> Params:
    """He/LeCun uniform over each output map's connected taps (a sparse table's only)."""
    fan_in = None
    if layer.sparse:
        fan_in = params[f"{layer.name}.table"].sum(axis=1) * layer.kernel[0] * layer.kernel[1]
    return init_weight_bias(layer, in_shape, params, rng, fan_in)


def fan_in(layer: Conv2D, in_shape: Shape, suffix: str, shape: Shape, params: Params) -> int:
    """Taps per output map: connected maps (mean over a sparse table) x kernel area."""
    table = params.get(f"{layer.name}.table")
    if table is not None:
        links = table.sum(axis=1).mean()
    else:
        links = shape[1] if suffix == "weight" else in_shape[0] // layer.groups
    return int(links * layer.kernel[0] * layer.kernel[1])


def fuses_epilogue(node: Node) -> bool:
    """A convolution computes the pooling after it from bands of its rows (not a whole-window
    one, which lowers to a dense layer)."""
    return not node.layer.is_whole_window(node.in_shape)


# ---- ONNX --------------------------------------------------------------------------------------


def to_onnx(g, layer: Conv2D, in_shape: Shape, p: Params, x: str) -> str:
    n = layer.name
    w = dense_weight(layer, p, np.float32)  # unconnected taps are zero
    pt, pl, pb, pr = layer.padding
    x = g.node("Conv", [x, g.const(f"{n}.weight", w), g.const(f"{n}.bias", p[f"{n}.bias"])], n,
               kernel_shape=list(layer.kernel), strides=list(layer.stride), pads=[pt, pl, pb, pr],
               group=layer.groups)  # fmt: skip
    return act_onnx(g, layer.act, x, n)


def to_qdq(g, q: QConv2D, x: str) -> str:
    """QDQ ONNX: Conv on the dequantized input, int8 weights and int32 bias."""
    layer = q.layer
    pt, pl, pb, pr = layer.padding

    def conv(xf: str, w: str, b: str) -> str:
        return g.node("Conv", [xf, w, b], q.name, kernel_shape=list(layer.kernel), strides=list(layer.stride),
                      pads=[pt, pl, pb, pr], group=layer.groups)  # fmt: skip

    return linear_qdq(g, q, x, conv)


KIND = Kind(
    name=KIND_NAME,
    layer_type=Conv2D,
    forward=forward,
    train_forward=train_forward,
    backward=backward,
    quantize=quantize,
    forward_int8=forward_int8,
    lower={"float32": lower_float32, "int8": lower_int8},
    to_onnx=to_onnx,
    from_scales=from_scales,
    variants=VARIANTS,
    takes_act=True,
    fuses_epilogue=fuses_epilogue,
    float_requant=True,
    init_params=init_params,
    fan_in=fan_in,
    to_qdq=to_qdq,
)
