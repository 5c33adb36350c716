"""Issue 28 item 3: the CLI gaps a new user hit, each checked against an independent computation."""

from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import pytest
from firmware_helpers import need_target

import lenetc
from lenetc import datasets
from lenetc.cli import build_parser, join_dash_values, main
from lenetc.firmware.bundle import EXAMPLE_RAM_BYTES
from lenetc.quant.reference_int8 import forward_float
from lenetc.reference import forward, predict_classes


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    images, labels = datasets.mnist("test")
    path = tmp_path_factory.mktemp("npy") / "batch.npy"
    np.save(path, images[:6])
    return path, images[:6], labels[:6]


def _json(capsys, *args):
    capsys.readouterr()
    assert main([str(a) for a in args]) == 0
    return json.loads(capsys.readouterr().out)


def test_predict_a_npy_batch(capsys, digits):
    path, images, _ = digits
    net = lenetc.load("lenet5-keras")
    answers = _json(capsys, "predict", "lenet5-keras", path, "--json", "--backend", "reference")
    assert [a["image"] for a in answers] == [f"{path}[{i}]" for i in range(6)]
    want = predict_classes(net, forward(net, net.preprocess.apply(images)))
    assert [a["digit"] for a in answers] == list(want)


def test_predict_int8_runs_the_int8_network(capsys, digits):
    path, images, _ = digits
    net = lenetc.load("lenet5")
    qnet = lenetc.quantize(net)
    x = net.preprocess.apply(images)
    want = predict_classes(net, forward_float(qnet, x))  # the NumPy integer reference
    for backend in ("c", "reference"):
        answers = _json(capsys, "predict", "lenet5", path, "--dtype", "int8", "--backend", backend, "--json")
        assert [a["digit"] for a in answers] == list(want)
        probs = np.array([a["probabilities"] for a in answers])
        assert probs.shape == (6, 10)


def test_generate_json_lists_files_sizes_and_symbols(capsys, tmp_path):
    doc = _json(capsys, "generate", "lenet5-keras", "--dtype", "int8", "-o", tmp_path, "--json")
    assert {f["name"] for f in doc["files"]} == {"lenet5_keras.c", "lenet5_keras.h"}
    for f in doc["files"]:
        assert (tmp_path / f["name"]).stat().st_size == f["bytes"]
    header = (tmp_path / "lenet5_keras.h").read_text()
    for fn in doc["functions"]:
        assert re.search(rf"\b{fn}\(", header)
    assert "lenet5_keras_run" in doc["functions"] and "LENET5_KERAS_ARENA_BYTES" in doc["macros"]
    arena = int(re.search(r"#define LENET5_KERAS_ARENA_BYTES (\d+)", header).group(1))
    assert doc["memory"]["arena_bytes"] == arena and doc["dtype"] == "int8"


def test_generate_example_with_a_ram_budget_links_and_runs(capsys, tmp_path):
    need_target("cortex-m4")
    budget = 4000
    doc = _json(capsys, "generate", "lenet5-keras", "--dtype", "int8", "--example", "--target", "cortex-m4",
                "--ram-bytes", budget, "-o", tmp_path, "--json")  # fmt: skip
    assert doc["memory"]["arena_bytes"] + doc["memory"]["stack_bytes"] <= budget
    run = subprocess.run(["make", "-s", "-C", str(tmp_path), "TARGET=cortex-m4", "run",
                          f"RAM_LENGTH={budget + EXAMPLE_RAM_BYTES}"], capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 0 and "OK" in run.stdout, run.stdout + run.stderr


@pytest.mark.parametrize(
    "argv, attr, want",
    [
        (["profile", "lenet5", "--opt", "-O3"], "opt", "-O3"),
        (["eval", "lenet5", "--offset", "-1e-1"], "offset", -0.1),
        (["info", "lenet5", "--scale", "-1e-2"], "scale", -0.01),
    ],
)
def test_dash_values_parse_as_the_readme_writes_them(argv, attr, want):
    args = build_parser().parse_args(join_dash_values(argv))
    assert getattr(args, attr) == want


def test_joining_leaves_other_arguments_alone():
    assert join_dash_values(["predict", "m", "--", "--opt", "-x"]) == ["predict", "m", "--", "--opt", "-x"]
    assert join_dash_values(["eval", "m", "--offset", "0.5"]) == ["eval", "m", "--offset", "0.5"]
