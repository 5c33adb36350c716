"""``lenetc eval``: accuracy of the shipped weights with the compiled C, agreement with the
NumPy reference, the confusion matrix, JSON and the picture."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from lenetc import datasets, models, reference
from lenetc.cli import main
from lenetc.errors import LenetcError
from lenetc.evaluate import EvalReport, evaluate, format_report

#: Test accuracy each shipped network must reach with the compiled C (issue 3).
TARGETS = {"lenet5": 0.989, "lenet5-softmax": 0.989, "lenet-caffe": 0.990, "lenet-keras": 0.991, "lenet5-keras": 0.989}


def shipped(name: str):
    if models.shipped_weights(name) is None:
        pytest.skip(f"no shipped weights for {name}")
    return models.load(name)


@pytest.mark.parametrize("name", list(TARGETS))
def test_shipped_weights_reach_target_in_c(name):
    report = evaluate(shipped(name), backend="c")
    assert report.n == 10000
    assert report.accuracy >= TARGETS[name], f"{name}: {report.accuracy:.4f}"


@pytest.mark.parametrize("name", list(TARGETS))
def test_c_agrees_with_reference(name):
    """The compiled C and the float64 reference predict the same class for every digit.

    1,000 digits keep the (einsum-based, deliberately simple) reference fast enough; the full
    10,000 are compared in lenetc/weights/README.md."""
    net = shipped(name)
    c = evaluate(net, backend="c", n=1000)
    ref = evaluate(net, backend="reference", n=1000)
    np.testing.assert_array_equal(c.predictions, ref.predictions)
    assert ref.dtype == "float64" and c.dtype == "float32"


def test_confusion_matrix_and_text():
    labels = np.array([0, 0, 1, 2, 2, 2, 9])
    preds = np.array([0, 1, 1, 2, 2, 7, 9])
    report = EvalReport("m", "c", "float32", 7, labels, preds, 0.5, 0.1, "h", np.zeros((7, 28, 28), np.uint8))
    matrix = report.confusion
    assert matrix.sum() == 7 and matrix[0, 0] == 1 and matrix[0, 1] == 1 and matrix[2, 7] == 1 and matrix[9, 9] == 1
    assert report.correct == 5 and report.accuracy == pytest.approx(5 / 7)
    text = format_report(report)
    assert "71.43 % (5/7)" in text and "confusion matrix" in text
    data = report.to_json()
    assert data["errors"] == 2 and data["confusion"][2] == [0, 0, 2, 0, 0, 0, 0, 1, 0, 0]


def test_eval_command_json(capsys):
    assert main(["eval", "lenet5", "--weights", "random:3", "-n", "200", "--backend", "reference", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"model", "backend", "dtype", "n", "accuracy", "confusion", "seconds"} <= set(data)
    assert data["model"] == "lenet5" and data["backend"] == "reference" and data["n"] == 200
    # Independent check of the accuracy figure.
    net = models.load("lenet5", "random:3")
    x, y = datasets.mnist_inputs(net, 200)
    assert data["accuracy"] == pytest.approx((reference.predict_classes(net, reference.forward(net, x)) == y).mean())


def test_eval_command_text(capsys):
    assert main(["eval", "lenet5-keras", "--weights", "random:1", "-n", "100"]) == 0
    out = capsys.readouterr().out
    assert "lenet5-keras (c, float32)" in out and "row: true digit" in out


def test_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "eval.png"
    assert (
        main(["eval", "lenet5", "--weights", "random:0", "-n", "60", "--backend", "reference", "--plot", str(png)]) == 0
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*"))  # no temp file left behind


def test_plot_without_matplotlib(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code = main(
        [
            "eval",
            "lenet5",
            "--weights",
            "random:0",
            "-n",
            "20",
            "--backend",
            "reference",
            "--plot",
            str(tmp_path / "x.png"),
        ]
    )
    assert code == 2
    assert "needs matplotlib" in capsys.readouterr().err


def test_eval_errors(tmp_path, capsys):
    assert main(["eval", "lenet5", "--weights", "random:0", "--data", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(LenetcError, match="backend"):
        evaluate(models.load("lenet5", "random:0"), backend="gpu", n=5)
