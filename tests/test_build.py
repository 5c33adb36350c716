"""The cffi build: cached on disk by content, reentrant across threads."""

from __future__ import annotations

import importlib
import threading

import numpy as np
import pytest

import lenetc
from tests.conftest import rand_inputs

build_mod = importlib.import_module("lenetc.build")


def test_second_compile_uses_the_cache(tmp_path, monkeypatch, zoo_nets):
    monkeypatch.setenv("LENETC_CACHE", str(tmp_path / "cache"))
    net = zoo_nets["lenet5-keras"]
    first = lenetc.compile(net, prefix="cached")
    assert first.build_dir.parent == tmp_path / "cache"

    def no_build(*args, **kwargs):
        raise AssertionError("rebuilt although the cache holds this model")

    monkeypatch.setattr(build_mod, "_build", no_build)
    second = lenetc.compile(net, prefix="cached")
    assert second.build_dir == first.build_dir
    x = rand_inputs(net, 4)
    np.testing.assert_array_equal(first(x), second(x))
    # other weights are another source, hence another build
    with pytest.raises(AssertionError, match="rebuilt"):
        lenetc.compile(lenetc.load("lenet5-keras", "random:9"), prefix="cached")


def test_threads_share_a_compiled_network(zoo_nets):
    net = zoo_nets["lenet-caffe"]
    c = lenetc.compile(net)
    inputs = [rand_inputs(net, 16, seed=s) for s in range(4)]
    expected = [c(x) for x in inputs]
    results: dict[int, np.ndarray] = {}

    def work(k: int) -> None:
        for _ in range(5):
            results[k] = c(inputs[k])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        np.testing.assert_array_equal(results[k], expected[k])


def test_source_files_are_kept_with_the_build(zoo_nets):
    c = lenetc.compile(zoo_nets["lenet5"])
    assert all(p.is_file() for p in c.source_files)
    assert "lenet5_run_ws" in c.source_files[1].read_text()
