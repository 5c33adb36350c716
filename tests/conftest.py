"""Shared fixtures: tiny networks with hand-set weights and a compiled-network factory.

Every run gets its own build cache, shared by all xdist workers and removed at the end, so
tests never read or fill the user's ``~/.cache/lenetc``; ``LENETC_TEST_CACHE=DIR`` keeps
one between runs instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np
import pytest

import lenetc

ZOO_NAMES = ("lenet5", "lenet5-softmax", "lenet-caffe", "lenet-keras", "lenet5-keras")
STRICT_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion", "-Werror"]


TEST_CACHE_KEY = "lenetc_cache"
_OWNED_CACHE = pytest.StashKey[str | None]()


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: use the controller's cache
        os.environ["LENETC_CACHE"] = config.workerinput[TEST_CACHE_KEY]
        return
    kept = os.environ.get("LENETC_TEST_CACHE")
    path = kept or tempfile.mkdtemp(prefix="lenetc-test-cache-")
    config.stash[_OWNED_CACHE] = None if kept else path
    os.environ["LENETC_CACHE"] = path


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist: hand the controller's cache directory to each worker."""
    node.workerinput[TEST_CACHE_KEY] = os.environ["LENETC_CACHE"]


def pytest_unconfigure(config: pytest.Config) -> None:
    owned = config.stash.get(_OWNED_CACHE, None)
    if owned:
        shutil.rmtree(owned, ignore_errors=True)


def compilers() -> list[str]:
    return [cc for cc in ("gcc", "clang") if shutil.which(cc)]


@pytest.fixture(scope="session")
def zoo_nets() -> dict[str, lenetc.Network]:
    return {name: lenetc.load(name, "random:1") for name in ZOO_NAMES}


def rand_inputs(net: lenetc.Network, n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=(n, *net.input_shape)).astype(np.float32)
