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

#: Dialects whose headers have fast ``lenetc_f32x8_*`` and dot4 routines (x86, Arm NEON).
BLOCKED_DIALECTS = frozenset({"x86", "neon"})
LANES = 8
PIXELS = 8
#: With more output channels than one 8-lane block, 16 lanes: one AVX-512 register (8 pixels
#: per chunk), else two AVX2 halves (4 pixels per chunk, so 8 registers of accumulators).
WIDE_LANES, WIDE_NARROW_PIXELS = 16, 4


def supports(layer, in_shape) -> bool:
    """True when the blocked kernel computes this layer exactly."""
    return not layer.sparse and layer.groups == 1 and not layer.is_whole_window(in_shape)


#: Float layers with fewer output channels keep the generic kernel: it vectorises the
#: activation across a row, where the blocked one applies it lane by lane (lenet5's C1 with
#: tanh: 10 us generic, 20 us blocked per image).
MIN_FLOAT_CHANNELS = 16


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
    if layer.out_channels < MIN_FLOAT_CHANNELS:
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


def pack_int8(weight: np.ndarray, bias: np.ndarray, lanes: int = LANES) -> tuple[np.ndarray, np.ndarray]:
    """(oc, ic, kh, kw) int8 weights -> int16 [oc/8][ic][kh][(kw+1)/2][8][2] (column pairs; an odd
    row's last pair and channels past oc are zero); int32 bias padded alike."""
    oc, ic, kh, kw = weight.shape
    blocks, pairs = -(-oc // lanes), -(-kw // 2)
    w = np.zeros((blocks * lanes, ic, kh, 2 * pairs), np.int16)
    w[:oc, :, :, :kw] = weight
    b = np.zeros(blocks * lanes, np.int32)
    b[:oc] = bias
    w = w.reshape(blocks, lanes, ic, kh, pairs, 2).transpose(0, 2, 3, 4, 1, 5)
    return np.ascontiguousarray(w), b


def dot4_ctx(lw, fn: str, weight: np.ndarray, bias: np.ndarray, lanes: int, padded: tuple[int, int, int]) -> dict:
    """The vpdpbusd path's context: four unsigned input bytes times four int8 weights per lane
    and instruction. The four taps are four input channels of one kernel position (the input
    then stored channels-innermost, channels padded to a multiple of 4) or, where that wastes
    more lanes (few input maps, e.g. one), four columns of a kernel row (each row padded to a
    multiple of 4 columns). The input is offset by +128 to unsigned, so the bias drops
    128 * sum(w) per channel. Weights are packed [oc/L][ic or 1][kh][quads][L][4]."""
    oc, ic, kh, kw = weight.shape
    c, h, w = padded
    icp, kwp = -(-ic // 4) * 4, -(-kw // 4) * 4
    hwc = icp * kw <= ic * kwp
    blocks = -(-oc // lanes)
    if hwc:
        wz = np.zeros((blocks * lanes, icp, kh, kw), np.int8)
        wz[:oc, :ic] = weight
        quads = kw * icp // 4  # quad (j, q): channels 4q..4q+3 at column j
        packed = wz.transpose(0, 2, 3, 1).reshape(blocks, lanes, 1, kh, quads, 4)
        qoff, pstep, tail = [j * icp + 4 * q for j in range(kw) for q in range(icp // 4)], icp, 0
        nbytes = h * w * icp
    else:
        wz = np.zeros((blocks * lanes, ic, kh, kwp), np.int8)
        wz[:oc, :, :, :kw] = weight
        quads = kwp // 4
        packed = wz.reshape(blocks, lanes, ic, kh, quads, 4)
        qoff, pstep, tail = [4 * q for q in range(quads)], 1, kwp - kw
        nbytes = c * h * w
    packed = np.ascontiguousarray(packed.transpose(0, 2, 3, 4, 1, 5))
    b4 = np.zeros(blocks * lanes, np.int64)
    b4[:oc] = bias.astype(np.int64) - 128 * weight.reshape(oc, -1).astype(np.int64).sum(axis=1)
    return {
        "hwc": hwc, "icp": icp, "quads": quads, "qoff": qoff, "pstep": pstep, "tail": tail,
        "bytes": nbytes + tail + 4,
        "weight": lw.const(fn, "wdot4", packed, "int8_t", f"vpdpbusd packing {packed.shape}"),
        "bias": lw.const(fn, "bdot4", b4.astype(np.int32), "int32_t", "folded biases minus 128 * sum(w) (input + 128)"),
    }  # fmt: skip


def lower_blocked_int8(lw, node: Node, src: int, padded: tuple[int, int, int], ctx: dict):
    """Emit the blocked int8 kernel on the (already padded) input; ``ctx`` is the generic
    kernel's requantization context (kinds/int8_linear.requant_ctx). None unless the layer is
    exactly one it supports: dense connections, one group, plain integer requantization."""
    q = node.q
    layer = q.layer
    mult, shift = np.asarray(q.mult), np.asarray(q.shift)
    plain = q.fscale is None and q.rounding == "int"  # the vector requantization rounds once (lenetc's rule)
    plain = plain and bool(np.all(mult >= 0) and np.all((shift >= 1) & (shift <= 62)))
    if lw.dialect is None or lw.dialect.name not in BLOCKED_DIALECTS or not supports(layer, q.in_shape) or not plain:
        return None
    c, h, w = padded
    oc, oh, ow = q.out_shape
    kh, kw = layer.kernel
    fn = ctx["fn"]
    lanes = WIDE_LANES if oc > LANES else LANES
    wp, bp = pack_int8(np.asarray(q.weight), np.asarray(q.bias), lanes)
    lw.consts = [k for k in lw.consts if k.name != ctx["bias"]]  # replaced by the padded copy below
    n_in = c * h * w
    ctx = {**ctx, "ic": c, "ih": h, "iw": w, "oc": oc, "oh": oh, "ow": ow, "kh": kh, "kw": kw,
           "sh": layer.stride[0], "sw": layer.stride[1], "pairs": -(-kw // 2), "blocks": len(bp) // lanes,
           "full": oc % lanes == 0, "chunks": chunks(ow), "lanes": lanes,
           "narrow_chunks": chunks(ow, WIDE_NARROW_PIXELS) if lanes == WIDE_LANES else None,
           "n_in": n_in, "epilogue": node.epilogue_ctx,
           "weight": lw.const(fn, "wpack", wp, "int16_t", f"packed [oc/L][ic][kh][kw/2][L][2] = {wp.shape}"),
           "bias": lw.const(fn, "bpack", bp, "int32_t", f"{oc} folded biases, zero-padded to {len(bp)}")}  # fmt: skip
    vm, vs = np.zeros(len(bp), np.int32), np.ones(len(bp), np.int32)
    vm[:oc], vs[:oc] = q.mult, q.shift
    ctx["vmult"] = lw.const(fn, "vmult", vm, "int32_t", "multipliers for the vector requantization, padded")
    ctx["vshift"] = lw.const(fn, "vshift", vs, "int32_t", "shifts as int32, padded with 1")
    dot4 = dot4_ctx(lw, fn, np.asarray(q.weight), np.asarray(q.bias), lanes, padded)
    ctx["dot4"] = dot4
    x16_bytes = max(2 * (n_in + 1), dot4["bytes"])
    ctx["band_offset"] = x16_bytes
    e = node.epilogue_ctx
    doc = f"{ctx['doc']}, blocked {lanes} channels x {PIXELS} pixels"
    if e is None:
        return lw.emit("conv2d/int8_blocked", q.name, src, q.out_shape, ctx, doc=doc, fn=fn,
                       scratch=("unsigned char", x16_bytes))  # fmt: skip
    doc = f"{doc}, fused with {e['doc']}"
    scratch = ("unsigned char", x16_bytes + e["kh"] * oc * ow)
    return lw.emit("conv2d/int8_blocked", q.name, src, node.epilogue.out_shape, ctx, doc=doc, fn=fn, scratch=scratch)
