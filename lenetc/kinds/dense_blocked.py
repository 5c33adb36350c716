"""Blocked float32 dense layer for the host dialects (x86; the portable f32x8 routines elsewhere).

``dense.lower_dense_float`` calls :func:`lower_blocked_dense` where the generic kernel would run
across outputs (in-major weights): a tile of up to 64 outputs is then kept in vector
registers for the whole input instead of being loaded and stored for every input. Each
output keeps its order (bias, inputs ascending, zero inputs skipped), so the bits are the
generic kernel's.
"""

from __future__ import annotations

import numpy as np

from .conv2d_blocked import BLOCKED_DIALECTS, LANES
from .int8_linear import qdoc

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


def lower_blocked_dense(lw, name: str, weight: np.ndarray, bias: np.ndarray, act, src: int, doc: str):
    """Emit the blocked kernel for (out, in) ``weight``; None where it does not apply."""
    if lw.dialect is None or lw.dialect.name not in BLOCKED_DIALECTS:
        return None
    units, n_in = weight.shape
    tiles, vecs = tiling(units)
    width = vecs * LANES
    w = np.zeros((tiles * width, n_in), np.float32)
    w[:units] = weight
    b = np.zeros(tiles * width, np.float32)
    b[:units] = bias
    packed = np.ascontiguousarray(w.reshape(tiles, width, n_in).transpose(0, 2, 1))
    fn = lw.fn_name(name)
    ctx = {
        "n_in": n_in, "n_out": units, "tiles": tiles, "vecs": vecs, "act": act,
        "tile": True, "group": GROUP, "vblock": -(-vecs // -(-vecs // FLOAT_VBLOCK)),
        "weight": lw.const(fn, "weight", packed, comment=f"packed [tile][in][{width}] = {packed.shape}"),
        "bias": lw.const(fn, "bias", b, comment=f"{units} biases, zero-padded to {len(b)}"),
    }  # fmt: skip
    return lw.emit("dense/float32_blocked", name, src, (units,), ctx, doc=f"{doc}, blocked {width} outputs", fn=fn)


def plain_requant(q) -> bool:
    """True when ``q`` requantizes with integer multipliers the vector routine handles."""
    if q.mult is None or q.shift is None or q.fscale is not None or getattr(q, "rounding", "int") != "int":
        return False
    return bool(np.all(np.asarray(q.mult) >= 0) and np.all((np.asarray(q.shift) >= 1) & (np.asarray(q.shift) <= 62)))


def lower_blocked_dense_int8(lw, q, w: np.ndarray, fn: str, ctx: dict, src: int):
    """The x86 int8 dense tile kernel on (out, in) int8 ``w`` (``ctx``: the generic kernel's
    context, whose weights are its fallback without VNNI); None where it does not apply."""
    units, n_in = w.shape
    if lw.dialect is None or lw.dialect.name not in BLOCKED_DIALECTS or units < 16 or not plain_requant(q):
        return None
    n4 = -(-n_in // 4) * 4
    vecs = min(INT8_VECS, -(-units // 16))
    width = vecs * 16
    tiles = -(-units // width)
    wz = np.zeros((tiles * width, n4), np.int8)
    wz[:units, :n_in] = w
    packed = np.ascontiguousarray(wz.reshape(tiles, width, n4 // 4, 4).transpose(0, 2, 1, 3))
    b4 = np.zeros(tiles * width, np.int64)
    b4[:units] = np.asarray(q.bias, np.int64) - 128 * w.astype(np.int64).sum(axis=1)
    vm, vs = np.zeros(tiles * width, np.int32), np.ones(tiles * width, np.int32)
    vm[:units], vs[:units] = q.mult, q.shift
    ctx = {
        **ctx, "n4": n4, "vecs": vecs, "width": width, "tiles": tiles, "group": GROUP, "tile": True,
        "wpack": lw.const(fn, "wpack", packed, "int8_t", f"vpdpbusd packing [tile][in/4][{width}][4] = {packed.shape}"),
        "bpad": lw.const(fn, "bpad", np.pad(np.asarray(q.bias, np.int32), (0, tiles * width - units)), "int32_t",
                         "folded biases, padded (signed dot products)"),
        "bias4": lw.const(fn, "bias4", b4.astype(np.int32), "int32_t", "folded biases minus 128 * sum(w), padded"),
        "vmult": lw.const(fn, "vmult", vm, "int32_t", "multipliers for the vector requantization, padded"),
        "vshift": lw.const(fn, "vshift", vs, "int32_t", "shifts as int32, padded with 1"),
    }  # fmt: skip
    scratch = ("unsigned char", max(2 * ctx["n_pad"], GROUP * n4))
    doc = f"{qdoc(q)}, blocked {width} outputs x {GROUP} images (vpdpbusd)"
    return lw.emit("dense/int8_blocked", q.name, src, q.out_shape, ctx, doc=doc, fn=fn, scratch=scratch)
