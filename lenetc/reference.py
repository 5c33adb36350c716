"""The NumPy float64 reference forward pass: the source of truth the generated C is checked against.

Each layer kind's reference (``lenetc/kinds/<kind>.py``, ``forward``) is written to be obviously
right rather than fast: windows come from ``sliding_window_view`` and sums from ``einsum``.
"""

from __future__ import annotations

import numpy as np

from .errors import LenetcError
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


def forward(net, x: np.ndarray, *, return_all: bool = False):
    """Run ``net`` on ``x`` in float64.

    Returns (N, *output_shape) for a batch, the output alone for a single image, or with
    ``return_all`` the list of every layer's batch output (input first). NaN and Inf inputs
    are refused, as the generated C refuses them. What ``x`` means follows its dtype
    (:mod:`lenetc.inputs`): uint8 arrays are raw 28x28 digits, preprocessed first; floats are
    network inputs; anything else is refused.
    """
    x = np.asarray(x)
    if input_kind(x, net.preprocess) == "pixels":
        inputs = net.preprocess.apply(x)
        x = inputs[0] if x.ndim == 2 else inputs
    batch, single = as_batch(x, net.input_shape)
    h = batch.astype(np.float64)
    if not np.isfinite(h).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(h))[0])
        raise LenetcError(f"input holds NaN or Inf (first at index {where}): lenetc refuses non-finite input")
    outs = [h]
    for layer in net.layers:
        h = kind_of(layer).forward(layer, h, net.params)
        outs.append(h)
    if return_all:
        return outs
    return h[0] if single else h


def predict_classes(net, outputs: np.ndarray) -> np.ndarray:
    """Class indices from outputs: argmin for RBF distances, argmax otherwise."""
    outputs = np.asarray(outputs)
    return outputs.argmin(axis=-1) if net.output_kind == "distance" else outputs.argmax(axis=-1)
