"""Blocked float32 and int8 convolutions (the x86 family's; written on the ``lenetc_f32x8/16``
and ``lenetc_i32x8/16`` primitives, which every header provides).

They apply where a layer is exactly what they support: dense connections (no sparse table),
one group, a window smaller than the input (and, for int8, plain integer requantization). The
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
    """True when the blocked kernel computes this layer exactly."""
    layer = call.layer
    return not layer.sparse and layer.groups == 1 and not layer.is_whole_window(call.node.in_shape)


def lanes_of(call: ConvCall) -> int:
    return WIDE_LANES if call.oc > LANES else LANES


def note(call: ConvCall) -> str:
    return f", blocked {lanes_of(call)} channels x {PIXELS} pixels"


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


def applies_float32(call: ConvCall, caps: Capabilities) -> bool:
    return caps.f32_lanes >= LANES and supports(call) and call.oc >= MIN_FLOAT_CHANNELS


def pack_float32(lw, call: ConvCall) -> dict:
    lanes = lanes_of(call)
    wp, bp = pack(call.weight, call.bias, lanes)
    fn = call.fn
    return {
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
    """On pairwise 16-bit multiply-add lanes; plain integer requantization only."""
    q = call.q
    # the vector requantization rounds once (lenetc's rule), not in float nor as TFLM does
    if caps.madd_s16_lanes < LANES or not supports(call) or q.fscale is not None or q.rounding != "int":
        return False
    mult, shift = np.asarray(q.mult), np.asarray(q.shift)
    return bool(np.all(mult >= 0) and np.all((shift >= 1) & (shift <= 62)))


def _x16_bytes(call: ConvCall) -> int:
    """The whole (padded) input widened to int16, plus one zero."""
    return 2 * (call.c * call.h * call.w + 1)


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
    ctx["band_offset"] = _x16_bytes(call)
    return ctx


def scratch_int8(call: ConvCall, mode: str) -> Scratch:
    """The input widened to int16, then (fused) the band of ``kh`` conv rows of every map."""
    band = call.epilogue["kh"] * call.oc * call.ow if mode == "fused" else 0
    return ("unsigned char", _x16_bytes(call) + band)
