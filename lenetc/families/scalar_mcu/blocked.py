"""Register-blocked scalar int8 kernels for cores with no SIMD at all (RV32IMC, the ESP32-C3
class), where nothing vectorises and the generic kernels' im2col row of int16 values and one
output channel per dot product cost 7-9 instructions per multiply-accumulate.

A pass keeps a block of outputs in int32 registers (conv: 4 channels x 2 pixels; dense: 8
outputs), so each weight and input load feeds several multiply-adds, reads the input map in
place at constant offsets (no im2col row) and streams weights packed in the order it reads
them. Products and sums are 32-bit (int8 x int8, within the proven accumulator bound): no
64-bit multiply per MAC. Integer sums are exact in any order, so the results are the generic
kernels'.
"""

from __future__ import annotations

import numpy as np

from ...kinds.conv2d import ConvCall
from ...kinds.dense import DenseCall
from ...kinds.int8_linear import requant_ctx
from ...variants import Capabilities, Scratch

#: Convolution block: output channels x output pixels per pass (8 accumulators).
CONV_CHANNELS, CONV_PIXELS = 4, 2
#: Dense block: outputs per pass.
DENSE_OUTPUTS = 8


def pack_blocks(w: np.ndarray, block: int) -> np.ndarray:
    """(out, ...) -> [ceil(out/block)][...][block], zero outputs past the end."""
    n = w.shape[0]
    blocks = -(-n // block)
    padded = np.zeros((blocks * block, *w.shape[1:]), w.dtype)
    padded[:n] = w
    inner = int(np.prod(w.shape[1:]))
    return np.ascontiguousarray(padded.reshape(blocks, block, inner).transpose(0, 2, 1))


def conv_applies(call: ConvCall, caps: Capabilities) -> bool:
    """Dense connections, one group (sparse tables and groups keep the generic kernel)."""
    return caps.scalar_blocks and not call.layer.sparse and call.layer.groups == 1


def conv_scratch(call: ConvCall, mode: str) -> Scratch | None:
    """Fused: a band of ``kh`` conv rows of every map; nothing else (no im2col row)."""
    return ("unsigned char", call.epilogue["kh"] * call.oc * call.ow) if mode == "fused" else None


def conv_note(call: ConvCall) -> str:
    return f", scalar {CONV_CHANNELS} channels x {CONV_PIXELS} pixels"


def pack_conv(lw, call: ConvCall) -> dict:
    """Requantization, geometry, weights packed [oc/4][ic][kh][kw][4]."""
    q, fn = call.q, call.fn
    ctx = requant_ctx(lw, fn, q)
    wp = pack_blocks(np.asarray(q.weight, np.int8), CONV_CHANNELS)
    comment = f"packed [oc/{CONV_CHANNELS}][ic][kh][kw][{CONV_CHANNELS}]"
    ctx.update(**call.geometry(), cb=CONV_CHANNELS, pb=min(CONV_PIXELS, call.ow), epilogue=call.epilogue,
               weight=lw.const(fn, "wblk", wp, "int8_t", comment))  # fmt: skip
    return ctx


def dense_applies(call: DenseCall, caps: Capabilities) -> bool:
    return caps.scalar_blocks


def pack_dense(lw, call: DenseCall) -> dict:
    """Requantization, weights packed [out/8][in][8]."""
    q, w, fn = call.q, call.weight, call.fn
    ctx = requant_ctx(lw, fn, q)
    wp = pack_blocks(np.asarray(w, np.int8), DENSE_OUTPUTS)
    comment = f"packed [out/{DENSE_OUTPUTS}][in][{DENSE_OUTPUTS}]"
    ctx.update(n_in=w.shape[1], n_out=w.shape[0], ob=DENSE_OUTPUTS, weight=lw.const(fn, "wblk", wp, "int8_t", comment))
    return ctx
