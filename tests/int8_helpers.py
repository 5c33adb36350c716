"""Shared helpers for the int8 tests: seeded calibration, quantized zoo nets, extreme inputs."""

from __future__ import annotations

import numpy as np

import lenetc
from lenetc.quant import QuantizedNetwork, quantize

ZOO = ("lenet5", "lenet5-softmax", "lenet-caffe", "lenet-keras", "lenet5-keras")
STRICT = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion", "-Werror"]


def calibration_digits(n: int = 64, seed: int = 7) -> np.ndarray:
    """Random uint8 'digits' (N, 28, 28): sparse ink on background, like MNIST, never all zeros."""
    rng = np.random.default_rng(seed)
    ink = rng.random((n, 28, 28)) < 0.2
    return np.where(ink, rng.integers(64, 256, (n, 28, 28)), 0).astype(np.uint8)


def quantized_zoo(name: str, seed: int = 1, method: str = "percentile") -> QuantizedNetwork:
    return quantize(lenetc.load(name, f"random:{seed}"), calibration_digits(), method=method)


def int8_inputs(shape: tuple[int, ...], n: int = 24, seed: int = 3) -> np.ndarray:
    """Random int8 images plus the extremes: all -128, all 127, alternating, random +-extreme."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (n, *shape)).astype(np.int8)
    x[0] = -128
    x[1] = 127
    x[2] = np.where(np.indices(shape).sum(axis=0) % 2 == 0, -128, 127)
    x[3] = rng.choice(np.array([-128, 127], dtype=np.int8), size=shape)
    return x
