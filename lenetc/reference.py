"""The NumPy float64 reference forward pass: the source of truth the generated C is checked against.

Each layer kind's reference (``lenetc/kinds/<kind>.py``, ``forward``) is written to be obviously
right rather than fast: windows come from ``sliding_window_view`` and sums from ``einsum``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .errors import LenetcError
from .input_range import check_input_range
from .inputs import input_kind
from .kinds import Shape, kind_of


def as_batch(x: np.ndarray, input_shape: Shape) -> tuple[np.ndarray, bool]:
    """Return ``x`` as (N, C, H, W) and whether it was a single image.

    Accepts (N, C, H, W), (N, H, W) for one-channel inputs, (C, H, W) and (H, W).
    """
    x = np.asarray(x)
    shape = tuple(input_shape)
    if x.shape == shape:
        return x[None], True
    if shape[0] == 1 and x.shape == shape[1:]:
        return x[None, None], True
    if x.ndim == 4 and x.shape[1:] == shape:
        return x, False
    if shape[0] == 1 and x.ndim == 3 and x.shape[1:] == shape[1:]:
        return x[:, None], False
    raise LenetcError(f"input has shape {x.shape}; expected (N, {', '.join(map(str, shape))}) or one image {shape}")


#: Most bytes of any one layer's output the references compute at once (float64 or int64):
#: a larger batch runs in slices of images, so their memory is bounded whatever N is
#: (LeNet-5: 891 images per slice).
CHUNK_BYTES = 32 * 2**20


def chunk_images(shapes, itemsize: int = 8) -> int:
    """Images per slice so that the largest of ``shapes`` (one image's tensors) stays within
    :data:`CHUNK_BYTES`."""
    largest = max(math.prod(int(v) for v in s) for s in shapes)
    return max(1, CHUNK_BYTES // (itemsize * max(largest, 1)))


def in_chunks(run: Callable[[np.ndarray], np.ndarray], batch: np.ndarray, step: int) -> np.ndarray:
    """``run`` over ``batch`` (N, ...) ``step`` images at a time, the results stacked."""
    n = batch.shape[0]
    if n <= step:
        return run(batch)
    first = run(batch[:step])
    out = np.empty((n, *first.shape[1:]), dtype=first.dtype)
    out[:step] = first
    for lo in range(step, n, step):
        out[lo : lo + step] = run(batch[lo : lo + step])
    return out


def _layers(net, batch: np.ndarray) -> np.ndarray:
    h = batch.astype(np.float64)
    for layer in net.layers:
        h = kind_of(layer).forward(layer, h, net.params)
    return h


def forward(net, x: np.ndarray, *, return_all: bool = False):
    """Run ``net`` on ``x`` in float64.

    Returns (N, *output_shape) for a batch, the output alone for a single image, or with
    ``return_all`` the list of every layer's batch output (input first). NaN and Inf inputs
    are refused, as the generated C refuses them. What ``x`` means follows its dtype
    (:mod:`lenetc.inputs`): uint8 arrays are raw 28x28 digits, preprocessed first; floats are
    network inputs; anything else is refused. Without ``return_all`` a large batch runs in
    slices (:func:`chunk_images`), so memory does not grow with N beyond the input and output.
    """
    x = np.asarray(x)
    if input_kind(x, net.preprocess) == "pixels":
        inputs = net.preprocess.apply(x)
        x = inputs[0] if x.ndim == 2 else inputs
    batch, single = as_batch(x, net.input_shape)
    check_input_range(net, batch)
    if return_all:
        outs = [batch.astype(np.float64)]
        for layer in net.layers:
            outs.append(kind_of(layer).forward(layer, outs[-1], net.params))
        return outs
    h = in_chunks(lambda part: _layers(net, part), batch, chunk_images(net.shapes()))
    return h[0] if single else h


def predict_classes(net, outputs: np.ndarray) -> np.ndarray:
    """Class indices from outputs: argmin for RBF distances, argmax otherwise."""
    outputs = np.asarray(outputs)
    return outputs.argmin(axis=-1) if net.output_kind == "distance" else outputs.argmax(axis=-1)
