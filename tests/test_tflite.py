"""TFLite import and ``--requant tflm`` (issue 23), checked against the real interpreters:
TensorFlow Lite Micro (tflite-micro) for int8 files, bit for bit, and LiteRT for float32 files.
The fixtures were made by TensorFlow's TFLiteConverter (tests/fixtures/tflite/make_fixtures.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lenetc
from lenetc import fixedpoint_tflm as tflm
from lenetc.datasets import mnist
from lenetc.errors import LenetcError
from lenetc.quant.qnetwork import QuantizedNetwork
from lenetc.quant.reference_int8 import forward_int8
from lenetc.quant.requant_mode import with_requant

FIXTURES = Path(__file__).parent / "fixtures" / "tflite"
NETS = ["keras_lenet", "lenet5_tanh", "caffe_lenet", "same3x3", "explicit_pad"]
N = 64


def need(module: str):
    """The optional runtime ``module``; a test skips without it, but fails under CI (CI=true)."""
    try:
        return __import__(module)
    except ImportError:
        msg = f"{module} is not installed: pip install '.[test]'"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    images, _ = mnist("test")
    return (images[:N].astype(np.float32) / np.float32(255.0))[:, None]


def run_tflm(path: Path, x: np.ndarray) -> np.ndarray:
    need("tflite_micro")
    from lenetc.tflite_runtime import run

    return run("tflm", path, x)


# ---- TFLM's arithmetic on hand-computed cases ---------------------------------------------------


def test_gemmlowp_rounding_hand_cases():
    # SaturatingRoundingDoublingHighMul: round(a b / 2^31), ties toward +inf; the one overflow saturates
    assert int(tflm.srdhm(1 << 30, 1 << 30)) == 1 << 29
    assert int(tflm.srdhm(1, 1 << 30)) == 1  # +0.5 -> 1
    assert int(tflm.srdhm(-1, 1 << 30)) == 0  # -0.5 -> 0
    assert int(tflm.srdhm(-(1 << 31), -(1 << 31))) == (1 << 31) - 1
    # RoundingDivideByPOT: ties away from zero
    assert [int(tflm.rdbpot(v, 1)) for v in (5, -5, 4, -4, 3, -3)] == [3, -3, 2, -2, 2, -2]
    # QuantizeMultiplier: 0.75 = 0.75 * 2^0 -> M = 0.75 * 2^31, exponent 0
    assert tflm.quantize_multiplier(0.75) == (3 << 29, 0)
    assert tflm.quantize_multiplier(0.0) == (0, 0)


def test_requantize_double_rounding_differs_from_single():
    # acc * M / 2^31 lands just below a half after the first rounding step and on it after:
    # M = 2^30 + 1 (about 0.5), shift 2: exact 0.5 * 13 / 4 = 1.625... ; find a case by search
    acc = np.arange(-4096, 4096)
    m, exponent = 1431655765, -3  # (2/3) * 2^31, / 8
    double = tflm.multiply_by_quantized_multiplier(acc, m, exponent)
    exact = acc * m / 2.0 ** (31 - exponent)
    single = np.sign(exact) * np.floor(np.abs(exact) + 0.5)
    assert np.abs(double - single).max() == 1 and (double != single).any()


# ---- int8 files: NumPy reference and C against the real TFLM interpreter ------------------------


@pytest.mark.parametrize("io", ["int8", "int8_fio"])
@pytest.mark.parametrize("name", NETS)
def test_int8_reference_matches_tflm(name, io, digits):
    path = FIXTURES / f"{name}_{io}.tflite"
    qnet = lenetc.load(path)
    assert isinstance(qnet, QuantizedNetwork) and qnet.requant == "tflm"
    xq = qnet.quantize_input(digits)
    ours = forward_int8(qnet, xq)
    if io == "int8":
        ref = run_tflm(path, xq)
    else:  # float in, float out: TFLM quantizes and dequantizes itself
        out = run_tflm(path, digits)
        ref = np.rint(out / np.float32(qnet.output_q.scale)) + qnet.output_q.zero_point
    assert ours.shape == ref.shape
    assert (ours == ref).all(), f"{int((ours != ref).sum())} of {ref.size} outputs differ"


@pytest.fixture(scope="module")
def compiled():
    return {name: lenetc.compile(lenetc.load(FIXTURES / f"{name}_int8.tflite")) for name in NETS}


@pytest.mark.parametrize("name", NETS)
def test_int8_c_matches_reference(name, compiled, digits):
    qnet = lenetc.load(FIXTURES / f"{name}_int8.tflite")
    xq = qnet.quantize_input(digits)
    assert (compiled[name].run_int8(xq) == forward_int8(qnet, xq)).all()


def test_portable_c_matches_reference(digits):
    """The portable kernels (what Cortex-M without DSP and unknown CPUs get) under TFLM's rule."""
    qnet = lenetc.load(FIXTURES / "lenet5_tanh_int8.tflite")
    xq = qnet.quantize_input(digits)
    net = lenetc.compile(qnet, flags=["-std=c99", "-O2", "-ffp-contract=off", "-fPIC"])
    assert (net.run_int8(xq) == forward_int8(qnet, xq)).all()


def test_requant_modes_on_a_file(digits):
    """--requant int on a TFLite file is lenetc's single rounding: no longer TFLM's bits everywhere
    (a 1-LSB difference before the softmax can grow to a few LSB after it), same answers."""
    qnet = lenetc.load(FIXTURES / "lenet5_tanh_int8.tflite")
    xq = qnet.quantize_input(digits)
    single = forward_int8(with_requant(qnet, "int"), xq)
    assert with_requant(with_requant(qnet, "int"), "tflm").layers[0].mult.tolist() == qnet.layers[0].mult.tolist()
    double = forward_int8(qnet, xq)
    assert (single != double).any()
    assert (single.argmax(1) == double.argmax(1)).mean() >= 0.95


# ---- float32 files against LiteRT ---------------------------------------------------------------


@pytest.mark.parametrize("name", NETS)
def test_float32_c_matches_litert(name, digits):
    need("ai_edge_litert")
    from lenetc.tflite_runtime import run

    path = FIXTURES / f"{name}.tflite"
    net = lenetc.load(path)
    ours = lenetc.compile(net)(digits)
    ref = run("litert", path, digits)
    # float32 sums in another order (LiteRT's XNNPACK kernels): within 1e-5 of the output scale
    assert np.abs(ours - ref).max() <= 1e-5 * np.abs(ref).max()
    assert (ours.argmax(1) == ref.argmax(1)).all()


# ---- command line --------------------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    return subprocess.run([sys.executable, "-m", "lenetc", *args], capture_output=True, text=True, env=env)


def test_cli_verify_against_tflm():
    need("tflite_micro")
    r = cli("verify", str(FIXTURES / "same3x3_int8_fio.tflite"), "--against", "tflm", "-n", "32")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "identical elements   100.00 %" in r.stdout and "0 LSB" in r.stdout


@pytest.mark.parametrize(
    "data, message",
    [
        (b"not a flatbuffer at all", "not a TensorFlow Lite file"),
        (None, "malformed TensorFlow Lite file"),
    ],
)
def test_bad_files_one_line(tmp_path, data, message):
    path = tmp_path / "bad.tflite"
    if data is None:  # a real file cut short: its tables point past the end
        data = (FIXTURES / "keras_lenet_int8.tflite").read_bytes()[:3000]
    path.write_bytes(data)
    with pytest.raises(LenetcError, match=message):
        lenetc.load(path)
    r = cli("info", str(path))
    assert r.returncode == 2 and r.stderr.startswith("lenetc: error:") and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
