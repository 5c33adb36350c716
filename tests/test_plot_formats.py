"""``eval --plot FILE`` writes PNG, SVG or PDF as FILE's extension says, for the float confusion
matrix and the int8 SQNR chart, and prints where it wrote (issue 11.3)."""

from __future__ import annotations

import json
import math

import pytest

import lenetc
from lenetc.cli import main
from lenetc.evaluate_int8 import plot_sqnr
from lenetc.quant.evaluate import LayerSQNR

MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-"}


@pytest.mark.parametrize("ext", ["png", "svg", "pdf"])
def test_eval_plot_format_follows_extension(tmp_path, capsys, ext):
    pytest.importorskip("matplotlib")
    path = tmp_path / f"eval.{ext}"
    args = ["eval", "lenet5", "--weights", "random:0", "-n", "30", "--backend", "reference", "--plot", str(path)]
    assert main(args) == 0
    assert f"wrote {path}" in capsys.readouterr().out.splitlines()
    data = path.read_bytes()
    if ext == "svg":
        assert data.lstrip().startswith(b"<?xml") and b"<svg" in data[:2000]
    else:
        assert data.startswith(MAGIC[ext])
    # With --json the JSON stays alone on stdout.
    assert main([*args, "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["n"] == 30 and f"wrote {path}" in captured.err


@pytest.mark.parametrize("ext", ["png", "svg", "pdf"])
def test_sqnr_chart_format_follows_extension(tmp_path, ext):
    pytest.importorskip("matplotlib")
    rows = [LayerSQNR("conv1", "conv", 35.0, 0.1), LayerSQNR("fc", "dense", math.inf, 0.0)]
    data = plot_sqnr(rows, tmp_path / f"s.{ext}").read_bytes()
    if ext == "svg":
        assert b"<svg" in data[:2000] and data.rstrip().endswith(b"</svg>")
    else:
        assert data.startswith(MAGIC[ext])


def test_int8_eval_plot_writes_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "sqnr.png"
    args = ["lenet5-keras", "--weights", "random:1", "--dtype", "int8", "--calib", "64", "-n", "50"]
    assert main(["eval", *args, "--sqnr-images", "20", "--plot", str(path)]) == 0
    assert f"wrote {path}" in capsys.readouterr().out
    assert path.read_bytes().startswith(MAGIC["png"])


@pytest.mark.parametrize("name", ["x.jpg", "x", "x.PNG.gz"])
def test_unsupported_plot_extension_is_a_one_line_error_before_evaluating(tmp_path, capsys, monkeypatch, name):
    monkeypatch.setattr(lenetc.models, "load", lambda *a: pytest.fail("evaluated before checking --plot"))
    assert main(["eval", "lenet5", "--weights", "random:0", "--plot", str(tmp_path / name)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lenetc: error: cannot plot to") and ".png, .svg, .pdf" in err
    assert len(err.splitlines()) == 1 and not list(tmp_path.iterdir())


def test_plot_upper_case_extension(tmp_path):
    pytest.importorskip("matplotlib")
    rows = [LayerSQNR("a", "conv", 20.0, 0.1)]
    assert plot_sqnr(rows, tmp_path / "S.PDF").read_bytes().startswith(MAGIC["pdf"])
