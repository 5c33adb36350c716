"""Blocked float32 and int8 convolutions (the x86 family's; written on the ``lenetc_f32x8/16``
and ``lenetc_i32x8/16`` primitives, which every header provides).

They apply where a layer is exactly what they support: one group, a window smaller than the
input (and, for int8, plain integer requantization); a sparse connection table (LeNet-5's C3)
as zero int8 weights, or for float as per-lane masked FMAs where those are cheap. The
float kernel puts 8 or 16 output channels in the vector lanes and up to 8 output pixels of a
row in independent accumulators (the portable kernel adds a whole row's products into one
register, one long dependent chain); weights are packed in the order the kernel streams them,
[oc/8][ic][kh][kw][8]. Every output keeps its order of fused multiply-adds (bias, input
channel, kernel row, kernel column), so the bits are the portable kernel's.
"""

from __future__ import annotations

import numpy as np

from ...kinds.conv2d import ConvCall
from ...kinds.int8_linear import qdoc, requant_ctx
from ...variants import Capabilities, Scratch

LANES = 8
PIXELS = 8
#: With more output channels than one 8-lane block, 16 lanes: one AVX-512 register (8 pixels
#: per chunk), else two AVX2 halves (4 pixels per chunk, so 8 registers of accumulators).
WIDE_LANES, WIDE_NARROW_PIXELS = 16, 4


def supports(call: ConvCall) -> bool:
    """True when the blocked kernel computes this layer exactly (a sparse table: its unconnected
    taps are zero weights for int8, exact in integers, and masked lanes for float)."""
    layer = call.layer
    return layer.groups == 1 and not layer.is_whole_window(call.node.in_shape)


def lanes_of(call: ConvCall) -> int:
    return WIDE_LANES if call.oc > LANES else LANES


def note(call: ConvCall) -> str:
    return f", blocked {lanes_of(call)} channels x {PIXELS} pixels"


#: Float layers with fewer output channels keep the generic kernel (few live lanes), unless
#: masked FMAs are cheap (AVX-512): lenet5's C1 (6 maps) is then faster blocked.
MIN_FLOAT_CHANNELS, MIN_MASKED_CHANNELS = 16, 4


