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
from lenetc.reference import forward

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
    # lenetc's float32 C on two files, the float64 reference (which the C matches) on the others
    ours = lenetc.compile(net)(digits) if name in ("keras_lenet", "lenet5_tanh") else forward(net, digits)
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


# ---- the generated C of imported files on emulated Cortex-M ------------------------------------


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
def test_imported_file_on_cortex_m(target, tmp_path):
    """lenet5_tanh (tanh tables, average pooling, softmax) and explicit_pad (PAD, depthwise,
    logistic) under TFLM's rule: the firmware prints the NumPy reference's bits (= TFLM's)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from firmware_helpers import need_target

    from lenetc.firmware import make_example, output_checksum, write_example
    from lenetc.firmware.run import build_and_run

    need_target(target)
    digits = mnist("test")[0][:3]
    for name in ("lenet5_tanh", "explicit_pad"):
        qnet = lenetc.load(FIXTURES / f"{name}_int8.tflite")
        bundle = write_example(qnet, tmp_path / name, digits=digits, target=target)
        xq = make_example(bundle.generated.plan, digits).inputs
        want = forward_int8(qnet, xq)
        result = build_and_run(bundle, target)
        assert result.ok, result.stdout
        assert [[int(v) for v in row] for row in result.outputs] == want.reshape(len(want), -1).tolist()
        assert result.checksum == output_checksum(want)


# ---- Vela ----------------------------------------------------------------------------------------


def test_npu_command_runs_vela(tmp_path):
    need("ethosu")
    r = cli("npu", str(FIXTURES / "keras_lenet_int8.tflite"), "--accelerator", "ethos-u55-128", "-o", str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Vela's estimate" in r.stdout and "operators on the NPU  100.0 %" in r.stdout
    assert (tmp_path / "keras_lenet_int8_vela.tflite").is_file()
    r = cli("npu", str(FIXTURES / "keras_lenet.tflite"), "-o", str(tmp_path / "f"))
    assert r.returncode == 2 and "float32 file" in r.stderr


def test_c_input_helpers_round_as_tflm(compiled, digits):
    """The header's quantize helper and the integer pixel map round as TFLM's QUANTIZE: float32
    division, ties away from zero (checked on inputs that land exactly on halves)."""
    qnet = lenetc.load(FIXTURES / "keras_lenet_int8.tflite")
    s = np.float32(qnet.input_q.scale)
    odd = np.arange(-255, 256, 2, dtype=np.float32)
    x = (odd * s / np.float32(2)).astype(np.float32)
    ties = x[(x / s) == odd / np.float32(2)]
    assert ties.size > 20
    x = np.resize(ties, 28 * 28).reshape(1, 1, 28, 28)
    want = tflm.quantize_input(x, qnet.input_q.scale, qnet.input_q.zero_point)
    assert (want != qnet.input_q.quantize(x)).any()  # half to even would differ here
    net = compiled["keras_lenet"]
    assert (net.quantize_input_c(x) == want).all()
    pixels = mnist("test")[0][:8]
    assert (net.preprocess(pixels) == qnet.quantize_input(qnet.net.preprocess.apply(pixels))).all()


# ---- files that state wrong things: one line naming the tensor or operator -------------------


def tiny_fc(tmp_path, in_scale=0.02, bias_scale=None, op="FULLY_CONNECTED") -> Path:
    """A 1-layer int8 graph written with lenetc's TFLite writer (a file lenetc reads back)."""
    from lenetc.exporters.tflite_write import GraphWriter

    g = GraphWriter("test")
    x = g.tensor("x", (1, 1, 1, 4), np.int8, scale=in_scale, zero_point=-3)
    w = g.tensor("w", (2, 4), np.int8, data=np.arange(8).reshape(2, 4), scale=[0.01, 0.02], zero_point=[0, 0])
    bs = [in_scale * 0.01, in_scale * 0.02] if bias_scale is None else bias_scale
    b = g.tensor("b", (2,), np.int32, data=[5, -7], scale=bs, zero_point=[0, 0])
    y = g.tensor("y", (1, 2), np.int8, scale=0.1, zero_point=1)
    g.op(op, [x, w, b], [y], "FullyConnectedOptions" if op == "FULLY_CONNECTED" else None)
    path = tmp_path / "tiny.tflite"
    path.write_bytes(g.serialize([x], [y]))
    return path


def test_tiny_file_matches_tflm(tmp_path):
    path = tiny_fc(tmp_path)
    qnet = lenetc.load(path)
    xq = np.arange(-128, 128, 2, dtype=np.int8).reshape(-1, 4, 1, 1)  # lenetc's (N, C, H, W)
    ours = forward_int8(qnet, xq)
    assert (ours == run_tflm(path, xq).reshape(ours.shape)).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"in_scale": 0.0}, "quantization of 'x': scale 0.0 is zero"),
        ({"in_scale": float("nan")}, "quantization of 'x': scale nan is NaN"),
        ({"bias_scale": [0.5, 0.5]}, "bias 'b': scale 0.5 .* is not input scale x weight scale"),
        ({"op": "ADD"}, r"operator 0 \(ADD\) is not supported"),
    ],
)
def test_wrong_files_refused_in_one_line(tmp_path, kwargs, message):
    path = tiny_fc(tmp_path, **kwargs)
    with pytest.raises(LenetcError, match=message):
        lenetc.load(path)
