"""The CLI end to end, in a subprocess, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np


def lenetc(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "lenetc", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_version_and_help():
    out = lenetc("--version")
    assert out.returncode == 0 and out.stdout.startswith("lenetc ")
    out = lenetc("--help")
    assert out.returncode == 0 and "generate" in out.stdout and "verify" in out.stdout


def test_generate_then_verify(tmp_path):
    out = lenetc("generate", "lenet-keras", "--weights", "random:2", "-o", tmp_path / "gen", "--prefix", "kn")
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in (tmp_path / "gen").iterdir()) == ["kn.c", "kn.h"]
    assert "kn_run_ws" in (tmp_path / "gen" / "kn.h").read_text()
    out = lenetc("verify", "lenet-keras", "--weights", "random:2", "-n", "16", "--inputs", "random")
    assert out.returncode == 0, out.stderr
    assert "PASS" in out.stdout and "argmax agreement     100.00 %" in out.stdout


def test_verify_fails_past_tolerance():
    out = lenetc("verify", "lenet5", "--weights", "random:2", "-n", "4", "--inputs", "random", "--tolerance", "1e-15")
    assert out.returncode == 1 and "FAIL" in out.stdout


def test_info_table_and_npz_model(tmp_path):
    import lenetc as lc

    path = lc.save(lc.load("lenet5-keras", "random:5"), tmp_path / "m.npz")
    out = lenetc("info", path)
    assert out.returncode == 0, out.stderr
    assert "61,706" in out.stdout and "fc1" in out.stdout
    doc = json.loads(lenetc("info", path, "--json").stdout)
    assert doc["totals"]["params"] == 61_706 and doc["model"] == "lenet5-keras"


def test_user_errors_exit_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"garbage")
    nan = tmp_path / "nan.npz"
    import lenetc as lc

    net = lc.load("lenet-caffe", "random:1")
    arrays = {k: v.copy() for k, v in net.params.items()}
    arrays["ip1.weight"][10, 20] = np.nan
    np.savez(nan, **arrays)
    cases = [
        (("info", "lenet7"), "unknown model 'lenet7'"),
        (("info", bad), "cannot read weights file"),
        (("verify", "lenet-caffe", "--weights", nan), "'ip1.weight'"),
        (("generate", "lenet5", "-o", bad / "sub"), "Not a directory"),
        (("generate", "lenet5", "-o", tmp_path / "o", "--prefix", "a-b"), "not a C identifier"),
    ]
    for args, message in cases:
        out = lenetc(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert message in out.stderr and "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_generate_example_bundle(tmp_path):
    out = lenetc("generate", "lenet5-keras", "--weights", "random:1", "-o", tmp_path / "fw", "--example")
    assert out.returncode == 0, out.stderr
    names = {p.name for p in (tmp_path / "fw").iterdir()}
    assert {"lenet5_keras.c", "lenet5_keras.h", "main.c", "Makefile", "CMakeLists.txt", "startup.c"} <= names
    assert any(n.startswith("link_cortex-m4") for n in names)
    run = subprocess.run(["make", "-s", "-C", str(tmp_path / "fw"), "run"], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "checksum fnv1a32" in run.stdout and "OK" in run.stdout


def test_verify_against_onnxruntime():
    import pytest

    pytest.importorskip("onnxruntime")
    out = lenetc(
        "verify", "lenet5", "--weights", "random:3", "-n", "8", "--inputs", "random", "--against", "onnxruntime"
    )
    assert out.returncode == 0, out.stderr
    assert "vs ONNX Runtime on the ONNX export" in out.stdout and "PASS" in out.stdout


def test_eval_int8_reports_both_accuracies_and_sqnr():
    out = lenetc(
        "eval", "lenet5-keras", "--dtype", "int8", "-n", "300", "--calib", "200", "--sqnr-images", "50", "--json"
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["images"] == 300 and 0.9 < doc["accuracy_int8"] <= 1.0 and 0.9 < doc["accuracy_float32"] <= 1.0
    assert [layer["name"] for layer in doc["layers"]][:2] == ["conv1", "pool1"]
