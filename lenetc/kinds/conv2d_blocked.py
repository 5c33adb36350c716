"""Blocked float32 convolution for the host dialects (x86; the portable f32x8 routines elsewhere).

``conv2d.lower_float32`` calls :func:`lower_blocked_float32` for the dialects in
:data:`BLOCKED_DIALECTS`; it returns None (use the generic kernel) unless the layer is exactly
what the blocked kernel supports: dense connections (no sparse table), one group, a window
smaller than the input. The kernel puts 8 or 16 output channels in the vector lanes and up to 8
output pixels of a row in independent accumulators (the generic kernel adds a whole row's
products into one register, one long dependent chain); weights are packed here in the order
the kernel streams them, [oc/8][ic][kh][kw][8]. Every output keeps its order of fused
multiply-adds (bias, input channel, kernel row, kernel column), so the bits are the generic
kernel's.
"""

from __future__ import annotations

import numpy as np

from .base import Node

#: Dialects whose header has fast ``lenetc_f32x8_*`` routines.
BLOCKED_DIALECTS = frozenset({"x86"})
LANES = 8
PIXELS = 8
#: With more output channels than one 8-lane block, 16 lanes: one AVX-512 register (8 pixels
#: per chunk), else two AVX2 halves (4 pixels per chunk, so 8 registers of accumulators).
WIDE_LANES, WIDE_NARROW_PIXELS = 16, 4


def supports(layer, in_shape) -> bool:
    """True when the blocked kernel computes this layer exactly."""
    return not layer.sparse and layer.groups == 1 and not layer.is_whole_window(in_shape)


def chunks(width: int, most: int = PIXELS) -> list[tuple[int, int]]:
    """``width`` output pixels as (first, count) runs of at most ``most``, sizes as even as possible."""
    parts = -(-width // most)
    sizes = [width // parts + (1 if i < width % parts else 0) for i in range(parts)]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).tolist()
    return [(int(s), int(n)) for s, n in zip(starts, sizes)]


def pack(weight: np.ndarray, bias: np.ndarray, lanes: int = LANES) -> tuple[np.ndarray, np.ndarray]:
    """(oc, ic, kh, kw) weights -> [oc/lanes][ic][kh][kw][lanes], zero channels past oc; bias padded alike."""
    oc, ic, kh, kw = weight.shape
    blocks = -(-oc // lanes)
    w = np.zeros((blocks * lanes, ic, kh, kw), np.float32)
    w[:oc] = weight
    b = np.zeros(blocks * lanes, np.float32)
    b[:oc] = bias
    return np.ascontiguousarray(w.reshape(blocks, lanes, ic, kh, kw).transpose(0, 2, 3, 4, 1)), b


def lower_blocked_float32(lw, node: Node, src: int, padded: tuple[int, int, int], weight, bias, doc: str):
    """Emit the blocked kernel on the (already padded) input of shape ``padded``; None when
    the layer is not one it supports."""
    layer, out_shape = node.layer, node.out_shape
    if lw.dialect is None or lw.dialect.name not in BLOCKED_DIALECTS or not supports(layer, node.in_shape):
        return None
    c, h, w = padded
    oc, oh, ow = out_shape
    fn = lw.fn_name(layer.name)
    lanes = WIDE_LANES if oc > LANES else LANES
    wp, bp = pack(weight, bias, lanes)
    ctx = {
        "ic": c, "ih": h, "iw": w, "oc": oc, "oh": oh, "ow": ow,
        "kh": layer.kernel[0], "kw": layer.kernel[1], "sh": layer.stride[0], "sw": layer.stride[1],
        "act": layer.act, "epilogue": node.epilogue_ctx, "blocks": len(bp) // lanes, "full": oc % lanes == 0,
        "lanes": lanes, "chunks": chunks(ow),
        "narrow_chunks": chunks(ow, WIDE_NARROW_PIXELS) if lanes == WIDE_LANES else None,
        "weight": lw.const(fn, "weight", wp, comment=f"packed [oc/{lanes}][ic][kh][kw][{lanes}] = {wp.shape}"),
        "bias": lw.const(fn, "bias", bp, comment=f"{oc} biases, zero-padded to {len(bp)}"),
    }  # fmt: skip
    e = node.epilogue_ctx
    doc = f"{doc}, blocked {lanes} channels x {PIXELS} pixels"
    if e is not None:
        doc = f"{doc}, fused with {e['doc']}"
        scratch = ("float", lanes * e["kh"] * ow)
        return lw.emit("conv2d/float32_blocked", layer.name, src, node.epilogue.out_shape, ctx, doc=doc, fn=fn,
                       scratch=scratch)  # fmt: skip
    return lw.emit("conv2d/float32_blocked", layer.name, src, out_shape, ctx, doc=doc, fn=fn)
