"""The NumPy integer reference: exactly what the int8 C computes, bit for bit.

Each kind's integer reference (``lenetc/kinds/<kind>.py``, ``forward_int8``) is written
independently of the C kernels (whole-tensor NumPy: windows from ``sliding_window_view``,
sums in int64 with ``einsum``); the only shared pieces are the quantized constants of
:class:`QuantizedNetwork` and the rounding rule of :mod:`lenetc.fixedpoint`. Every accumulator
is checked against its proven bound, so an overflow the C would suffer shows up here as an
error rather than as a silent match.
"""

from __future__ import annotations

import numpy as np

from ..errors import LenetcError
from ..kinds import KINDS
from ..reference import as_batch, chunk_images, in_chunks
from .qnetwork import QuantizedNetwork


def forward_int8(qnet: QuantizedNetwork, xq: np.ndarray, *, return_all: bool = False):
    """Run the integer network on int8 input ``xq`` ((N, C, H, W) or one image).

    Returns the raw output (int8 logits or int32 RBF distances), or with ``return_all`` the
    list of every integer layer's batch output (input first). Without ``return_all`` a large
    batch runs in slices of images, as the float reference does.
    """
    batch, single = as_batch(xq, qnet.net.input_shape)
    if batch.dtype != np.int8:
        raise LenetcError(f"int8 reference input must be int8, got {batch.dtype}")
    if return_all:
        outs = [batch]
        for q in qnet.layers:
            outs.append(KINDS[q.kind].forward_int8(q, outs[-1]))
        return outs

    def run(part: np.ndarray) -> np.ndarray:
        for q in qnet.layers:
            part = KINDS[q.kind].forward_int8(q, part)
        return part

    h = in_chunks(run, batch, chunk_images(qnet.net.shapes()))
    return h[0] if single else h


def forward_float(qnet: QuantizedNetwork, x: np.ndarray) -> np.ndarray:
    """Quantize float input, run the integer reference, dequantize (softmax re-applied)."""
    return qnet.dequantize_output(forward_int8(qnet, qnet.quantize_input(x)))
