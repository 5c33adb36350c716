"""Issue 21 item 12: layer names that spell the C API (``run``, ``run_ws``, ``predict``,
``preprocess``, ``workspace_size``, ``PROBE``...) or another layer's constant (``conv1_weight``
beside ``conv1``) generate C that compiles warning-free and computes the model, from .npz,
ONNX and Keras alike: the C names are renamed deterministically (``_2``)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import STRICT_FLAGS

import lenetc
from lenetc.exporters.onnx_export import to_onnx
from lenetc.ir import RESERVED_C_NAMES
from lenetc.layers import Act, Activation, Conv2D, Dense, Flatten, Pool2D
from lenetc.network import Network
from lenetc.paths import templates_dir
from lenetc.zoo import random_params

#: Reference against C: float32 C against the float64 reference, 1e-4 of the largest output.
REL = 1e-4


def api_named_net() -> Network:
    layers = [
        Conv2D("conv1", out_channels=4, kernel=3),
        Conv2D("conv1_weight", out_channels=4, kernel=3, act=Act("tanh")),
        Pool2D("run", mode="max", kernel=2, stride=2),
        Activation("PROBE", act=Act("leaky_relu", alpha=0.1)),
        Conv2D("predict", out_channels=6, kernel=3),
        Activation("OK", act=Act("sigmoid")),
        Flatten("preprocess"),
        Dense("workspace_size", units=12, act=Act("relu")),
        Dense("run_ws", units=10),
        Activation("pixel_table", act=Act("tanh")),
    ]
    net = Network("api_names", (1, 28, 28), layers)
    net.params = random_params(net, 5)
    return net.validate()


def _digits(n: int = 8) -> np.ndarray:
    rng = np.random.default_rng(2)
    return np.where(rng.random((n, 28, 28)) < 0.3, rng.integers(1, 256, (n, 28, 28)), 0).astype(np.uint8)


@pytest.mark.parametrize("prefix", [None, "NET"])
@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_api_named_layers_compile_strict(tmp_path: Path, prefix, dtype: str) -> None:
    net = api_named_net()
    path = tmp_path / "m.npz"
    lenetc.save(net, path)  # through the .npz importer
    net = lenetc.load(path)
    calib = _digits(32) if dtype == "int8" else None
    gen = lenetc.generate(net, tmp_path / "out", prefix=prefix, dtype=dtype, calibration=calib)
    c = next(p for p in gen.paths if p.suffix == ".c")
    for cc in ("gcc", "clang"):
        proc = subprocess.run([cc, *STRICT_FLAGS, "-c", str(c), "-o", str(tmp_path / "m.o")], capture_output=True)
        assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    text = c.read_text()
    p = gen.symbols.prefix
    assert f"{p}_conv1_weight_2(" in text  # the layer's function, beside conv1's weights
    kernels = set(re.findall(r"static void (\w+)\(", text))
    assert f"{p}_workspace_size_2" in kernels and f"{p}_run_ws_2" in kernels
    assert not kernels & {f"{p}_{r}" for r in RESERVED_C_NAMES}


def test_api_named_layers_compute_the_model() -> None:
    net = api_named_net()
    x = net.preprocess.apply(_digits())
    want = lenetc.forward(net, x)
    got = lenetc.compile(net)(x)
    assert np.abs(got - want).max() <= REL * np.abs(want).max()


def test_onnx_names_are_renamed_too(tmp_path: Path) -> None:
    """The ONNX exporter keeps the layer names as node names; importing them back goes through
    the ONNX importer's naming, then the same reserved C names. (Keras: test_hardening_answers.)"""
    net = api_named_net()
    onnx_path = tmp_path / "api.onnx"
    model = to_onnx(net)
    for node in model.graph.node:  # the exporter's "<layer>_<Op>_<k>" node names -> "<layer>"
        node.name = node.name.rsplit("_", 2)[0]
    onnx.save(model, onnx_path)
    back = lenetc.load(onnx_path)
    assert {"run", "run_ws", "predict", "workspace_size"} <= {layer.name for layer in back.layers}
    x = net.preprocess.apply(_digits())
    want = lenetc.forward(net, x)
    gen = lenetc.generate(back, tmp_path / "o")
    c = next(p for p in gen.paths if p.suffix == ".c")
    proc = subprocess.run(["clang", *STRICT_FLAGS, "-c", str(c), "-o", str(tmp_path / "o.o")], capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert np.abs(lenetc.compile(back)(x) - want).max() <= REL * np.abs(want).max()


def test_every_name_the_templates_define_is_reserved() -> None:
    """The reserved set covers each ``<P>_name`` / ``<PU>_NAME`` the model templates spell out."""
    spelled: set[str] = set()
    for t in ("model.c.j2", "model.h.j2", "model.cdef.j2"):
        spelled |= set(re.findall(r"\{\{ ?PU? ?\}\}_([A-Za-z0-9_]+)", (templates_dir() / t).read_text()))
    assert spelled <= RESERVED_C_NAMES, sorted(spelled - RESERVED_C_NAMES)
