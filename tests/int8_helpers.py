"""Shared helpers for the int8 tests: seeded calibration, quantized zoo nets, extreme inputs."""

from __future__ import annotations

import numpy as np

import lenetc
from lenetc.layers import Act, Activation, Conv2D, Dense, Flatten, Pool2D, Softmax
from lenetc.network import Network
from lenetc.quant import QuantizedNetwork, quantize
from lenetc.zoo import random_params

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


def _beyond_zoo() -> Network:
    """Every other layer kind and option: padding, stride, groups, average pooling with
    padding (both count modes, ceil mode), stand-alone and fused activations through tables."""
    layers = [
        Conv2D("c1", out_channels=4, kernel=3, padding=1, act=Act("sigmoid")),
        Pool2D("p1", mode="avg", kernel=3, stride=2, padding=1, count_include_pad=True),
        Conv2D("c2", out_channels=6, kernel=3, stride=2, padding=(1, 0, 1, 0), groups=2),
        Activation("a2", act=Act("leaky_relu", alpha=0.1)),
        Pool2D("p2", mode="avg", kernel=2, stride=2, ceil_mode=True),
        Conv2D("c3", out_channels=8, kernel=2, act=Act("tanh")),
        Pool2D("p3", mode="max", kernel=2, stride=1, padding=1),
        Flatten("f", order="HWC"),
        Dense("d1", units=20, act=Act("clip", lo=-1.0, hi=1.0)),
        Activation("a3", act=Act("relu")),
        Dense("d2", units=10),
        Softmax("sm", log=True),
    ]
    net = Network("beyond", (1, 16, 16), layers)
    net.params = random_params(net, 4)
    return net.validate()


def quantized_beyond_zoo() -> QuantizedNetwork:
    net = _beyond_zoo()
    return quantize(net, np.random.default_rng(1).uniform(0, 1, (64, 1, 16, 16)).astype(np.float32))
