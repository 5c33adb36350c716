"""Quantized ONNX in (issue 22 items 2-4): files made by onnxruntime.quantization (QDQ and
QOperator, per-tensor and per-channel weights, int8 and uint8 activations; tests/ort_quant_fixtures.py
makes them at test time from three zoo nets) import with their own scales, and lenetc's
integer network gives ONNX Runtime's integer outputs; a hand-made mnist-12-int8 style QOperator
chain; dynamic quantization refused by its name; lenetc's QDQ export imports back to the same
constants and C output bits.

Reference: ONNX Runtime on the file itself (default optimizations: its fused integer kernels),
the last integer layer's quantized tensor read as an extra graph output. Integer requantization
may round a value the other way from ONNX Runtime's float rule (a product within rounding error
of a half): at most 1 LSB, on at most 1 % of the outputs here (these nets have random weights; the
10,000-digit figures for trained ones are benchmarks/qdq_agreement.py's). Float requantization is ONNX Runtime's
own rule; ONNX Runtime 1.32 still computes some per-tensor Gemms of QDQ files in float
(DequantizeLinear -> Gemm -> QuantizeLinear, a float sum), so it too is held to 1 LSB on 0.1 %.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import lenetc
from lenetc.datasets import mnist_inputs
from lenetc.errors import LenetcError
from lenetc.exporters.onnx_int8_run import onnxruntime_int8
from lenetc.kinds import QLinear
from lenetc.network import Network
from lenetc.quant import QuantizedNetwork, forward_int8, with_requant

pytest.importorskip("onnxruntime.quantization")
from ort_quant_fixtures import quantize_zoo  # noqa: E402

NETS = ("lenet-caffe", "lenet-keras", "lenet5-keras")
N = 64


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ortq")
    cache: dict[tuple, Path] = {}

    def get(name: str, fmt: str, per_channel: bool, act: str) -> Path:
        key = (name, fmt, per_channel, act)
        if key not in cache:
            cache[key] = quantize_zoo(name, fmt, per_channel, act, tmp)
        return cache[key]

    return get


def _agreement(qnet: QuantizedNetwork, path: Path, x: np.ndarray) -> tuple[float, int, float]:
    ref, _ = onnxruntime_int8(qnet, x, path)
    got = forward_int8(qnet, qnet.quantize_input(x)).reshape(ref.shape).astype(np.int64)
    d = np.abs(got - ref)
    return float((d == 0).mean()), int(d.max()), float((got.argmax(1) == ref.argmax(1)).mean())


@pytest.mark.parametrize("act", ["s8", "u8"])
@pytest.mark.parametrize("per_channel", [False, True], ids=["pt", "pc"])
@pytest.mark.parametrize("fmt", ["QDQ", "QOperator"])
@pytest.mark.parametrize("name", NETS)
def test_onnxruntime_file_imports_with_its_own_scales(fixtures, name, fmt, per_channel, act):
    path = fixtures(name, fmt, per_channel, act)
    qnet = lenetc.load(path)
    assert isinstance(qnet, QuantizedNetwork) and qnet.method == "file" and qnet.notes["format"] == fmt
    # the file's own activation type: uint8 zero points land 128 lower in lenetc's int8
    model = onnx.load(str(path))
    zps = [t for t in model.graph.initializer if t.data_type in (TensorProto.UINT8, TensorProto.INT8)]
    assert {t.data_type for t in zps} >= {TensorProto.UINT8 if act == "u8" else TensorProto.INT8}
    x, _ = mnist_inputs(qnet.net, N)
    for mode, least in (("int", 0.99), ("float", 0.999)):
        identical, max_lsb, argmax = _agreement(with_requant(qnet, mode), path, x)
        assert identical >= least and max_lsb <= 1 and argmax >= 0.99, (mode, identical, max_lsb, argmax)


def test_per_channel_files_are_identical_with_float_requantization(fixtures):
    """Where ONNX Runtime runs every layer on its integer kernels, --requant float is bit-exact."""
    for name in NETS:
        path = fixtures(name, "QOperator", True, "u8")
        qnet = with_requant(lenetc.load(path), "float")
        x, _ = mnist_inputs(qnet.net, N)
        assert _agreement(qnet, path, x) == (1.0, 0, 1.0), name


def test_verify_against_onnxruntime_cli(fixtures, capsys):
    """The compiled C (not only the NumPy reference) against ONNX Runtime, through the command line."""
    from lenetc.cli import main

    path = fixtures("lenet5-keras", "QDQ", True, "u8")
    assert main(["verify", str(path), "--against", "onnxruntime", "-n", "200", "--requant", "float"]) == 0
    out = capsys.readouterr().out
    assert "identical outputs    100.000 %" in out and "max difference       0 LSB" in out and "PASS" in out
    assert "int8, --requant float" in out


@pytest.mark.parametrize("mode", ["int", "float"])
def test_imported_file_on_cortex_m4_gives_the_host_bits(fixtures, tmp_path, mode):
    """The C of an imported QOperator file (uint8 activations) under QEMU on the Cortex-M4 (DSP
    kernels) prints the integer reference's outputs, which are ONNX Runtime's (checked above)."""
    from firmware_helpers import need_target

    from lenetc.firmware import make_example, write_example
    from lenetc.firmware.digits import synthetic_digits
    from lenetc.firmware.run import build_and_run

    need_target("cortex-m4")
    qnet = with_requant(lenetc.load(fixtures("lenet5-keras", "QOperator", True, "u8")), mode)
    digits = synthetic_digits(3, seed=22)
    bundle = write_example(qnet, tmp_path, digits=digits, target="cortex-m4")
    want = forward_int8(qnet, make_example(bundle.generated.plan, digits).inputs)
    result = build_and_run(bundle, "cortex-m4")
    assert result.ok, result.stdout
    assert [[int(v) for v in row] for row in result.outputs] == want.reshape(len(want), -1).tolist()


def test_header_macros_and_preprocess_are_the_files_input_quantization(fixtures):
    """uint8 file: the header states the file's input scale and its zero point moved to int8, and
    P_preprocess maps every pixel value to what ONNX Runtime's QuantizeLinear gives it."""
    path = fixtures("lenet5-keras", "QOperator", False, "u8")
    model = onnx.load(str(path))
    q_in = next(
        n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == model.graph.input[0].name
    )
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    scale, zp = float(inits[q_in.input[1]]), int(inits[q_in.input[2]])
    compiled = lenetc.compile(lenetc.load(path), dtype="int8", prefix="qm")
    gen = compiled.generated
    header = gen.files[gen.symbols.header].replace("(", "").replace(")", "")
    assert f"#define QM_INPUT_ZERO_POINT {zp - 128}\n" in header
    assert f"#define QM_INPUT_SCALE {float(np.float32(scale))!r}" in header
    frames = np.stack([(np.arange(784) + k).reshape(28, 28) % 256 for k in range(4)]).astype(np.uint8)
    model.graph.output.append(helper.make_tensor_value_info(q_in.output[0], TensorProto.UINT8, None))
    from lenetc.exporters.onnx_export import ort_session

    sess = ort_session(model)
    x = compiled.net.preprocess.apply(frames).astype(np.float32).reshape(4, *compiled.net.input_shape)
    ort_q = sess.run([q_in.output[0]], {sess.get_inputs()[0].name: x})[0].astype(np.int64) - 128
    np.testing.assert_array_equal(compiled.preprocess(frames).astype(np.int64), ort_q)


