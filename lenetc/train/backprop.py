"""Whole-network forward/backward and the training losses.

A network that ends in Softmax is trained with cross-entropy on the scores that feed the
softmax (the softmax layer itself is skipped while training: fused softmax + cross-entropy is
exact and numerically safer). A network that ends in LeNet-5's RBF layer is trained on the
distances ``y``: by default with a softmax over negative distances, ``E = y_label +
log sum_i exp(-y_i)``; with ``rbf_j`` set, with the paper's MAP criterion (LeCun et al. 1998,
eq. 9) ``E = y_label + log(exp(-j) + sum_i exp(-y_i))``. The RBF prototypes and LeNet-5's
C3 connection table are part of the architecture and are never updated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..layers import RBF, Layer, Softmax
from ..network import Network
from .grads import layer_backward, layer_forward

#: Parameter suffixes that are fixed by the architecture, not learned.
FROZEN_SUFFIXES = ("table", "prototypes")


def trainable_keys(net: Network) -> list[str]:
    """The parameters the trainer updates (everything but connection tables and RBF prototypes)."""
    return [k for k in net.expected_params() if k.rsplit(".", 1)[1] not in FROZEN_SUFFIXES]


@dataclass(frozen=True)
class Head:
    """Which layers are run while training and how their output is scored."""

    layers: list[Layer]
    kind: str  # "logits" (cross-entropy) or "distance" (RBF criterion)


def training_head(net: Network) -> Head:
    layers = list(net.layers)
    if layers and isinstance(layers[-1], Softmax):
        return Head(layers[:-1], "logits")
    if layers and isinstance(layers[-1], RBF):
        return Head(layers, "distance")
    return Head(layers, "logits")


def forward(layers: list[Layer], x: np.ndarray, params) -> tuple[np.ndarray, list]:
    caches = []
    for layer in layers:
        x, cache = layer_forward(layer, x, params)
        caches.append(cache)
    return x, caches


def backward(layers: list[Layer], dout: np.ndarray, caches: list, params) -> dict[str, np.ndarray]:
    """Gradients of every parameter of ``layers``, keyed ``<layer>.<suffix>``; the input's is not computed."""
    grads: dict[str, np.ndarray] = {}
    d = dout
    for i in range(len(layers) - 1, -1, -1):
        layer = layers[i]
        d, g = layer_backward(layer, d, caches[i], params, need_dx=i > 0)
        for suffix, value in g.items():
            grads[f"{layer.name}.{suffix}"] = value
    return grads


def _logsumexp(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise log-sum-exp and the softmax of ``z``."""
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    s = e.sum(axis=1, keepdims=True)
    return (np.log(s) + m)[:, 0], e / s


def loss_and_grad(
    kind: str, out: np.ndarray, labels: np.ndarray, rbf_j: float | None = None, rbf_temperature: float = 1.0
):
    """Mean loss over the batch, its gradient with respect to ``out``, and the predicted classes.

    For distances the scores are ``-out / rbf_temperature``: a temperature above 1 keeps the
    softmax from saturating on LeNet-5's large squared distances, so digits that are already
    right but close to another prototype still pull towards their own."""
    n = out.shape[0]
    rows = np.arange(n)
    if kind == "distance":
        t = rbf_temperature
        scores = -out / t
        if rbf_j is not None:
            scores = np.concatenate([scores, np.full((n, 1), -rbf_j, dtype=out.dtype)], axis=1)
        lse, p = _logsumexp(scores)
        loss = out[rows, labels] / t + lse
        dout = -p[:, : out.shape[1]]
        dout[rows, labels] += 1
        dout /= t
        pred = out.argmin(axis=1)
    else:
        lse, p = _logsumexp(out)
        loss = lse - out[rows, labels]
        dout = p
        dout[rows, labels] -= 1
        pred = out.argmax(axis=1)
    return float(loss.mean()), (dout / n).astype(out.dtype), pred


def predict(net: Network, x: np.ndarray, params, batch: int = 500) -> np.ndarray:
    """Class predictions of the training-time forward pass (for accuracy during training)."""
    head = training_head(net)
    preds = []
    for i in range(0, x.shape[0], batch):
        out, _ = forward(head.layers, x[i : i + batch], params)
        preds.append(out.argmin(axis=1) if head.kind == "distance" else out.argmax(axis=1))
    return np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)
