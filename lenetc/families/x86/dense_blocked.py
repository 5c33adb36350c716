"""Blocked float32 dense layer (the x86 family's; written on the ``lenetc_f32x8`` primitives).

Where the portable kernel would run across outputs (in-major weights), a tile of up to 64
outputs is kept in vector registers for the whole input instead of being loaded and stored
for every input. Each output keeps its order (bias, inputs ascending, zero inputs skipped),
so the bits are the portable kernel's.
"""

from __future__ import annotations

import numpy as np

from ...kinds.dense import DenseCall
from ...variants import Capabilities
from .conv2d_blocked import LANES

#: At most this many 8-lane accumulators per tile (16 vector registers on AVX2).
MAX_VECS = 8


def tiling(n_out: int) -> tuple[int, int]:
    """(tiles, vectors per tile) covering ``n_out`` outputs with as little padding as possible."""
    nvec = -(-n_out // LANES)
    tiles = -(-nvec // MAX_VECS)
    return tiles, -(-nvec // tiles)


def applies(call: DenseCall, caps: Capabilities) -> bool:
    """Where the portable kernel vectorises across outputs, on 8-lane float vectors."""
    return caps.f32_lanes >= LANES and call.across


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
        "weight": lw.const(fn, "weight", packed, comment=f"packed [tile][in][{width}] = {packed.shape}"),
        "bias": lw.const(fn, "bias", b, comment=f"{units} biases, zero-padded to {len(b)}"),
    }  # fmt: skip