def test_lenet5_float_islands_refused_in_one_line(fixtures):
    path = fixtures("lenet5", "QDQ", False, "s8")
    with pytest.raises(LenetcError) as err:
        lenetc.load(path)
    assert "\n" not in str(err.value) and "C1_out" in str(err.value)


def test_dynamic_quantization_refused_by_its_name(tmp_path):
    from onnxruntime.quantization import quantize_dynamic

    from lenetc.exporters.onnx_export import save_onnx

    float_path = save_onnx(lenetc.load("lenet-caffe", "random:1"), tmp_path / "f.onnx")
    quantize_dynamic(str(float_path), str(tmp_path / "dyn.onnx"))
    with pytest.raises(LenetcError) as err:
        lenetc.load(tmp_path / "dyn.onnx")
    msg = str(err.value)
    assert "dynamically quantized" in msg and "DynamicQuantizeLinear" in msg and "\n" not in msg


@pytest.mark.parametrize("name", ["lenet-caffe", "lenet-keras", "lenet5-keras"])
def test_qdq_export_imports_back_to_the_same_network(tmp_path, name):
    """export --dtype int8 -> import: every integer constant, scale and zero point comes back."""
    from lenetc.exporters.onnx_qdq import save_qdq_onnx

    qnet = lenetc.quantize(lenetc.load(name), n_calib=100)
    back = lenetc.load(save_qdq_onnx(qnet, tmp_path / "q.onnx"))
    assert back.input_q == qnet.input_q and back.output_q == qnet.output_q
    a = [q for q in qnet.layers if isinstance(q, QLinear)]
    b = [q for q in back.layers if isinstance(q, QLinear)]
    assert len(a) == len(b)
    for u, v in zip(a, b):
        for field in ("weight", "bias", "mult", "shift"):
            np.testing.assert_array_equal(getattr(u, field), getattr(v, field), err_msg=f"{u.name}.{field}")
        assert (u.req_zp, u.lo, u.hi) == (v.req_zp, v.lo, v.hi)


