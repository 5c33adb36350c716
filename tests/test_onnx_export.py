"""ONNX export: every zoo net (and the Affine layer) round-trips through ONNX Runtime.

ONNX Runtime runs the exported file; its output must equal lenetc's NumPy float64 reference
within 1e-5 of the largest output magnitude (ORT computes in float32; LeNet-5's sparse C3
and subsampling are re-expressed as dense and depthwise convolutions, which sum the same
terms in another order). Re-importing the export must give back the same function.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import lenetc  # noqa: E402
from lenetc.exporters.onnx_export import run_onnxruntime, to_onnx  # noqa: E402
from lenetc.importers.onnx_load import import_model  # noqa: E402
from lenetc.zoo import ZOO  # noqa: E402

REL = 1e-5


def rel_err(got, want) -> float:
    return float(np.abs(np.asarray(got, np.float64) - want).max() / np.abs(want).max())


@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_export_matches_numpy_reference_in_onnxruntime(name):
    net = lenetc.load(name, "random:7")
    model = to_onnx(net)
    onnx.checker.check_model(model, full_check=True)
    ops = {n.op_type for n in model.graph.node}
    assert ops <= {"Conv", "MaxPool", "AveragePool", "Flatten", "Transpose", "Gemm", "Relu", "Tanh", "Mul", "Add",
                   "Softmax", "LogSoftmax", "Unsqueeze", "Sub", "ReduceSum", "Identity"}  # fmt: skip
    x = np.random.default_rng(1).uniform(-0.1, 1.175, size=(8, *net.input_shape)).astype(np.float32)
    want = lenetc.forward(net, x)
    assert rel_err(run_onnxruntime(net, x), want) <= REL
    back = import_model(model, name.replace("-", "_"))
    assert rel_err(lenetc.forward(back, x), want) <= REL
    assert back.output_kind == net.output_kind


def test_sparse_c3_and_subsampling_are_standard_ops():
    net = lenetc.load("lenet5", "random:3")
    model = to_onnx(net)
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    c3 = inits["C3.weight"]
    # Unconnected (output map, input map) pairs of the C3 table carry all-zero kernels.
    zero_maps = (np.abs(c3).sum(axis=(2, 3)) == 0).astype(np.uint8)
    assert (zero_maps == 1 - net.params["C3.table"]).all()
    s2 = next(n for n in model.graph.node if n.input[1:2] == ["S2.weight"])
    assert s2.op_type == "Conv" and {a.name: a.i for a in s2.attribute if a.name == "group"} == {"group": 6}


def test_affine_layer_exports():
    from lenetc import Conv2D, Dense, Network
    from lenetc.layers import Affine

    rng = np.random.default_rng(5)
    layers = [Affine("norm", per="tensor"), Conv2D("c", out_channels=3, kernel=3), Affine("scale", per="element"),
              Dense("d", units=4), Affine("chan", per="channel")]  # fmt: skip
    net = Network("aff", (1, 6, 6), layers)
    shapes = net.shapes()
    net.params = {
        f"{layer.name}.{k}": rng.normal(size=s).astype(np.float32)
        for layer, ins in zip(layers, shapes[:-1], strict=True)
        for k, s in layer.param_shapes(ins).items()
    }
    net.validate()
    x = rng.normal(size=(3, 1, 6, 6)).astype(np.float32)
    assert rel_err(run_onnxruntime(net, x), lenetc.forward(net, x)) <= REL
    assert rel_err(lenetc.compile(net)(x), lenetc.forward(net, x)) <= REL


def _cli(argv):
    from lenetc import cli

    return cli.main(argv)


def test_export_command_writes_a_checked_file(tmp_path, capsys):
    out = tmp_path / "lenet5.onnx"
    assert _cli(["export", "lenet5", "--weights", "random:2", "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    onnx.checker.check_model(str(out), full_check=True)
    net = lenetc.load("lenet5", "random:2")
    x = np.random.default_rng(0).uniform(size=(2, 1, 32, 32)).astype(np.float32)
    assert rel_err(run_onnxruntime(out, x), lenetc.forward(net, x)) <= REL
    # the exported file is itself a lenetc model
    assert rel_err(lenetc.forward(lenetc.load(out), x), lenetc.forward(net, x)) <= REL


def test_export_command_rejects_a_bad_opset(tmp_path, capsys):
    out = tmp_path / "x.onnx"
    assert _cli(["export", "lenet-caffe", "-o", str(out), "--opset", "9"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not out.exists()


def test_run_onnxruntime_single_image_returns_a_vector():
    net = lenetc.load("lenet-keras", "random:1")
    x = np.random.default_rng(2).uniform(size=net.input_shape).astype(np.float32)
    out = run_onnxruntime(net, x)
    assert out.shape == (10,)
    assert rel_err(out, lenetc.forward(net, x)) <= REL


def test_verify_and_bench_helpers(tmp_path):
    import sys
    from pathlib import Path

    from lenetc.exporters.onnx_export import onnxruntime_outputs, save_onnx

    net = lenetc.load("lenet5-keras", "random:4")
    x = np.random.default_rng(6).uniform(size=(3, *net.input_shape)).astype(np.float32)
    out, label = onnxruntime_outputs("lenet5-keras", net, x)
    assert out.shape == (3, 10) and "export" in label and rel_err(out, lenetc.forward(net, x)) <= REL
    path = save_onnx(net, tmp_path / "m.onnx")
    out, label = onnxruntime_outputs(str(path), lenetc.load(path), x)
    assert str(path) in label and rel_err(out, lenetc.forward(net, x)) <= REL

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from bench_onnxruntime import onnxruntime_engine, onnxruntime_rows

    got = onnxruntime_engine(net)(x)[0]
    assert rel_err(got, lenetc.forward(net, x)) <= REL
    rows = onnxruntime_rows(net, x, repeats=5)
    assert rows["batch1_us"] > 0 and rows["batch64_img_per_s"] > 0


@pytest.mark.parametrize("name", ["lenet5", "lenet5-softmax"])
def test_lenet5_round_trip_recovers_the_paper_layers(name):
    """Export then import gives back C3's connection table (from its zero kernels), trainable
    subsampling (from the depthwise conv) and the scaled tanh (from Mul -> Tanh -> Mul)."""
    net = lenetc.load(name, "random:8")
    back = import_model(to_onnx(net), "back")
    kinds = [(layer.kind, getattr(layer, "act", None)) for layer in back.layers if layer.kind != "flatten"]
    assert kinds == [(layer.kind, getattr(layer, "act", None)) for layer in net.layers]
    assert back.layers[2].sparse and (back.params[f"{back.layers[2].name}.table"] == net.params["C3.table"]).all()
    assert back.totals()["params"] == net.totals()["params"]
    x = np.random.default_rng(3).uniform(-0.1, 1.175, size=(4, 1, 32, 32)).astype(np.float32)
    assert rel_err(lenetc.compile(back)(x), lenetc.forward(net, x)) <= REL
