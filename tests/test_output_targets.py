"""Output files given as an existing directory or inside an unwritable one fail with one line
before any work (evaluation, training), and finished files get the umask's mode."""

from __future__ import annotations

import importlib.util
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import lenetc


def cli(*args, umask: int | None = None):
    pre = (lambda: os.umask(umask)) if umask is not None else None
    return subprocess.run(
        [sys.executable, "-m", "lenetc", *map(str, args)], capture_output=True, text=True, preexec_fn=pre
    )


@pytest.fixture
def unwritable(tmp_path) -> Path:
    """A directory in which creating a file fails: mode 0500, or for root (who ignores modes) /sys."""
    if os.geteuid() != 0:
        d = tmp_path / "ro"
        d.mkdir()
        d.chmod(0o500)
        yield d
        d.chmod(0o700)
        return
    d = Path("/sys")
    try:
        (d / ".lenetc-probe").write_text("x")
    except OSError:
        yield d
        return
    pytest.skip("no unwritable directory available")


def one_error_line(out) -> str:
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ("eval", "lenet5", "--plot", "{dir}"),
        ("eval", "lenet5", "--dtype", "int8", "--calib", "50", "--plot", "{dir}"),
        ("export", "lenet5", "-o", "{dir}"),
        ("train", "lenet5", "-o", "{dir}", "--epochs", "1", "--limit", "64", "--quiet"),
    ],
)
def test_existing_directory_as_output_file(tmp_path, args):
    target = tmp_path / "adir"
    target.mkdir()
    out = cli(*(a.format(dir=target) for a in args))
    assert one_error_line(out) == f"lenetc: error: cannot write '{target}': it is a directory (give a file name)"
    assert out.stdout == "" and list(target.iterdir()) == []  # no evaluation or training ran, nothing written


@pytest.mark.parametrize(
    "args",
    [
        ("eval", "lenet5", "--plot", "{dir}/m.png"),
        ("train", "lenet5", "-o", "{dir}/w.npz", "--epochs", "1", "--limit", "64", "--quiet"),
        ("export", "lenet5", "-o", "{dir}/m.onnx"),
    ],
)
def test_unwritable_directory_fails_before_the_work(unwritable, args):
    out = cli(*(a.format(dir=unwritable) for a in args))
    line = one_error_line(out)
    assert line.startswith("lenetc: error: cannot write '") and f"directory '{unwritable}' is not writable" in line
    assert out.stdout == ""  # train logs 'training ...' and eval prints its accuracy only after the check


def test_python_api_save_to_a_directory(tmp_path):
    with pytest.raises(lenetc.LenetcError, match="it is a directory"):
        lenetc.save(lenetc.load("lenet5"), tmp_path)


def test_files_get_the_umask_mode(tmp_path):
    """mkstemp creates 0600; the finished .npz, .onnx and .png must be 0644 under umask 022."""
    assert cli("train", "lenet5", "-o", tmp_path / "w.npz", "--epochs", "1", "--limit", "32", "--quiet",
               umask=0o022).returncode == 0  # fmt: skip
    assert cli("eval", "lenet5", "-n", "20", "--plot", tmp_path / "p.png", umask=0o022).returncode == 0
    files = [tmp_path / "w.npz", tmp_path / "p.png"]
    if importlib.util.find_spec("onnx"):
        assert cli("export", "lenet5", "-o", tmp_path / "m.onnx", umask=0o022).returncode == 0
        files.append(tmp_path / "m.onnx")
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o644, f
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f.name for f in files)  # no temp files left
