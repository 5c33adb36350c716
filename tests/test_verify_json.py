"""``verify --json`` (issue 28 item 3): every comparison as one JSON object carrying the same numbers
as the text report, checked against an independent computation of those numbers."""

from __future__ import annotations

import json

import numpy as np

import lenetc
from lenetc import datasets
from lenetc.cli import main
from lenetc.reference import forward, predict_classes


def _json(capsys, *args) -> tuple[int, dict]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    return code, json.loads(capsys.readouterr().out)


def test_float32_json_matches_the_numbers(capsys):
    code, doc = _json(capsys, "verify", "lenet5-keras", "-n", 40, "--json")
    net = lenetc.load("lenet5-keras")
    x, labels = datasets.mnist_inputs(net, 40)
    ref = forward(net, x)
    got = lenetc.compile(net)(x).astype(np.float64)
    assert code == 0 and doc["pass"] is True and doc["dtype"] == "float32" and doc["inputs"] == "40 MNIST test digits"
    assert doc["max_abs"] == np.abs(got - ref).max()
    assert doc["reference_accuracy"] == float((predict_classes(net, ref) == labels).mean())
    assert doc["argmax_agreement"] == 1.0 and doc["tolerance"] == 1e-5


def test_failures_are_reported_in_json_too(capsys):
    code, doc = _json(capsys, "verify", "lenet5-keras", "-n", 8, "--inputs", "random", "--tolerance", "1e-12", "--json")
    assert code == 1 and doc["pass"] is False and doc["verdict"].startswith("FAIL")


def test_int8_json(capsys):
    code, doc = _json(capsys, "verify", "lenet5-keras", "-n", 20, "--dtype", "int8", "--json")
    assert code == 0 and doc["outputs"] == 200 and doc["differing"] == 0 and doc["pass"] is True
