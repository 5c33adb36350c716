"""``export -o m.tflite`` (issue 23 item 4) and the NPU route (item 5): TFLM runs lenetc's int8
export with the bits of lenetc's C under --requant tflm; LiteRT runs the float32 export within
float32 rounding of lenetc's C; Vela puts every operator of the exported zoo nets on the NPU."""

from __future__ import annotations

import numpy as np
import pytest
from test_tflite import cli, need

import lenetc
from lenetc.datasets import mnist
from lenetc.errors import LenetcError
from lenetc.exporters.tflite_export import save_tflite
from lenetc.quant.reference_int8 import forward_int8
from lenetc.quant.requant_mode import with_requant
from lenetc.reference import forward

ZOO = ["lenet-keras", "lenet5-keras", "lenet-caffe"]
N = 48


@pytest.fixture(scope="module")
def pixels():
    return mnist("test")[0][:N]


@pytest.fixture(scope="module")
def calib():
    return mnist("train")[0][:200]


@pytest.mark.parametrize("model", ZOO)
def test_int8_export_runs_in_tflm_with_lenetc_bits(model, pixels, calib, tmp_path):
    need("tflite_micro")
    from lenetc.tflite_runtime import run

    net = lenetc.load(model)
    qnet = with_requant(lenetc.quantize(net, calib), "tflm")
    path = save_tflite(qnet, tmp_path / f"{model}.tflite")
    xq = qnet.quantize_input(net.preprocess.apply(pixels))
    ours = forward_int8(qnet, xq)
    if model == "lenet5-keras":  # the C itself once (the C equals this reference on every zoo net: test_int8_*)
        assert (lenetc.compile(qnet).run_int8(xq) == ours).all()
    assert (run("tflm", path, xq) == ours).all()
    # and back: the exported file imports with the same integers and preprocessing
    back = lenetc.load(path)
    assert back.net.preprocess == net.preprocess
    assert (forward_int8(back, xq) == ours).all()


@pytest.mark.parametrize("model", ZOO)
def test_float32_export_matches_litert(model, pixels, tmp_path):
    need("ai_edge_litert")
    from lenetc.tflite_runtime import run

    net = lenetc.load(model)
    path = save_tflite(net, tmp_path / f"{model}.tflite")
    x = net.preprocess.apply(pixels)
    # lenetc's float32 C once, the float64 reference (which the C matches: test_codegen) otherwise
    ours = lenetc.compile(net)(x) if model == "lenet5-keras" else forward(net, x)
    ref = run("litert", path, x)
    # the same network in float32 summed in another order: within 1e-5 of the largest output
    assert np.abs(ours - ref).max() <= 1e-5 * np.abs(ref).max()


@pytest.mark.parametrize("name", ["lenet5_tanh", "explicit_pad", "caffe_lenet"])
def test_imported_int8_file_exports_back(name, tmp_path):
    """An int8 TFLite file re-exported (TFLM's tanh/logistic tables, softmax, ReLU6, PAD,
    depthwise, average pooling) runs in TFLM with the bits of the original's NumPy reference."""
    need("tflite_micro")
    from lenetc.tflite_runtime import run

    qnet = lenetc.load(f"tests/fixtures/tflite/{name}_int8.tflite")
    path = save_tflite(qnet, tmp_path / "again.tflite")
    xq = qnet.quantize_input((mnist("test")[0][:N].astype(np.float32) / np.float32(255))[:, None])
    assert (run("tflm", path, xq) == forward_int8(qnet, xq)).all()


def test_tanh_float_export_and_int8_refusals(tmp_path):
    need("ai_edge_litert")
    from lenetc.tflite_runtime import run

    # a float32 network with tanh and average pooling exports (imported fixture, exported again)
    net = lenetc.load("tests/fixtures/tflite/lenet5_tanh.tflite")
    path = save_tflite(net, tmp_path / "t.tflite")
    x = net.preprocess.apply(mnist("test")[0][:16])
    assert np.abs(run("litert", path, x) - lenetc.compile(net)(x)).max() <= 1e-5
    with pytest.raises(LenetcError, match="scaled_tanh"):
        save_tflite(lenetc.load("lenet5-softmax"), tmp_path / "x.tflite")
    r = cli("export", "lenet5", "--dtype", "int8", "-o", str(tmp_path / "y.tflite"), "--calib", "50")
    assert r.returncode == 2 and r.stderr.startswith("lenetc: error:") and len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "y.tflite").exists()


def test_npu_on_a_zoo_net(tmp_path):
    need("ethosu")
    r = cli("npu", "lenet5-keras", "--calib", "100", "-o", str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "operators on the NPU  100.0 %" in r.stdout and "Vela's estimate" in r.stdout
    assert (tmp_path / "lenet5-keras_int8_vela.tflite").is_file()


def test_cli_verify_zoo_net_against_tflm():
    """verify MODEL --against tflm on a zoo net checks lenetc's int8 export of it, bit for bit."""
    need("tflite_micro")
    r = cli("verify", "lenet5-keras", "--dtype", "int8", "--against", "tflm", "-n", "16", "--calib", "100")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "TFLite export" in r.stderr and "100.00 %" in r.stdout and "PASS (bit-exact)" in r.stdout
