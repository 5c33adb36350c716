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

    path = lc.load("lenet5-keras", "random:5").save(tmp_path / "m.npz")
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
        (("generate", "lenet5", "-o", bad / "sub"), "cannot write to output directory"),
        (("generate", "lenet5", "-o", tmp_path / "o", "--prefix", "a-b"), "not a C identifier"),
    ]
    for args, message in cases:
        out = lenetc(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert message in out.stderr and "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
