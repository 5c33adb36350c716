"""Every file lenetc writes gets the umask's mode (0666 & ~umask) and appears atomically
(issue 11.2)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from lenetc.errors import LenetcError
from lenetc.fileio import write_file, write_files_atomic

# One run of each writer: generate, the firmware bundle, train -o, export, eval --plot (float) and
# the int8 SQNR chart (plot_sqnr is what `eval --dtype int8 --plot` calls).
WRITERS = """
import sys
from lenetc.cli import main
from lenetc.evaluate_int8 import plot_sqnr
from lenetc.quant.evaluate import LayerSQNR
out = sys.argv[1]
w = ["--weights", "random:1"]
assert main(["generate", "lenet5-keras", *w, "-o", out + "/gen"]) == 0
assert main(["generate", "lenet5-keras", *w, "-o", out + "/fw", "--example"]) == 0
assert main(["train", "lenet5-keras", "--limit", "64", "--epochs", "1", "--quiet", "-o", out + "/w.npz"]) == 0
assert main(["export", "lenet5-keras", *w, "-o", out + "/m.onnx"]) == 0
assert main(["eval", "lenet5-keras", *w, "-n", "20", "--backend", "reference", "--plot", out + "/e.png"]) == 0
plot_sqnr([LayerSQNR("a", "conv", 30.0, 0.1)], out + "/s.svg")
"""


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_get_the_umask_mode(tmp_path, umask):
    pytest.importorskip("onnx")
    pytest.importorskip("matplotlib")
    env = {**os.environ, "LENETC_CACHE": str(tmp_path / "cache")}
    out = tmp_path / "out"
    out.mkdir()
    run = subprocess.run(
        [sys.executable, "-c", WRITERS, str(out)], capture_output=True, text=True, umask=umask, env=env, timeout=600
    )
    assert run.returncode == 0, run.stderr
    files = sorted(p for p in out.rglob("*") if p.is_file())
    names = {p.relative_to(out).as_posix() for p in files}
    assert {"gen/lenet5_keras.c", "fw/main.c", "fw/Makefile", "w.npz", "m.onnx", "e.png", "s.svg"} <= names
    assert not [n for n in names if Path(n).name.startswith(".")]  # no temporary file left behind
    want = 0o666 & ~umask
    modes = {p.relative_to(out).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in files}
    assert modes == dict.fromkeys(modes, want), {n: oct(m) for n, m in modes.items() if m != want}


def test_write_files_atomic_replaces_and_leaves_no_temp(tmp_path):
    (tmp_path / "a.txt").write_text("old")
    paths = write_files_atomic(tmp_path, {"a.txt": "new", "b.bin": b"\x00\x01"})
    assert paths == [tmp_path / "a.txt", tmp_path / "b.bin"]
    assert (tmp_path / "a.txt").read_text() == "new" and (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


def test_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text("old")

    def no_space(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(LenetcError, match=r"cannot write '.*a.txt': No space left on device"):
        write_file(tmp_path / "a.txt", "new")
    assert (tmp_path / "a.txt").read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    with pytest.raises(LenetcError, match="does not exist"):
        write_file(tmp_path / "none" / "x", "y")
