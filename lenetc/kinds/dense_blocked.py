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

#: At most this many 8-lane accumulators per tile (16 vector registers on AVX2).
MAX_VECS = 8


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
        "weight": lw.const(fn, "weight", packed, comment=f"packed [tile][in][{width}] = {packed.shape}"),
        "bias": lw.const(fn, "bias", b, comment=f"{units} biases, zero-padded to {len(b)}"),
    }  # fmt: skip
    return lw.emit("dense/float32_blocked", name, src, (units,), ctx, doc=f"{doc}, blocked {width} outputs", fn=fn)
