"""Optimisers (Adam, SGD with momentum) and the learning-rate schedule, updating parameters in place."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import LenetcError

OPTIMIZERS = ("adam", "sgd")


def cosine_lr(base: float, step: int, total: int, floor: float = 0.02) -> float:
    """Cosine decay from ``base`` to ``floor * base`` over ``total`` steps."""
    t = min(step / max(total, 1), 1.0)
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t)))


@dataclass
class Optimizer:
    """Adam (Kingma & Ba) or SGD with classical momentum over a dict of parameter arrays."""

    kind: str = "adam"
    momentum: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    step_count: int = 0
    _m: dict[str, np.ndarray] = field(default_factory=dict)
    _v: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in OPTIMIZERS:
            raise LenetcError(f"unknown optimiser '{self.kind}' (known: {', '.join(OPTIMIZERS)})")

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], keys: list[str], lr: float) -> None:
        self.step_count += 1
        t = self.step_count
        for key in keys:
            g = grads[key]
            if self.weight_decay and key.endswith(".weight"):
                g = g + self.weight_decay * params[key]
            if key not in self._m:
                self._m[key] = np.zeros_like(params[key])
                if self.kind == "adam":
                    self._v[key] = np.zeros_like(params[key])
            m = self._m[key]
            if self.kind == "sgd":
                m *= self.momentum
                m += g
                params[key] -= lr * m
                continue
            v = self._v[key]
            m *= self.momentum
            m += (1 - self.momentum) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            scale = lr * math.sqrt(1 - self.beta2**t) / (1 - self.momentum**t)
            params[key] -= (scale * m / (np.sqrt(v) + self.eps)).astype(params[key].dtype)
