"""Issue 21 items 10 and 21: what lenetc says. A guessed preprocessing is announced by every
command that uses it and written into the generated header; misleading messages are replaced
by one-line errors that name the real problem."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

import lenetc
from lenetc.exporters.onnx_export import to_onnx

HERE = Path(__file__).parent
NOTE = "lenetc: note: MNIST preprocessing"


def run_cli(*args: str, env: dict | None = None, cwd: str | Path | None = None) -> subprocess.CompletedProcess:
    e = {**os.environ, "PYTHONPATH": str(HERE.parent), **(env or {})}
    return subprocess.run([sys.executable, "-m", "lenetc", *args], capture_output=True, text=True, env=e, cwd=cwd)


def one_line_error(proc: subprocess.CompletedProcess, *words: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-500:], proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lenetc: error: "), proc.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


# ---- item 10: the guessed preprocessing is announced -------------------------------------------


@pytest.fixture(scope="module")
def foreign_onnx(tmp_path_factory) -> Path:
    """lenet5-keras as a foreign ONNX file: no lenetc metadata, so lenetc guesses x = pixel / 255."""
    model = to_onnx(lenetc.load("lenet5-keras", "random:2"))
    del model.metadata_props[:]
    path = tmp_path_factory.mktemp("foreign") / "foreign.onnx"
    onnx.save(model, path)
    assert lenetc.load(path).preprocess.guessed
    return path


@pytest.mark.parametrize(
    "argv",
    [["generate", "-o", "{out}"], ["generate", "--dtype", "int8", "--calib", "20", "-o", "{out}"],
     ["size", "--dtype", "int8", "--calib", "20", "--target", "host"],
     ["export", "--dtype", "int8", "--calib", "20", "-o", "{out}/q.onnx"], ["confidence", "-n", "20"]],
    ids=["generate", "generate-int8", "size-int8", "export-int8", "confidence"],
)  # fmt: skip
def test_every_command_using_the_guess_says_so(foreign_onnx: Path, tmp_path: Path, argv) -> None:
    proc = run_cli(argv[0], str(foreign_onnx), *(a.format(out=tmp_path) for a in argv[1:]))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr.count(NOTE) == 1, proc.stderr
    assert "guess" in proc.stderr


def test_generated_header_says_the_preprocessing_was_guessed(foreign_onnx: Path, tmp_path: Path) -> None:
    for dtype in ("float32", "int8"):
        gen = lenetc.generate(lenetc.load(foreign_onnx), tmp_path / dtype, dtype=dtype,
                              calibration=None if dtype == "float32" else _digits())  # fmt: skip
        header = next(p for p in gen.paths if p.suffix == ".h").read_text()
        assert "preprocessing GUESSED by lenetc" in header and "pixel * 0.00392156863" in header
    stated = lenetc.generate(lenetc.load("lenet5"), tmp_path / "zoo")
    assert "GUESSED" not in next(p for p in stated.paths if p.suffix == ".h").read_text()


def _digits():
    import numpy as np

    rng = np.random.default_rng(0)
    return np.where(rng.random((16, 28, 28)) < 0.2, 200, 0).astype(np.uint8)
