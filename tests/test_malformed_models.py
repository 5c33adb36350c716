"""Malformed models from every importer (.npz, ONNX, Keras): one LenetcError line naming the
layer or node, never a ZeroDivisionError, a traceback or C that computes nonsense."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import lenetc

onnx = pytest.importorskip("onnx")
h5py = pytest.importorskip("h5py")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def save_npz(path, arch: object, params: dict[str, np.ndarray]):
    arrays = dict(params)
    arrays["__arch__"] = np.array(arch if isinstance(arch, str) else json.dumps(arch))
    np.savez(path, **arrays)
    return path


def caffe_arch_and_params():
    net = lenetc.load("lenet-caffe", "random:0")
    return json.loads(net.arch_json()), dict(net.params)


def _layer(arch, name):
    return next(ly for ly in arch["layers"] if ly["name"] == name)


NPZ_CASES = {
    "conv stride 0": (lambda a: _layer(a, "conv1").update(stride=[0, 0]), r"layer 'conv1': stride must be at least 1"),
    "conv groups 0": (lambda a: _layer(a, "conv1").update(groups=0), r"layer 'conv1': groups must be at least 1"),
    "conv kernel 0": (lambda a: _layer(a, "conv2").update(kernel=[0, 5]), r"layer 'conv2': kernel must be at least 1"),
    "conv padding -1": (lambda a: _layer(a, "conv1").update(padding=[-1, 0, 0, 0]), r"padding must be at least 0"),
    "conv stride text": (lambda a: _layer(a, "conv1").update(stride="11"), r"'stride' must be integers, got '11'"),
    "pool kernel 0": (
        lambda a: _layer(a, "pool1").update(kernel=[0, 0], stride=[1, 1]),
        r"layer 'pool1': kernel must be at least 1",
    ),
    "pool stride 0": (lambda a: _layer(a, "pool1").update(stride=[0, 0]), r"layer 'pool1': stride must be at least 1"),
    "pool pad = kernel": (
        lambda a: _layer(a, "pool1").update(padding=[2, 2, 2, 2]),
        r"layer 'pool1': padding \[2, 2, 2, 2\] must be smaller than the window",
    ),
    "dense 0 units": (lambda a: _layer(a, "ip1").update(units=0), r"layer 'ip1': units must be at least 1"),
    "scale NaN": (lambda a: a["preprocess"].update(scale=float("nan")), r"preprocess scale must be a finite number"),
    "scale 0": (lambda a: a["preprocess"].update(scale=0), r"preprocess scale must not be 0"),
    "offset inf": (lambda a: a["preprocess"].update(offset=float("inf")), r"preprocess offset must be a finite"),
    "pad -1": (lambda a: a["preprocess"].update(pad=-1), r"preprocess pad must be an integer from 0 to 1024, got -1"),
    "pad 2.5": (lambda a: a["preprocess"].update(pad=2.5), r"preprocess pad must be an integer"),
    "preprocess list": (lambda a: a.update(preprocess=[1, 2]), r"preprocess must be an object"),
    "leaky alpha NaN": (
        lambda a: _layer(a, "ip1").update(act={"fn": "leaky_relu", "alpha": float("nan")}),
        r"alpha must be finite",
    ),
    "layers not objects": (lambda a: a.update(layers=["conv1"]), r"every layer must be an object"),
}


@pytest.mark.parametrize("case", list(NPZ_CASES))
def test_malformed_npz_architecture_is_one_line_error(tmp_path, case):
    mutate, message = NPZ_CASES[case]
    arch, params = caffe_arch_and_params()
    mutate(arch)
    with pytest.raises(lenetc.LenetcError, match=message):
        lenetc.load(save_npz(tmp_path / "bad.npz", arch, params))


@pytest.mark.parametrize("text", ['["lenet"]', "3", '"a string"'])
def test_arch_json_must_be_an_object(tmp_path, text):
    _, params = caffe_arch_and_params()
    with pytest.raises(lenetc.LenetcError, match="architecture JSON must be an object"):
        lenetc.load(save_npz(tmp_path / "bad.npz", text, params))


def test_pool_kernel_0_used_to_compile_to_minus_huge_valf():
    """Before: Pool2D(kernel=0, stride=1) was accepted and its C wrote -HUGE_VALF."""
    with pytest.raises(lenetc.LenetcError, match="kernel must be at least 1"):
        lenetc.Pool2D("p", kernel=0, stride=1)
    with pytest.raises(lenetc.LenetcError, match="stride must be at least 1"):
        lenetc.Conv2D("c", out_channels=2, kernel=3, stride=0)


def test_cli_malformed_npz_exits_2_with_one_line(tmp_path):
    arch, params = caffe_arch_and_params()
    _layer(arch, "conv1")["stride"] = [0, 0]
    path = save_npz(tmp_path / "bad.npz", arch, params)
    out = subprocess.run([sys.executable, "-m", "lenetc", "info", str(path)], capture_output=True, text=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        "lenetc: error: architecture JSON is malformed: layer 'conv1': stride must be at least 1, got (0, 0)"
    ]


# ---- ONNX ------------------------------------------------------------------------------------


def conv_onnx(path, weight: np.ndarray, pool: dict | None = None, **conv_attrs):
    """input (1, 1, 8, 8) -> Conv 'conv' [-> MaxPool 'pool'] -> output."""
    nodes = [helper.make_node("Conv", ["x", "W"], ["y"], name="conv", **conv_attrs)]
    out = "y"
    if pool is not None:
        nodes.append(helper.make_node("MaxPool", ["y"], ["z"], name="pool", **pool))
        out = "z"
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(weight, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, path)
    return model


W = np.random.default_rng(0).normal(size=(2, 1, 3, 3)).astype(np.float32)

ONNX_CASES = {
    "stride 0": (dict(strides=[0, 0]), r"node 'conv' \(Conv\): kernel \[3, 3\], strides \[0, 0\]"),
    "stride 0 SAME": (dict(strides=[0, 0], auto_pad="SAME_UPPER"), r"node 'conv' \(Conv\): .*strides \[0, 0\]"),
    "group 0": (dict(group=0), r"node 'conv' \(Conv\): weight shape \[2, 1, 3, 3\] with group=0"),
    "kernel_shape contradicts W": (
        dict(kernel_shape=[5, 5]),
        r"node 'conv' \(Conv\): kernel_shape \[5, 5\] contradicts weight shape \[2, 1, 3, 3\]",
    ),
}


@pytest.mark.parametrize("case", list(ONNX_CASES))
def test_malformed_onnx_conv_names_the_node(tmp_path, case):
    attrs, message = ONNX_CASES[case]
    conv_onnx(tmp_path / "m.onnx", W, **attrs)
    with pytest.raises(lenetc.LenetcError, match=message):
        lenetc.load(tmp_path / "m.onnx")


@pytest.mark.parametrize("dtype", [np.int64, np.bool_, np.float16, np.float64])
def test_onnx_conv_weight_of_another_type_is_refused(tmp_path, dtype):
    conv_onnx(tmp_path / "m.onnx", (W * 3).astype(dtype))
    with pytest.raises(lenetc.LenetcError, match=rf"node 'conv' \(Conv\): weight W has type {np.dtype(dtype)}"):
        lenetc.load(tmp_path / "m.onnx")


@pytest.mark.parametrize(
    "pool, message",
    [
        (dict(kernel_shape=[0, 0]), r"node 'pool' \(MaxPool\): kernel \[0, 0\]"),
        (dict(kernel_shape=[2, 2], pads=[2, 2, 2, 2]), r"node 'pool' \(MaxPool\): .*must be smaller than the window"),
    ],
)
def test_malformed_onnx_pool_names_the_node(tmp_path, pool, message):
    conv_onnx(tmp_path / "m.onnx", W, pool=pool)
    with pytest.raises(lenetc.LenetcError, match=message):
        lenetc.load(tmp_path / "m.onnx")


def test_onnx_negative_initializer_dimension(tmp_path):
    model = conv_onnx(tmp_path / "m.onnx", W)
    model.graph.initializer[0].dims[0] = -2
    onnx.save(model, tmp_path / "m.onnx")
    with pytest.raises(lenetc.LenetcError, match=r"initializer 'W' has a negative dimension \[-2, 1, 3, 3\]"):
        lenetc.load(tmp_path / "m.onnx")


def test_onnxruntime_failure_in_verify_is_one_line(tmp_path, monkeypatch, capsys):
    ort = pytest.importorskip("onnxruntime")
    from onnxruntime.capi.onnxruntime_pybind11_state import Fail

    from lenetc.cli import main
    from lenetc.exporters.onnx_export import save_onnx

    def failing_run(self, *args, **kwargs):
        raise Fail("[ONNXRuntimeError] : 1 : FAIL : Non-zero status code returned while running Conv node.")

    monkeypatch.setattr(ort.InferenceSession, "run", failing_run)
    path = tmp_path / "m.onnx"
    save_onnx(lenetc.load("lenet-caffe", "random:0"), path)
    status = main(["verify", str(path), "--against", "onnxruntime", "-n", "4", "--inputs", "random"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.strip().splitlines() == [
        "lenetc: error: ONNX Runtime failed to run the model: [ONNXRuntimeError] : 1 : FAIL : "
        "Non-zero status code returned while running Conv node."
    ]


def test_verify_n_0_is_a_user_error():
    out = subprocess.run(
        [sys.executable, "-m", "lenetc", "verify", "lenet5", "-n", "0", "--inputs", "random"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and out.stderr.strip() == "lenetc: error: -n must be at least 1, got 0"


# ---- Keras -------------------------------------------------------------------------------------


def keras_h5(path, conv_cfg: dict, model_config: str | None = None):
    """A Keras 2 .h5: Input (8, 8, 1) -> Conv2D 'conv' (2 filters, 3x3) -> Flatten -> Dense 'fc' (3)."""
    layers = [
        {"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [None, 8, 8, 1]}},
        {"class_name": "Conv2D", "config": {"name": "conv", "filters": 2, "kernel_size": [3, 3], **conv_cfg}},
        {"class_name": "Flatten", "config": {"name": "flat"}},
        {"class_name": "Dense", "config": {"name": "fc", "units": 3}},
    ]
    rng = np.random.default_rng(1)
    out_hw = 8 if conv_cfg.get("padding") == "same" else 6
    weights = {"conv": [rng.normal(size=(3, 3, 1, 2)), rng.normal(size=2)],
               "fc": [rng.normal(size=(out_hw * out_hw * 2, 3)), rng.normal(size=3)]}  # fmt: skip
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = model_config or json.dumps(
            {"class_name": "Sequential", "config": {"name": "s", "layers": layers}}
        )
        mw = f.create_group("model_weights")
        for name, arrays in weights.items():
            g = mw.create_group(name)
            g.attrs["weight_names"] = [f"{name}/{i}".encode() for i in range(len(arrays))]
            for i, a in enumerate(arrays):
                g.create_dataset(f"{name}/{i}", data=a.astype(np.float32))
    return path


@pytest.mark.parametrize(
    "conv_cfg, message",
    [
        ({"strides": [0, 0], "padding": "same"}, r"Keras layer 'conv' \(Conv2D\): window .* strides \[0, 0\]"),
        ({"strides": [0, 0]}, r"Keras layer 'conv' \(Conv2D\): .*strides \[0, 0\]"),
        ({"groups": 0}, r"Keras layer 'conv' \(Conv2D\): layer 'conv': groups must be at least 1"),
    ],
)
def test_malformed_keras_layer_names_the_layer(tmp_path, conv_cfg, message):
    with pytest.raises(lenetc.LenetcError, match=message):
        lenetc.load(keras_h5(tmp_path / "m.h5", conv_cfg))


def test_keras_h5_model_config_not_json(tmp_path):
    path = keras_h5(tmp_path / "m.h5", {}, model_config='{"class_name": "Sequential", "config": ')
    with pytest.raises(lenetc.LenetcError, match=r"model_config is not valid JSON"):
        lenetc.load(path)


def test_keras3_config_not_utf8(tmp_path):
    path = tmp_path / "m.keras"
    buf = io.BytesIO()
    with h5py.File(buf, "w"):
        pass
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", b'{"class_name": "Sequential\xff\xfe"}')
        zf.writestr("model.weights.h5", buf.getvalue())
    with pytest.raises(lenetc.LenetcError, match=r"config.json is not UTF-8 text"):
        lenetc.load(path)
