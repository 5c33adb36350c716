"""Keras models as people write them (issue 28 item 1), saved by Keras 3 itself and checked
against Keras's own ``predict``: functional chains, Rescaling as the stated preprocessing,
ZeroPadding2D, Reshape, DepthwiseConv2D, BatchNormalization after Dense, elu / silu / swish /
hard_sigmoid. Tolerance 1e-5 of the largest output, as tests/test_keras3_files.py: Keras
computes in float32, lenetc's reference in float64 and its C in float32 in other orders."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lenetc
from lenetc.quant.reference_int8 import forward_int8
from lenetc.reference import forward

REL = 1e-5
HERE = Path(__file__).parent
MODELS = [f"{m}.{ext}" for m in ("functional", "flat_input") for ext in ("keras", "h5")]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("keras") is None or importlib.util.find_spec("jax") is None,
    reason="needs keras and jax (in the test extra)",
)


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("keras_user")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, str(HERE / "keras_user_models.py"), str(out)], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


@pytest.mark.parametrize("file", MODELS)
def test_matches_keras_predict(saved, file):
    net = lenetc.load(saved / file)
    data = np.load(saved / f"{Path(file).stem}.npz")
    # the Rescaling layer is the model's own statement of its preprocessing
    assert not net.preprocess.guessed and "Rescaling" in net.preprocess.source
    x = net.preprocess.apply(data["pixels"])
    want = data["y"].astype(np.float64)
    scale = np.abs(want).max()
    assert np.abs(forward(net, x) - want).max() <= REL * scale
    got = lenetc.compile(net)(x)
    assert np.abs(got.astype(np.float64) - want).max() <= REL * scale


def test_layers_become_what_keras_computes(saved):
    net = lenetc.load(saved / "functional.keras")
    kinds = [(ly.kind, getattr(getattr(ly, "act", None), "fn", None)) for ly in net.layers]
    assert ("conv2d", "elu") in kinds and ("conv2d", "silu") in kinds and ("dense", "hard_sigmoid") in kinds
    depthwise = [ly for ly in net.layers if ly.kind == "conv2d" and ly.groups > 1]
    assert len(depthwise) == 1 and depthwise[0].groups == 6 and depthwise[0].out_channels == 12
    first = net.layers[0]
    assert first.padding == (2, 2, 2, 2)  # the ZeroPadding2D, folded into the convolution
    assert net.preprocess.scale == pytest.approx(1 / 255) and net.preprocess.offset == -0.5
    flat = lenetc.load(saved / "flat_input.h5")
    assert flat.input_shape == (1, 28, 28) and flat.layers[0].padding == (1, 2, 2, 1)


@pytest.mark.parametrize("file", ["functional.keras", "flat_input.keras"])
def test_int8_c_is_bit_exact_with_the_integer_reference(saved, file):
    """elu, silu and hard_sigmoid go through int8 lookup tables like tanh; the calibration reads
    raw digits through the Rescaling-stated preprocessing."""
    net = lenetc.load(saved / file)
    pixels = np.load(saved / f"{Path(file).stem}.npz")["pixels"]
    qnet = lenetc.quantize(net, pixels)
    xq = qnet.quantize_input(net.preprocess.apply(pixels))
    compiled = lenetc.compile(qnet)
    np.testing.assert_array_equal(compiled.run_int8(xq), forward_int8(qnet, xq))


def test_branching_model_is_refused_in_one_line(saved):
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    cmd = [sys.executable, "-m", "lenetc", "info", str(saved / "branching.keras")]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert run.returncode == 2
    assert run.stderr.startswith("lenetc: error:") and len(run.stderr.splitlines()) == 1
    assert "plain chain" in run.stderr


@pytest.mark.parametrize("file", ["functional.keras", "flat_input.h5"])
def test_verify_against_keras(saved, file, capsys):
    """Keras itself runs the file: the raw pixels its Rescaling reads, in its own layout."""
    from lenetc.cli import main

    os.environ.setdefault("KERAS_BACKEND", "jax")
    assert main(["verify", str(saved / file), "--against", "keras", "-n", "16", "--min-accuracy", "0"]) == 0
    out = capsys.readouterr().out
    assert "Keras on" in out and "PASS" in out
    # the same comparison with a tolerance no float32 computation meets: it really compares
    assert main(["verify", str(saved / file), "--against", "keras", "-n", "16", "--inputs", "random",
                 "--tolerance", "1e-12"]) == 1  # fmt: skip
    assert "FAIL: error above tolerance" in capsys.readouterr().out