def test_qdq_export_round_trip_gives_the_same_c_output_bits(tmp_path):
    from lenetc.cli import main

    assert main(["export", "lenet5-keras", "--dtype", "int8", "--calib", "100", "-o", str(tmp_path / "q.onnx")]) == 0
    qnet = lenetc.quantize(lenetc.load("lenet5-keras"), n_calib=100)
    back = lenetc.load(tmp_path / "q.onnx")
    x, _ = mnist_inputs(qnet.net, 300)
    got = lenetc.compile(back, dtype="int8").run_int8(back.quantize_input(x))
    np.testing.assert_array_equal(got, forward_int8(qnet, qnet.quantize_input(x)))


# ---- hand-made graphs --------------------------------------------------------------------------


def _model(nodes, inits, inputs, outputs, opset=13):
    g = helper.make_graph(nodes, "g", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _mnist12_style(with_add: bool):
    """The zoo's mnist-12-int8 chain: uint8 QuantizeLinear, QLinearConv (same padding, int8
    per-channel weights, int32 bias) + fused ReLU clamp, MaxPool, QLinearConv, MaxPool, Reshape,
    QLinearMatMul (per-column weights), optionally QLinearAdd of a bias, DequantizeLinear."""
    rng = np.random.default_rng(12)
    f32, u8, i8, i32 = np.float32, np.uint8, np.int8, np.int32
    inits = {
        "xs": f32(1 / 255), "xz": u8(0),
        "w1": rng.integers(-127, 128, (4, 1, 5, 5)).astype(i8), "w1s": rng.uniform(0.002, 0.004, 4).astype(f32),
        "w1z": np.zeros(4, i8), "b1": rng.integers(-200, 200, 4).astype(i32), "y1s": f32(0.02), "y1z": u8(0),
        "w2": rng.integers(-127, 128, (8, 4, 5, 5)).astype(i8), "w2s": rng.uniform(0.002, 0.004, 8).astype(f32),
        "w2z": np.zeros(8, i8), "b2": rng.integers(-500, 500, 8).astype(i32), "y2s": f32(0.03), "y2z": u8(0),
        "shape": np.array([1, 8 * 7 * 7], np.int64),
        "w3": rng.integers(-127, 128, (392, 10)).astype(i8), "w3s": rng.uniform(0.002, 0.004, 10).astype(f32),
        "w3z": np.zeros(10, i8), "y3s": f32(0.05), "y3z": u8(128),
        "c": rng.integers(0, 256, (1, 10)).astype(u8), "cs": f32(0.01), "cz": u8(128), "y4s": f32(0.06), "y4z": u8(128),
    }  # fmt: skip
    conv = {"kernel_shape": [5, 5], "pads": [2, 2, 2, 2]}
    pool = {"kernel_shape": [2, 2], "strides": [2, 2]}
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        helper.make_node("QLinearConv", ["xq", "xs", "xz", "w1", "w1s", "w1z", "y1s", "y1z", "b1"], ["c1"], **conv),
        helper.make_node("MaxPool", ["c1"], ["p1"], **pool),
        helper.make_node("QLinearConv", ["p1", "y1s", "y1z", "w2", "w2s", "w2z", "y2s", "y2z", "b2"], ["c2"], **conv),
        helper.make_node("MaxPool", ["c2"], ["p2"], **pool),
        helper.make_node("Reshape", ["p2", "shape"], ["r"]),
        helper.make_node("QLinearMatMul", ["r", "y2s", "y2z", "w3", "w3s", "w3z", "y3s", "y3z"], ["m"]),
    ]
    last, s, z = "m", "y3s", "y3z"
    if with_add:
        nodes.append(helper.make_node("QLinearAdd", ["m", "y3s", "y3z", "c", "cs", "cz", "y4s", "y4z"], ["a"],
                                      domain="com.microsoft"))  # fmt: skip
        last, s, z = "a", "y4s", "y4z"
    nodes.append(helper.make_node("DequantizeLinear", [last, s, z], ["y"]))
    model = _model(nodes, inits, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 28, 28])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])])  # fmt: skip
    if with_add:
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return model


