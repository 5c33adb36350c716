"""Shared fixtures: tiny networks with hand-set weights and a compiled-network factory."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import lenetc

ZOO_NAMES = ("lenet5", "lenet5-softmax", "lenet-caffe", "lenet-keras", "lenet5-keras")
STRICT_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion", "-Werror"]


def compilers() -> list[str]:
    return [cc for cc in ("gcc", "clang") if shutil.which(cc)]


@pytest.fixture(scope="session")
def zoo_nets() -> dict[str, lenetc.Network]:
    return {name: lenetc.load(name, "random:1") for name in ZOO_NAMES}


def rand_inputs(net: lenetc.Network, n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=(n, *net.input_shape)).astype(np.float32)
