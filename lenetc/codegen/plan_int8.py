"""Lowering of a :class:`QuantizedNetwork` to int8 kernel ops (templates/int8/).

Same ops/tensors/arena machinery as the float plan (``plan.py``), with one-byte tensors:
every activation is int8 and only an RBF output (int32 distances) is wider -- and that one
lives in the caller's output buffer, never in the arena.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from ..errors import LenetcError
from ..network import Network
from ..quant.qnetwork import QLayer, QuantizedNetwork
from .plan import _IDENT, Plan, _assign_storage, _Lowering, _place_arena


@dataclass
class PlanInt8(Plan):
    """A :class:`Plan` for the integer kernels; ``qnet`` holds the scales the Python side needs."""

    qnet: QuantizedNetwork | None = None
    out_ctype: str = "int8_t"

    @property
    def acc_bound(self) -> int:
        """The largest |int32 accumulator| any layer can reach on any int8 input."""
        return max(q.acc_bound for q in self.qnet.layers)


#: Dot-product lengths are padded with zeros to a multiple of this (16 int16 lanes = one AVX2
#: register, two NEON registers), so the vectorised loops have no scalar tail.
VECTOR_PAD = 16


def _pad_to(n: int) -> int:
    return -(-n // VECTOR_PAD) * VECTOR_PAD


def _pad_cols(w: np.ndarray, cols: int) -> np.ndarray:
    out = np.zeros((w.shape[0], cols), dtype=w.dtype)
    out[:, : w.shape[1]] = w
    return out


def _requant_ctx(lw: _Lowering, fn: str, q: QLayer) -> dict:
    ctx = {
        "bias": lw.const(fn, "bias", q.bias, "int32_t", "int32, input zero point folded in"),
        "mult": lw.const(fn, "mult", q.mult, "int32_t", "requantization multipliers (scale = mult / 2^shift)"),
        "shift": lw.const(fn, "shift", q.shift.astype(np.int8), "int8_t"),
        "zp": q.req_zp,
        "lo": q.lo,
        "hi": q.hi,
        "lut": None,
        "bound": q.acc_bound,
    }
    if q.lut is not None:
        act = getattr(q.layer, "act", None)
        what = act.fn if act is not None else "activation"
        ctx["lut"] = lw.const(fn, "lut", q.lut, "int8_t", f"{what} lookup table, index q + 128")
    return ctx


def _doc(q: QLayer) -> str:
    doc = q.layer.describe(q.in_shape)
    return f"{doc}; |acc| <= {q.acc_bound}" if q.acc_bound else doc


def _lower_dense(lw: _Lowering, q: QLayer, weight: np.ndarray, src: int, perm: np.ndarray | None) -> int:
    fn = lw.fn_name(q.name)
    w = weight.reshape(weight.shape[0], -1)
    if perm is not None:
        w = w[:, np.argsort(perm)]  # columns index the H,W,C vector; read C,H,W directly
    ctx = _requant_ctx(lw, fn, q)
    n_pad = _pad_to(w.shape[1])
    comment = f"(out, in) = {w.shape}, symmetric per output channel; rows zero-padded to {n_pad}"
    ctx.update(
        n_in=w.shape[1],
        n_out=w.shape[0],
        n_pad=n_pad,
        weight=lw.const(fn, "weight", _pad_cols(w, n_pad), "int8_t", comment),
    )
    return lw.emit("dense", q.name, src, q.out_shape, ctx, doc=_doc(q), fn=fn)


def _lower_conv(lw: _Lowering, q: QLayer, src: int) -> int:
    layer = q.layer
    c, h, w = q.in_shape
    (kh, kw), (pt, pl, pb, pr) = layer.kernel, layer.padding
    if not layer.sparse and layer.groups == 1 and not any(layer.padding) and (kh, kw) == (h, w):
        return _lower_dense(lw, q, q.weight, src, None)  # the window covers the whole input
    if any(layer.padding):
        padded = (c, h + pt + pb, w + pl + pr)
        ctx = {"c": c, "h": h, "w": w, "pt": pt, "pl": pl, "ph": padded[1], "pw": padded[2], "value": q.in_q.zero_point}
        doc = f"padding {list(layer.padding)} with the zero point"
        src = lw.emit("pad", q.name, src, padded, ctx, doc=doc, fn=lw.fn_name(q.name, "pad"))
        c, h, w = padded
    fn = lw.fn_name(q.name)
    oc, oh, ow = q.out_shape
    ctx = _requant_ctx(lw, fn, q)
    # The im2col row is made of segments: one per input map (sparse table) or one per group.
    icg = c // layer.groups
    seg = kh * kw if layer.sparse else icg * kh * kw
    nseg = c if layer.sparse else layer.groups
    ctx.update(ic=c, ih=h, iw=w, oc=oc, oh=oh, ow=ow, kh=kh, kw=kw, sh=layer.stride[0], sw=layer.stride[1],
               groups=layer.groups, sparse=layer.sparse, icg=icg, seg=seg, segp=_pad_to(seg), nseg=nseg)  # fmt: skip
    if layer.sparse:
        table = lw.net.params[f"{layer.name}.table"].astype(bool)
        src_maps = [np.flatnonzero(row) for row in table]
        starts = np.concatenate([[0], np.cumsum([len(s) for s in src_maps])])
        packed = np.concatenate([q.weight[o, s].reshape(len(s), -1) for o, s in enumerate(src_maps)])
        comment = f"connected taps only: {len(packed)} of {table.size} maps, each zero-padded to {_pad_to(seg)}"
        ctx["weight"] = lw.const(fn, "weight", _pad_cols(packed, _pad_to(seg)), "int8_t", comment)
        ctx["start"] = lw.const(fn, "start", starts.astype(np.int16), "int16_t")
        ctx["src"] = lw.const(fn, "src", np.concatenate(src_maps).astype(np.int16), "int16_t")
    else:
        comment = f"(out, in, kh, kw) = {q.weight.shape}, rows zero-padded to {_pad_to(seg)}"
        ctx["weight"] = lw.const(fn, "weight", _pad_cols(q.weight.reshape(oc, -1), _pad_to(seg)), "int8_t", comment)
    return lw.emit("conv2d", q.name, src, q.out_shape, ctx, doc=_doc(q), fn=fn)


def _lower(lw: _Lowering, qnet: QuantizedNetwork) -> None:
    src = lw.tensor(tuple(qnet.net.input_shape))
    lw.tensors[src].storage = "input"
    pending_perm: np.ndarray | None = None
    for i, q in enumerate(qnet.layers):
        if pending_perm is not None and q.kind != "dense":
            raise AssertionError("unreachable: HWC flatten is folded only into a following dense layer")
        if q.kind == "conv":
            src = _lower_conv(lw, q, src)
        elif q.kind == "dense":
            src, pending_perm = _lower_dense(lw, q, q.weight, src, pending_perm), None
        elif q.kind == "subsampling":
            c, h, w = q.in_shape
            fn = lw.fn_name(q.name)
            ctx = _requant_ctx(lw, fn, q)
            coeff = lw.const(fn, "coeff", q.weight, "int8_t", "per-map coefficient, symmetric int8")
            ctx.update(c=c, ih=h, iw=w, oh=q.out_shape[1], ow=q.out_shape[2], s=q.layer.size, weight=coeff)
            src = lw.emit("subsampling", q.name, src, q.out_shape, ctx, doc=_doc(q), fn=fn)
        elif q.kind == "pool":
            layer = q.layer
            c, h, w = q.in_shape
            (kh, kw), (sh, sw), (pt, pl, pb, pr) = layer.kernel, layer.stride, layer.padding
            _, oh, ow = q.out_shape
            clamp = any(layer.padding) or (oh - 1) * sh + kh > h or (ow - 1) * sw + kw > w
            ctx = {"c": c, "ih": h, "iw": w, "oh": oh, "ow": ow, "kh": kh, "kw": kw, "sh": sh, "sw": sw,
                   "pt": pt, "pl": pl, "pb": pb, "pr": pr, "mode": layer.mode, "clamp": clamp,
                   "count_include_pad": layer.count_include_pad, "zp": q.in_q.zero_point}  # fmt: skip
            src = lw.emit("pool2d", q.name, src, q.out_shape, ctx, doc=_doc(q))
        elif q.kind == "flatten":
            shape = q.in_shape
            if q.layer.order == "HWC" and len(shape) == 3 and shape[0] > 1 and shape[1] * shape[2] > 1:
                c, h, w = shape
                perm = np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).reshape(-1)
                nxt = qnet.layers[i + 1] if i + 1 < len(qnet.layers) else None
                if nxt is not None and nxt.kind == "dense":
                    pending_perm = perm
                else:
                    src = lw.emit("transpose_hwc", q.name, src, q.out_shape, {"c": c, "hw": h * w}, doc="flatten H,W,C")
            lw.tensors[src].shape = tuple(q.out_shape)
        elif q.kind == "lut":
            fn = lw.fn_name(q.name)
            ctx = {
                "n": math.prod(q.in_shape),
                "lut": lw.const(fn, "lut", q.lut, "int8_t", "lookup table, index q + 128"),
            }
            src = lw.emit(
                "lut", q.name, src, q.out_shape, ctx, inplace=True, doc=f"{q.layer.describe(q.in_shape)} (table)", fn=fn
            )
        elif q.kind == "rbf":
            fn = lw.fn_name(q.name)
            proto = lw.const(fn, "prototypes", q.proto, "int16_t", "prototypes in the input's quantized units")
            ctx = {"n_in": q.in_shape[0], "n_out": q.out_shape[0], "bound": q.acc_bound, "proto": proto}
            src = lw.emit("rbf", q.name, src, q.out_shape, ctx, doc=_doc(q), fn=fn)
        else:
            raise LenetcError(f"int8: layer '{q.name}' of kind '{q.kind}' has no C kernel")
    lw.final = src  # type: ignore[attr-defined]


def make_plan_int8(net: Network, prefix: str | None, qnet: QuantizedNetwork | None) -> PlanInt8:
    """Lower ``qnet`` (the quantized ``net``) to int8 kernels with a one-byte-per-value arena.

    Without ``qnet`` the network is calibrated on MNIST training digits (see
    :func:`lenetc.quant.quantize_for_cli`).
    """
    prefix = prefix or re.sub(r"[^A-Za-z0-9_]", "_", net.name)
    if not _IDENT.match(prefix):
        raise LenetcError(f"prefix '{prefix}' is not a C identifier (letters, digits, '_', not starting with a digit)")
    net.validate()
    if qnet is None:
        from ..quant.cli import quantize_for_cli

        qnet = quantize_for_cli(net)
    if qnet.net is not net and qnet.net.weights_hash() != net.weights_hash():
        raise LenetcError(f"the quantized network was calibrated for other weights than model '{net.name}'")
    lw = _Lowering(net, prefix)
    _lower(lw, qnet)
    _assign_storage(lw)
    arena, bound = _place_arena(lw, 1)
    out_ctype = "int32_t" if qnet.output_dtype == "int32" else "int8_t"
    return PlanInt8(net, prefix, "int8", lw.ops, lw.tensors, lw.consts, arena, bound, qnet=qnet, out_ctype=out_ctype)
