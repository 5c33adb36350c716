"""Forward and backward passes of every layer kind, vectorised for training.

Each kind (``lenetc/kinds``) has ``train_forward(layer, x, params) -> (y, cache)`` and
``backward(layer, dy, cache, params, need_dx) -> (dx, grads)`` where ``grads`` maps the
parameter suffix (``weight``, ``bias``, ``coeff`` ...) to its gradient. Arithmetic stays in
the dtype of ``x`` (float32 to train, float64 for gradient checks); the forward pass computes
the same function as the kind's reference (checked in the tests), only faster: convolutions
are im2col + one matrix product, windows are gathered once and scattered back per tap.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..kinds import Layer, kind_of

Cache = dict[str, Any]


def layer_forward(layer: Layer, x: np.ndarray, params) -> tuple[np.ndarray, Cache]:
    return kind_of(layer).train_forward(layer, x, params)


def layer_backward(layer: Layer, dy: np.ndarray, cache: Cache, params, need_dx: bool = True):
    return kind_of(layer).backward(layer, dy, cache, params, need_dx)
