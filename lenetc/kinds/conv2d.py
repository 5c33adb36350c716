"""2-D convolution (``conv2d``): stride, padding, groups, LeNet-5's sparse connection table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..activations import Act, act_grad, act_onnx, apply_act
from ..errors import LenetcError
from ..helium import float32 as helium_float32
from ..helium import int8 as helium_int8
from ..riscv import vector as riscv_v
from . import conv2d_cortexm
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
    pair,
    param,
    quad,
)
from .conv2d_blocked import lower_blocked_float32, lower_blocked_int8
from .dense import lower_dense_float, lower_dense_int8
from .given import GivenStep
from .int8_linear import QLinear, finish, linear_from_scales, pad_cols, pad_to, qdoc, quantize_linear, requant_ctx
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


# ---- lowering --------------------------------------------------------------------------------


def _sparse_maps(lw, layer: Conv2D) -> tuple[list[np.ndarray], np.ndarray]:
    table = lw.params[f"{layer.name}.table"].astype(bool)
    src_maps = [np.flatnonzero(row) for row in table]
    starts = np.concatenate([[0], np.cumsum([len(s) for s in src_maps])])
    return src_maps, starts


def lower_float32(lw, node: Node, src: int) -> int:
    layer: Conv2D = node.layer
    in_shape, out_shape = node.in_shape, node.out_shape
    c, h, w = in_shape
    weight, bias = param(lw.params, layer, "weight", np.float32), param(lw.params, layer, "bias", np.float32)
    doc = layer.describe(in_shape)
    (kh, kw), (pt, pl, pb, pr) = layer.kernel, layer.padding
    if layer.is_whole_window(in_shape):
        return lower_dense_float(lw, layer.name, weight.reshape(layer.out_channels, -1), bias, layer.act, src, doc)
    if any(layer.padding):
        src = emit_pad(lw, layer.name, src, (c, h, w), layer.padding, 0.0, f"zero padding {list(layer.padding)}")
        c, h, w = c, h + pt + pb, w + pl + pr
    # ---- RISC-V vector: lenetc/riscv/vector.py where it applies ----
    rvv = riscv_v.lower_conv_float32(lw, node, src, (c, h, w), weight, bias, doc)
    if rvv is not None:
        return rvv
    # ---- host dialects: the blocked kernel (kinds/conv2d_blocked.py) where it applies ----
    blocked = lower_blocked_float32(lw, node, src, (c, h, w), weight, bias, doc)
    if blocked is not None:
        return blocked
    # ----
    fn = lw.fn_name(layer.name)
    ctx = {
        "ic": c, "ih": h, "iw": w, "oc": out_shape[0], "oh": out_shape[1], "ow": out_shape[2],
        "kh": kh, "kw": kw, "sh": layer.stride[0], "sw": layer.stride[1], "act": layer.act,
        "groups": layer.groups, "sparse": layer.sparse, "epilogue": node.epilogue_ctx,
        "bias": lw.const(fn, "bias", bias),
    }  # fmt: skip
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
    e = node.epilogue_ctx
    template, band = "conv2d/float32", e["kh"] * out_shape[2] if e is not None else 0
    # ---- Helium (lenetc/helium/float32.py) ----
    e_params = ()
    if e is not None and e["mode"] == "subsampling":
        en = node.epilogue.layer.name
        e_params = (lw.params[f"{en}.coeff"], lw.params[f"{en}.bias"])
    mve = helium_float32.conv_ctx(lw, layer, ctx, weight, bias, out_shape, e_params)
    if mve is not None:
        ctx.update(mve)
        template = "mve/conv2d_float32"
        band = max(band, helium_float32.conv_band_floats(ctx)) if e is not None else 0
        doc = f"{doc}, Helium {ctx['no']} map(s) x columns in vectors"
    # ----
    if e is not None:
        doc = f"{doc}, fused with {e['doc']}"
        return lw.emit(template, layer.name, src, node.epilogue.out_shape, ctx, doc=doc, fn=fn, scratch=("float", band))
    return lw.emit(template, layer.name, src, out_shape, ctx, doc=doc, fn=fn)


def lower_int8(lw, node: Node, src: int) -> int:
    q = node.q
    layer: Conv2D = q.layer
    c, h, w = q.in_shape
    (kh, kw), (pt, pl, pb, pr) = layer.kernel, layer.padding
    if layer.is_whole_window(q.in_shape):
        return lower_dense_int8(lw, q, q.weight, src, None)
    if any(layer.padding):
        doc = f"padding {list(layer.padding)} with the zero point"
        src = emit_pad(lw, q.name, src, (c, h, w), layer.padding, q.in_q.zero_point, doc)
        c, h, w = c, h + pt + pb, w + pl + pr
    fn = lw.fn_name(q.name)
    oc, oh, ow = q.out_shape
    ctx = requant_ctx(lw, fn, q)
    # ---- RISC-V vector: lenetc/riscv/vector.py where it applies ----
    rvv = riscv_v.lower_conv_int8(lw, node, src, (c, h, w), ctx, fn, qdoc(q))
    if rvv is not None:
        return rvv
    # ---- host dialects: the blocked kernel (kinds/conv2d_blocked.py) where it applies ----
    blocked = lower_blocked_int8(lw, node, src, (c, h, w), {**ctx, "fn": fn, "doc": qdoc(q)})
    if blocked is not None:
        return blocked
    # ---- Helium (lenetc/helium/int8.py) ----
    if helium_int8.conv_applies(lw, layer.groups, layer.kernel, w):
        table = lw.params[f"{layer.name}.table"].astype(bool) if layer.sparse else None
        e = node.epilogue_ctx
        epi = node.epilogue
        out_shape = q.out_shape if e is None else epi.out_shape
        doc = qdoc(q) if e is None else f"{qdoc(q)}, fused with {e['doc']}"
        return helium_int8.lower_conv(lw, q, src, (c, h, w), ctx, table, e, epi.q if e else None, out_shape, doc, fn)
    # ----
    template = "conv2d/int8"
    # The im2col row is made of segments: one per input map (sparse table) or one per group.
    icg = c // layer.groups
    seg = kh * kw if layer.sparse else icg * kh * kw
    nseg = c if layer.sparse else layer.groups
    ctx.update(ic=c, ih=h, iw=w, oc=oc, oh=oh, ow=ow, kh=kh, kw=kw, sh=layer.stride[0], sw=layer.stride[1],
               groups=layer.groups, sparse=layer.sparse, icg=icg, seg=seg, segp=pad_to(seg), nseg=nseg,
               epilogue=node.epilogue_ctx)  # fmt: skip
    if layer.sparse:
        src_maps, starts = _sparse_maps(lw, layer)
        packed = np.concatenate([q.weight[o, s].reshape(len(s), -1) for o, s in enumerate(src_maps)])
        table_size = len(src_maps) * c
        segp = pad_to(seg)
        if conv2d_cortexm.sparse_ok(lw, layer.sparse, ow):  # Cortex-M DSP: conv2d_cortexm.py
            template, segp = conv2d_cortexm.SPARSE, conv2d_cortexm.dsp_seg(seg)
            ctx.update(segp=segp, seg=seg)
        comment = f"connected taps only: {len(packed)} of {table_size} maps, each zero-padded to {segp}"
        rows = pad_cols(packed, segp)
        if template == conv2d_cortexm.SPARSE:
            rows, comment = conv2d_cortexm.pack_sxtb16(rows), f"{comment}, SXTB16-packed"
        ctx["weight"] = lw.const(fn, "weight", rows, "int8_t", comment)
        ctx["start"] = lw.const(fn, "start", starts.astype(np.int16), "int16_t")
        ctx["src"] = lw.const(fn, "src", np.concatenate(src_maps).astype(np.int16), "int16_t")
    else:
        dsp = conv2d_cortexm.conv_ok(lw, layer.sparse, layer.groups)  # Cortex-M DSP: conv2d_cortexm.py
        segp = conv2d_cortexm.dsp_seg(seg) if dsp else pad_to(seg)
        ctx["segp"] = segp
        comment = f"(out, in, kh, kw) = {q.weight.shape}, rows zero-padded to {segp}"
        rows = pad_cols(q.weight.reshape(oc, -1), segp)
        if dsp:
            rows, comment = conv2d_cortexm.pack_sxtb16(rows), f"{comment}, SXTB16-packed"
            template = conv2d_cortexm.conv_template(oc, ow)
        ctx["weight"] = lw.const(fn, "weight", rows, "int8_t", comment)
    two_pixels = template in (conv2d_cortexm.TWO_PIXELS, conv2d_cortexm.SPARSE)
    patch_bytes = 2 * nseg * ctx["segp"] * (2 if two_pixels else 1)
    e = node.epilogue_ctx
    if e is None:
        scratch = ("unsigned char", patch_bytes)
        return lw.emit(template, q.name, src, q.out_shape, ctx, doc=qdoc(q), fn=fn, scratch=scratch)
    doc = f"{qdoc(q)}, fused with {e['doc']}"
    scratch = ("unsigned char", patch_bytes + e["kh"] * oc * ow)  # the im2col row, then the band of rows
    return lw.emit(template, q.name, src, node.epilogue.out_shape, ctx, doc=doc, fn=fn, scratch=scratch)


# ---- ONNX --------------------------------------------------------------------------------------


def to_onnx(g, layer: Conv2D, in_shape: Shape, p: Params, x: str) -> str:
    n = layer.name
    w = dense_weight(layer, p, np.float32)  # unconnected taps are zero
    pt, pl, pb, pr = layer.padding
    x = g.node("Conv", [x, g.const(f"{n}.weight", w), g.const(f"{n}.bias", p[f"{n}.bias"])], n,
               kernel_shape=list(layer.kernel), strides=list(layer.stride), pads=[pt, pl, pb, pr],
               group=layer.groups)  # fmt: skip
    return act_onnx(g, layer.act, x, n)


KIND = Kind(
    name=Conv2D.kind,
    layer_type=Conv2D,
    forward=forward,
    train_forward=train_forward,
    backward=backward,
    quantize=quantize,
    forward_int8=forward_int8,
    lower={"float32": lower_float32, "int8": lower_int8},
    to_onnx=to_onnx,
    from_scales=from_scales,
)
