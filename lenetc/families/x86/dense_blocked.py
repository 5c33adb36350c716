"""Blocked float32 dense layer (the x86 family's; written on the ``lenetc_f32x8`` primitives).

Where the portable kernel would run across outputs (in-major weights), a tile of up to 64
outputs is kept in vector registers for the whole input instead of being loaded and stored
for every input. Each output keeps its order (bias, inputs ascending, zero inputs skipped),
so the bits are the portable kernel's.
"""

from __future__ import annotations

import numpy as np

from ...kinds.dense import DenseCall, pack_int8
from ...kinds.int8_linear import pad_to
from ...variants import Capabilities, Scratch
from .conv2d_blocked import LANES

#: At most this many 8-lane accumulators per tile (16 vector registers on AVX2).
MAX_VECS = 8
#: The tile kernels (``<P>_run_tiled``): GROUP images share each weight load; float passes hold
#: GROUP x FLOAT_VBLOCK 8-lane accumulators, int8 passes GROUP x INT8_VECS 16-lane ones.
GROUP, FLOAT_VBLOCK, INT8_VECS = 4, 4, 4


def tiling(n_out: int) -> tuple[int, int]:
    """(tiles, vectors per tile) covering ``n_out`` outputs with as little padding as possible."""
    nvec = -(-n_out // LANES)
    tiles = -(-nvec // MAX_VECS)
    return tiles, -(-nvec // tiles)


def applies(call: DenseCall, caps: Capabilities) -> bool:
    """Where the portable kernel vectorises across outputs, on native block primitives."""
    return caps.simd_blocks and call.across


def note(call: DenseCall) -> str:
    return f", blocked {tiling(call.units)[1] * LANES} outputs"


def pack(lw, call: DenseCall) -> dict:
    """Weights packed [tile][in][tile width], outputs past ``units`` zero; biases alike."""
    units, n_in = call.weight.shape
    tiles, vecs = tiling(units)
    width = vecs * LANES
    w = np.zeros((tiles * width, n_in), np.float32)
    w[:units] = call.weight
    b = np.zeros(tiles * width, np.float32)
    b[:units] = call.bias
    packed = np.ascontiguousarray(w.reshape(tiles, width, n_in).transpose(0, 2, 1))
    fn = call.fn
    return {
        "n_in": n_in, "n_out": units, "tiles": tiles, "vecs": vecs, "act": call.act,
        "tile": True, "group": GROUP, "vblock": -(-vecs // -(-vecs // FLOAT_VBLOCK)),
        "weight": lw.const(fn, "weight", packed, comment=f"packed [tile][in][{width}] = {packed.shape}"),
        "bias": lw.const(fn, "bias", b, comment=f"{units} biases, zero-padded to {len(b)}"),
    }  # fmt: skip


def applies_int8(call: DenseCall, caps: Capabilities) -> bool:
    """16 outputs or more, with 4 x 8-bit dot products into int32 lanes and lenetc's integer
    requantization (the vector routine rounds once)."""
    q = call.q
    if not (caps.simd_blocks and caps.dot_s8x4) or call.units < 16 or q.mult is None or q.shift is None:
        return False
    if q.fscale is not None or q.rounding != "int":
        return False
    return bool(np.all(np.asarray(q.mult) >= 0) and np.all((np.asarray(q.shift) >= 1) & (np.asarray(q.shift) <= 62)))


def _int8_tiling(call: DenseCall) -> tuple[int, int, int]:
    """(n_in padded to 4, 16-lane vectors per tile, tiles)."""
    vecs = min(INT8_VECS, -(-call.units // 16))
    return -(-call.n_in // 4) * 4, vecs, -(-call.units // (vecs * 16))


def note_int8(call: DenseCall) -> str:
    return f", blocked {_int8_tiling(call)[1] * 16} outputs x {GROUP} images (4 x 8-bit dot products)"


def pack_int8_call(lw, call: DenseCall) -> dict:
    """The portable kernel's context (its rows are the path without dot products), plus the dot4
    packing [tile][in/4][tile width][4], biases for x86's +128 input offset and for sdot's
    signed input, and multipliers and shifts padded for the vector requantization."""
    ctx = pack_int8(lw, call)
    q, fn, units = call.q, call.fn, call.units
    n4, vecs, tiles = _int8_tiling(call)
    width = vecs * 16
    wz = np.zeros((tiles * width, n4), np.int8)
    wz[:units, : call.n_in] = call.weight
    packed = np.ascontiguousarray(wz.reshape(tiles, width, n4 // 4, 4).transpose(0, 2, 1, 3))
    bias = np.zeros(tiles * width, np.int64)
    bias[:units] = q.bias
    b4 = bias.copy()
    b4[:units] -= 128 * call.weight.astype(np.int64).sum(axis=1)
    vm, vs = np.zeros(tiles * width, np.int32), np.ones(tiles * width, np.int32)
    vm[:units], vs[:units] = q.mult, q.shift
    ctx.update({
        "n4": n4, "vecs": vecs, "width": width, "tiles": tiles, "group": GROUP, "tile": True,
        "wpack": lw.const(fn, "wpack", packed, "int8_t", f"dot4 packing [tile][in/4][{width}][4] = {packed.shape}"),
        "bpad": lw.const(fn, "bpad", bias.astype(np.int32), "int32_t", "folded biases, padded (signed dot products)"),
        "bias4": lw.const(fn, "bias4", b4.astype(np.int32), "int32_t", "folded biases - 128 * sum(w) (x86), padded"),
        "vmult": lw.const(fn, "vmult", vm, "int32_t", "multipliers for the vector requantization, padded"),
        "vshift": lw.const(fn, "vshift", vs, "int32_t", "shifts as int32, padded with 1"),
    })  # fmt: skip
    return ctx


def scratch_int8(call: DenseCall, mode: str) -> Scratch:
    """The portable path's int16 input, or up to GROUP inputs as padded bytes."""
    n4 = _int8_tiling(call)[0]
    return ("unsigned char", max(2 * pad_to(call.n_in), GROUP * n4))