def lane_masks(table: np.ndarray, lanes: int) -> np.ndarray:
    """(oc, ic) connection table -> uint32 [oc/lanes][ic]: bit l set when output map
    ``block * lanes + l`` reads input map k."""
    oc, ic = table.shape
    blocks = -(-oc // lanes)
    t = np.zeros((blocks * lanes, ic), np.uint64)
    t[:oc] = table != 0
    bits = (t.reshape(blocks, lanes, ic) << np.arange(lanes, dtype=np.uint64)[None, :, None]).sum(axis=1)
    return bits.astype(np.uint32)


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


def applies_float32(call: ConvCall, caps: Capabilities) -> bool:
    if not caps.simd_blocks or not supports(call):
        return False
    if caps.masked_f32:
        return call.oc >= MIN_MASKED_CHANNELS
    return call.oc >= MIN_FLOAT_CHANNELS and not call.layer.sparse


def pack_float32(lw, call: ConvCall) -> dict:
    lanes = lanes_of(call)
    weight = call.weight
    table = np.asarray(call.lw.params[f"{call.layer.name}.table"]) if call.layer.sparse else None
    if table is not None:
        weight = weight * (table != 0)[:, :, None, None].astype(np.float32)
    wp, bp = pack(weight, call.bias, lanes)
    fn = call.fn
    mask = None
    if table is not None:
        mask = lw.const(fn, "mask", lane_masks(table, lanes), "uint32_t", "connection table as lane masks")
    return {
        "mask": mask,
        **call.geometry(), "act": call.layer.act, "epilogue": call.epilogue, "blocks": len(bp) // lanes,
        "full": call.oc % lanes == 0, "lanes": lanes, "chunks": chunks(call.ow),
        "narrow_chunks": chunks(call.ow, WIDE_NARROW_PIXELS) if lanes == WIDE_LANES else None,
        "weight": lw.const(fn, "weight", wp, comment=f"packed [oc/{lanes}][ic][kh][kw][{lanes}] = {wp.shape}"),
        "bias": lw.const(fn, "bias", bp, comment=f"{call.oc} biases, zero-padded to {len(bp)}"),
    }  # fmt: skip


def scratch_float32(call: ConvCall, mode: str) -> Scratch | None:
    """The fused kernel keeps a band of ``kh`` rows of one block of lanes."""
    return ("float", lanes_of(call) * call.epilogue["kh"] * call.ow) if mode == "fused" else None


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


def applies_int8(call: ConvCall, caps: Capabilities) -> bool:
    """On pairwise 16-bit multiply-add lanes of block primitives; plain integer requantization only."""
    q = call.q
    # the vector requantization rounds once (lenetc's rule), not in float nor as TFLM does
    if not caps.simd_blocks or caps.madd_s16_lanes < LANES or not supports(call):
        return False
    if q.fscale is not None or q.rounding != "int":
        return False
    mult, shift = np.asarray(q.mult), np.asarray(q.shift)
    return bool(np.all(mult >= 0) and np.all((shift >= 1) & (shift <= 62)))


def _dot4_layout(call: ConvCall) -> tuple[bool, int, int, int]:
    """(channels innermost, padded channels, quads per kernel row, input bytes) of the dot4
    path: four input channels of one kernel position per lane and instruction, or, where that
    wastes more lanes (few input maps, e.g. one), four columns of a kernel row."""
    ic, kw = call.c, call.kw
    icp, kwp = -(-ic // 4) * 4, -(-kw // 4) * 4
    hwc = icp * kw <= ic * kwp
    quads = kw * icp // 4 if hwc else kwp // 4
    nbytes = call.h * call.w * icp if hwc else call.c * call.h * call.w + kwp - kw
    return hwc, icp, quads, nbytes + 4


def _x16_bytes(call: ConvCall) -> int:
    """The whole (padded) input widened to int16 plus one zero, or the dot4 path's bytes."""
    return max(2 * (call.c * call.h * call.w + 1), _dot4_layout(call)[3])


def dot4_ctx(lw, call: ConvCall, lanes: int) -> dict:
    """The 4 x 8-bit dot product path (vpdpbusd, sdot), compiled where the CPU has one: weights
    packed [oc/L][ic or 1][kh][quads][L][4]. x86's vpdpbusd multiplies unsigned by signed bytes,
    so its input is offset by +128 and its bias drops 128 * sum(w) per channel; Arm's sdot takes
    the input and the plain bias as they are (LENETC_DOT4_SIGNED)."""
    weight, bias = np.asarray(call.q.weight), np.asarray(call.q.bias)
    oc, ic, kh, kw = weight.shape
    hwc, icp, quads, nbytes = _dot4_layout(call)
    blocks = -(-oc // lanes)
    if hwc:
        wz = np.zeros((blocks * lanes, icp, kh, kw), np.int8)
        wz[:oc, :ic] = weight
        packed = wz.transpose(0, 2, 3, 1).reshape(blocks, lanes, 1, kh, quads, 4)
        qoff, pstep, tail = [j * icp + 4 * q for j in range(kw) for q in range(icp // 4)], icp, 0
    else:
        wz = np.zeros((blocks * lanes, ic, kh, 4 * quads), np.int8)
        wz[:oc, :, :, :kw] = weight
        packed = wz.reshape(blocks, lanes, ic, kh, quads, 4)
        qoff, pstep, tail = [4 * q for q in range(quads)], 1, 4 * quads - kw
    packed = np.ascontiguousarray(packed.transpose(0, 2, 3, 4, 1, 5))
    b4 = np.zeros(blocks * lanes, np.int64)
    b4[:oc] = bias.astype(np.int64) - 128 * weight.reshape(oc, -1).astype(np.int64).sum(axis=1)
    return {
        "hwc": hwc, "icp": icp, "quads": quads, "qoff": qoff, "pstep": pstep, "tail": tail,
        "weight": lw.const(call.fn, "wdot4", packed, "int8_t", f"4 x 8-bit dot product packing {packed.shape}"),
        "bias": lw.const(call.fn, "bdot4", b4.astype(np.int32), "int32_t", "folded biases - 128 * sum(w) (x86)"),
    }  # fmt: skip


def pack_int8_call(lw, call: ConvCall) -> dict:
    """Requantization (biases repacked below), then weights, biases, multipliers and shifts
    padded to whole blocks of lanes."""
    q, fn = call.q, call.fn
    ctx = {**requant_ctx(lw, fn, q, bias=False), "fn": fn, "doc": qdoc(q)}
    lanes = lanes_of(call)
    wp, bp = pack_int8(np.asarray(q.weight), np.asarray(q.bias), lanes)
    weight = lw.const(fn, "wpack", wp, "int16_t", f"packed [oc/L][ic][kh][kw/2][L][2] = {wp.shape}")
    bias = lw.const(fn, "bpack", bp, "int32_t", f"{call.oc} folded biases, zero-padded to {len(bp)}")
    ctx.update(**call.geometry(), pairs=-(-call.kw // 2), blocks=len(bp) // lanes, full=call.oc % lanes == 0,
               chunks=chunks(call.ow), lanes=lanes,
               narrow_chunks=chunks(call.ow, WIDE_NARROW_PIXELS) if lanes == WIDE_LANES else None,
               n_in=call.c * call.h * call.w, epilogue=call.epilogue, weight=weight, bias=bias)  # fmt: skip
    vm, vs = np.zeros(len(bp), np.int32), np.ones(len(bp), np.int32)
    vm[: call.oc], vs[: call.oc] = q.mult, q.shift
    ctx["vmult"] = lw.const(fn, "vmult", vm, "int32_t", "multipliers for the vector requantization, padded")
    ctx["vshift"] = lw.const(fn, "vshift", vs, "int32_t", "shifts as int32, padded with 1")
    ctx["dot4"] = dot4_ctx(lw, call, lanes)
    ctx["band_offset"] = _x16_bytes(call)
    return ctx


def scratch_int8(call: ConvCall, mode: str) -> Scratch:
    """The input widened to int16, then (fused) the band of ``kh`` conv rows of every map."""
    band = call.epilogue["kh"] * call.oc * call.ow if mode == "fused" else 0
    return ("unsigned char", _x16_bytes(call) + band)