def test_mnist12_int8_style_chain_matches_onnxruntime(tmp_path):
    path = tmp_path / "mnist12.onnx"
    onnx.save(_mnist12_style(False), str(path))
    qnet = lenetc.load(path)
    assert [q.kind for q in qnet.layers] == ["conv2d", "pool2d", "conv2d", "pool2d", "flatten", "dense"]
    assert qnet.input_q.zero_point == -128 and qnet.output_q.zero_point == 0  # uint8 0 and 128 as int8
    x, _ = mnist_inputs(qnet.net, 200)
    assert _agreement(with_requant(qnet, "float"), path, x) == (1.0, 0, 1.0)
    identical, max_lsb, _ = _agreement(qnet, path, x)
    assert identical >= 0.99 and max_lsb <= 1


def test_mnist12_int8_qlinearadd_refused_naming_the_layer(tmp_path):
    path = tmp_path / "mnist12add.onnx"
    onnx.save(_mnist12_style(True), str(path))
    with pytest.raises(LenetcError, match="MatMul .*requantized 2 times"):
        lenetc.load(path)


def test_weight_only_qdq_is_a_float_network():
    w = np.arange(-9, 9, dtype=np.int8).reshape(2, 1, 3, 3)
    inits = {"w": w, "ws": np.array([0.5, 0.25], np.float32), "wz": np.zeros(2, np.int8)}
    nodes = [helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wf"], axis=0),
             helper.make_node("Conv", ["x", "wf"], ["y"])]  # fmt: skip
    model = _model(nodes, inits, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 2, 2])])  # fmt: skip
    net = lenetc.importers.onnx_load.import_model(model)
    assert isinstance(net, Network)
    np.testing.assert_array_equal(
        net.params[f"{net.layers[0].name}.weight"], w * np.array([0.5, 0.25])[:, None, None, None]
    )


def test_unquantized_output_in_a_quantized_graph_refused():
    w = np.ones((2, 1, 3, 3), np.int8)
    inits = {"s": np.float32(0.05), "z": np.int8(0), "w": w, "ws": np.float32(0.01)}
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xf"]),
             helper.make_node("DequantizeLinear", ["w", "ws", "z"], ["wf"]),
             helper.make_node("Conv", ["xf", "wf"], ["y"])]  # fmt: skip
    model = _model(nodes, inits, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 2, 2])])  # fmt: skip
    with pytest.raises(LenetcError, match="output is not quantized"):
        lenetc.importers.onnx_load.import_model(model)


def test_zero_scale_in_the_file_is_one_line_cli_error(tmp_path, capsys):
    from lenetc.cli import main

    model = _mnist12_style(False)
    for t in model.graph.initializer:
        if t.name == "y2s":
            t.CopyFrom(numpy_helper.from_array(np.float32(0.0), "y2s"))
    onnx.save(model, str(tmp_path / "bad.onnx"))
    assert main(["info", str(tmp_path / "bad.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lenetc: error:") and "scale 0.0" in err and "is zero" in err and "\n" not in err
