"""The cffi build: cached on disk by content, safe to run from several threads and processes.

Outputs are compared with the NumPy float64 reference at ``verify``'s tolerance (1e-5 of the
largest output: float32 rounding plus the 3e-7 tanh/exp approximations stay near 1e-6).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import lenetc
from lenetc import cache as build_cache
from lenetc import extension
from tests.conftest import rand_inputs

ROOT = Path(__file__).resolve().parents[1]
#: A subprocess compiles MODEL with weights random:SEED and checks it against the reference.
COMPILE_AND_CHECK = textwrap.dedent(
    """
    import sys, numpy as np, lenetc
    net = lenetc.load(sys.argv[1], "random:" + sys.argv[2])
    x = np.random.default_rng(0).uniform(-1, 1, size=(8, *net.input_shape)).astype(np.float32)
    ref = lenetc.forward(net, x)
    err = np.abs(lenetc.compile(net)(x) - ref).max() / np.abs(ref).max()
    print("ok" if err <= 1e-5 else f"error {err}")
    """
)


def close_to_reference(net: lenetc.Network, got: np.ndarray, x: np.ndarray) -> bool:
    ref = lenetc.forward(net, x)
    return bool(np.abs(got - ref).max() <= 1e-5 * np.abs(ref).max())


def run_python(code: str, *args: str, cache: Path, **kwargs) -> subprocess.CompletedProcess:
    env = dict(os.environ, LENETC_CACHE=str(cache), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, **kwargs)


def hidden_dirs(cache: Path) -> list[str]:
    """Build directories in progress or left behind (the lock directory is expected)."""
    return sorted(p.name for p in cache.iterdir() if p.name.startswith(".") and p.name != ".locks")


def test_second_compile_uses_the_cache(tmp_path, monkeypatch, zoo_nets):
    monkeypatch.setenv("LENETC_CACHE", str(tmp_path / "cache"))
    net = zoo_nets["lenet5-keras"]
    first = lenetc.compile(net, prefix="cached")
    assert first.build_dir.parent == tmp_path / "cache"

    def no_build(*args, **kwargs):
        raise AssertionError("rebuilt although the cache holds this model")

    monkeypatch.setattr(extension, "build", no_build)
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
    assert not list(c.build_dir.glob("*.o"))  # objects duplicate the weights: not kept


def test_threads_compiling_the_same_and_different_models_all_succeed(tmp_path, monkeypatch):
    monkeypatch.setenv("LENETC_CACHE", str(tmp_path / "cache"))
    nets = [lenetc.load("lenet5-keras", "random:21"), lenetc.load("lenet5", "random:22")]
    x = {id(net): rand_inputs(net, 8, seed=3) for net in nets}

    def compile_and_run(net: lenetc.Network) -> bool:
        return close_to_reference(net, lenetc.compile(net)(x[id(net)]), x[id(net)])

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(compile_and_run, nets * 4))
    assert len([p for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")]) == 2
    assert hidden_dirs(tmp_path / "cache") == []


def test_compile_never_changes_the_working_directory(tmp_path, monkeypatch):
    """cffi's ffi.compile does os.chdir, which moves every thread of the process."""
    monkeypatch.setenv("LENETC_CACHE", str(tmp_path / "cache"))

    def no_chdir(path):
        raise AssertionError(f"os.chdir({path!r}) during compile")

    monkeypatch.setattr(os, "chdir", no_chdir)
    net = lenetc.load("lenet5-keras", "random:23")
    x = rand_inputs(net, 4)
    assert close_to_reference(net, lenetc.compile(net)(x), x)


def test_processes_compiling_one_model_at_once_all_succeed(tmp_path):
    cache = tmp_path / "cache"
    env = dict(os.environ, LENETC_CACHE=str(cache), PYTHONPATH=str(ROOT))
    argv = [sys.executable, "-c", COMPILE_AND_CHECK, "lenet5-keras", "24"]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, "env": env}
    procs = [subprocess.Popen(argv, **pipes) for _ in range(3)]
    results = [(*p.communicate(timeout=300), p.returncode) for p in procs]
    assert all(rc == 0 and out.strip() == "ok" for out, _, rc in results), results
    assert len([p for p in cache.iterdir() if not p.name.startswith(".")]) == 1
    assert hidden_dirs(cache) == []


def test_truncated_extension_is_rebuilt_not_loaded(tmp_path, monkeypatch):
    """A half-written .so would kill the loading process with SIGBUS: run it in a subprocess."""
    cache = tmp_path / "cache"
    first = run_python(COMPILE_AND_CHECK, "lenet5-keras", "25", cache=cache, timeout=300)
    assert first.returncode == 0 and first.stdout.strip() == "ok", first.stderr
    [so] = cache.glob(f"*/*{sysconfig.get_config_var('EXT_SUFFIX')}")
    size = so.stat().st_size
    os.truncate(so, size // 2)
    second = run_python(COMPILE_AND_CHECK, "lenet5-keras", "25", cache=cache, timeout=300)
    assert second.returncode == 0 and second.stdout.strip() == "ok", (second.returncode, second.stderr[-2000:])
    assert so.stat().st_size == size
    monkeypatch.setenv("LENETC_CACHE", str(cache))
    assert [e.valid for e in build_cache.summary().entries] == [True]


def test_killed_build_leaves_no_temp_dir_behind(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    hang_cc = tmp_path / "hang-cc"
    # a compiler that never finishes the model's own C file, so the build can be killed mid-way
    hang_cc.write_text('#!/bin/sh\nfor a; do case "$a" in hang.c) sleep 600;; esac; done\nexec gcc "$@"\n')
    hang_cc.chmod(0o755)
    code = "import lenetc; lenetc.compile(lenetc.load('lenet5-keras', 'random:26'), prefix='hang')"
    env = dict(os.environ, LENETC_CACHE=str(cache), PYTHONPATH=str(ROOT), CC=str(hang_cc))
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not list(cache.glob(".*/hang.c")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert list(cache.glob(".*/hang.c")), "the build never started"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert len(hidden_dirs(cache)) == 1
    monkeypatch.setenv("LENETC_CACHE", str(cache))
    monkeypatch.delenv("CC", raising=False)
    net = lenetc.load("lenet5-keras", "random:26")
    x = rand_inputs(net, 4)
    assert close_to_reference(net, lenetc.compile(net, prefix="hang")(x), x)
    assert hidden_dirs(cache) == []


def test_compiler_fallback_when_python_records_no_cc(monkeypatch, zoo_nets):
    monkeypatch.delenv("CC", raising=False)
    real = sysconfig.get_config_var
    monkeypatch.setattr(sysconfig, "get_config_var", lambda name: None if name == "CC" else real(name))
    net = zoo_nets["lenet5-keras"]
    x = rand_inputs(net, 4)
    assert close_to_reference(net, lenetc.compile(net)(x), x)
