"""QOperator-to-QDQ rewrite: ONNX Runtime on the rewritten QDQ graph against ORT on the original.

The QOperator fixtures come from onnxruntime.quantization (tests/ort_quant_fixtures.py). The
rewritten graph runs with ORT's graph optimizations off, so it really is
DequantizeLinear -> float op -> QuantizeLinear and not fused back into the QLinear kernels.

Tolerance: ORT's QLinearConv/QGemm requantize the int32 accumulator with one float multiply
(``acc * x_scale * w_scale / y_scale``), the QDQ path computes the float op on dequantized
values and divides by y_scale in QuantizeLinear; the two roundings differ when the exact
value lies within float32 rounding of a .5 boundary, so a rewritten node may land one
quantization step away from the original given the same inputs. Downstream nodes then see
inputs one step apart, so the end-to-end bound is per node: wherever a node's quantized
inputs agree exactly, its output agrees within 1 step. The float output of a net ending in
DequantizeLinear is held to 1 output step; argmax agreement to 99 %.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from ort_quant_fixtures import quantize_zoo

import lenetc
from lenetc.datasets import mnist_inputs
from lenetc.errors import LenetcError
from lenetc.importers.onnx_qop_to_qdq import is_qoperator_op, qoperator_to_qdq
from lenetc.importers.onnx_quantized import quantized_format

NETS = ["lenet-caffe", "lenet-keras", "lenet5-keras", "lenet5"]
CASES = [(n, pc, act) for n in NETS for pc in (False, True) for act in ("s8", "u8")]
N_RANDOM = 256
N_MNIST = 200


def _session(model: onnx.ModelProto, optimize: bool) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def _quantized_tensors(original: onnx.ModelProto, rewritten: onnx.ModelProto) -> dict[str, int]:
    """Element type of every quantized tensor the two graphs share (QuantizeLinear outputs of the rewrite)."""
    inits = {i.name: i for i in rewritten.graph.initializer}
    produced = {o for n in original.graph.node for o in n.output}
    out = {}
    for node in rewritten.graph.node:
        if node.op_type == "QuantizeLinear" and node.output[0] in produced:
            zp = node.input[2] if len(node.input) > 2 else ""
            out[node.output[0]] = inits[zp].data_type if zp else TensorProto.UINT8
    return out


def _exposing(model: onnx.ModelProto, tensors: dict[str, int]) -> onnx.ModelProto:
    """A copy of ``model`` with ``tensors`` added as graph outputs."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    have = {o.name for o in out.graph.output}
    out.graph.output.extend(helper.make_tensor_value_info(t, e, None) for t, e in tensors.items() if t not in have)
    return out


def _run_both(original, rewritten, x):
    tensors = _quantized_tensors(original, rewritten)
    a = _session(_exposing(original, tensors), optimize=True)
    b = _session(_exposing(rewritten, tensors), optimize=False)
    names = [o.name for o in a.get_outputs()]
    feed = {a.get_inputs()[0].name: x}
    return tensors, dict(zip(names, a.run(names, feed))), dict(zip(names, b.run(names, feed)))


def _output_step(model: onnx.ModelProto) -> float | None:
    """Scale of the DequantizeLinear that makes the graph output (through Identity), or None."""
    producer = {o: n for n in model.graph.node for o in n.output}
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    node = producer[model.graph.output[0].name]
    while node.op_type == "Identity":
        node = producer[node.input[0]]
    return float(inits[node.input[1]]) if node.op_type == "DequantizeLinear" else None


def _agreeing_inputs(node, tensors, got_a, got_b, n) -> np.ndarray:
    """Per sample: do all quantized inputs of ``node`` agree exactly in the two runs?"""
    same = np.ones(n, bool)
    for inp in (i for i in node.input if i in tensors):
        same &= (got_a[inp] == got_b[inp]).reshape(n, -1).all(axis=1)
    return same


def _check_per_node(original, tensors, got_a, got_b, n) -> None:
    """Every quantized tensor within 1 step of the original wherever its node's quantized inputs agree."""
    producer = {o: node for node in original.graph.node for o in node.output}
    graph_inputs = {i.name for i in original.graph.input}
    for tensor in tensors:
        node = producer[tensor]
        if node.op_type == "QuantizeLinear":
            # kept as it is; only its float input can differ (a float op after a quantized one)
            if node.input[0] in graph_inputs:
                assert np.array_equal(got_a[tensor], got_b[tensor]), tensor
            continue
        same = _agreeing_inputs(node, tensors, got_a, got_b, n)
        diff = np.abs(got_a[tensor].astype(np.int32) - got_b[tensor].astype(np.int32))[same]
        assert diff.size and diff.max() <= 1, f"{tensor}: {diff.max()} steps where the inputs agree"


@pytest.fixture(scope="module")
def qop_files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("qop")
    cache: dict[tuple, Path] = {}

    def get(name: str, per_channel: bool, act: str) -> Path:
        key = (name, per_channel, act)
        if key not in cache:
            cache[key] = quantize_zoo(name, "QOperator", per_channel, act, tmp)
        return cache[key]

    return get


@pytest.mark.parametrize(("name", "per_channel", "act"), CASES)
def test_rewrite_matches_qoperator_in_ort(qop_files, name, per_channel, act):
    original = onnx.load(str(qop_files(name, per_channel, act)))
    rewritten = qoperator_to_qdq(original)
    onnx.checker.check_model(rewritten, full_check=True)
    assert not [n.op_type for n in rewritten.graph.node if is_qoperator_op(n)]
    assert quantized_format(original.graph) == "QOperator" and quantized_format(rewritten.graph) == "QDQ"
    assert [i.name for i in rewritten.graph.input] == [i.name for i in original.graph.input]
    assert [o.name for o in rewritten.graph.output] == [o.name for o in original.graph.output]

    net = lenetc.load(name, "random:7")
    rand = np.random.default_rng(11).uniform(0.0, 1.0, (N_RANDOM, *net.input_shape)).astype(np.float32)
    digits, _ = mnist_inputs(net, N_MNIST)
    x = np.concatenate([rand, digits.astype(np.float32)])
    tensors, got_a, got_b = _run_both(original, rewritten, x)
    assert set(tensors.values()) == {TensorProto.INT8 if act == "s8" else TensorProto.UINT8}
    _check_per_node(original, tensors, got_a, got_b, len(x))

    out = original.graph.output[0].name
    step = _output_step(original)
    if step is not None:
        assert np.abs(got_a[out] - got_b[out]).max() <= step * (1 + 1e-6)
    agree = np.mean(got_a[out].argmax(axis=1) == got_b[out].argmax(axis=1))
    exact = np.mean(np.concatenate([(got_a[t] == got_b[t]).ravel() for t in tensors]))
    # the measured rates, shown with pytest -s
    print(
        f"\n{name} {'per-channel' if per_channel else 'per-tensor'} {act}: quantized elements exact "
        f"{exact:.5%}, output elements exact {np.mean(got_a[out] == got_b[out]):.4%}, "
        f"output max diff {np.abs(got_a[out] - got_b[out]).max():.4g} (step {step}), argmax agree {agree:.2%}"
    )
    assert agree >= 0.99, agree


def _qlinear_conv_model(opset: int = 13) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """One QLinearConv: uint8 input, per-channel int8 weights, int32 bias, stride 2 and padding."""
    rng = np.random.default_rng(5)
    v = {
        "xs": np.array(0.02, np.float32),
        "xz": np.array(120, np.uint8),
        "w": rng.integers(-127, 128, (3, 2, 3, 3)).astype(np.int8),
        "ws": rng.uniform(0.002, 0.01, 3).astype(np.float32),
        "wz": np.zeros(3, np.int8),
        "ys": np.array(0.03, np.float32),
        "yz": np.array(100, np.uint8),
        "b": rng.integers(-3000, 3000, 3).astype(np.int32),
    }
    node = helper.make_node(
        "QLinearConv",
        ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"],
        ["y"],
        "conv",
        pads=[1, 1, 1, 1],
        strides=[2, 2],
    )
    graph = helper.make_graph(
        [node],
        "qconv",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, [4, 2, 9, 9])],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, [4, 3, 5, 5])],
        initializer=[numpy_helper.from_array(a, k) for k, a in v.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model, v


def _numpy_qlinear_conv(xq: np.ndarray, v: dict[str, np.ndarray]) -> np.ndarray:
    """Dequantize, conv (stride 2, pad 1) in float64, quantize (round half to even, saturate)."""
    x = (xq.astype(np.float64) - float(v["xz"])) * float(v["xs"])
    w = (v["w"].astype(np.float64) - v["wz"].reshape(-1, 1, 1, 1)) * v["ws"].reshape(-1, 1, 1, 1)
    b = v["b"] * (v["xs"].astype(np.float64) * v["ws"])
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    n, _, h, wd = xp.shape
    oh, ow = (h - 3) // 2 + 1, (wd - 3) // 2 + 1
    y = np.zeros((n, w.shape[0], oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3]
            y[:, :, i, j] = np.einsum("nchw,ochw->no", patch, w)
    y += b.reshape(1, -1, 1, 1)
    q = np.rint(y / float(v["ys"])) + float(v["yz"])
    return np.clip(q, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("opset", [13, 10])
def test_hand_made_qlinear_conv_against_numpy(opset):
    model, v = _qlinear_conv_model(opset)
    rewritten = qoperator_to_qdq(model)
    onnx.checker.check_model(rewritten, full_check=True)
    assert [n.op_type for n in rewritten.graph.node] == [
        "DequantizeLinear",
        "DequantizeLinear",
        "DequantizeLinear",
        "Conv",
        "QuantizeLinear",
    ]
    dq_w = rewritten.graph.node[1]
    assert dq_w.input[0] == "w" and helper.get_attribute_value(dq_w.attribute[0]) == 0
    inits = {i.name: i for i in rewritten.graph.initializer}
    assert inits["w"].data_type == TensorProto.INT8 and inits["b"].data_type == TensorProto.INT32
    assert max(o.version for o in rewritten.opset_import if o.domain == "") >= 13

    xq = np.random.default_rng(9).integers(0, 256, (4, 2, 9, 9)).astype(np.uint8)
    want = _numpy_qlinear_conv(xq, v)
    got = _session(rewritten, optimize=False).run(None, {"x": xq})[0]
    # float32 Conv vs the float64 reference: 1 step only where y/ys sits within float32 rounding of .5
    assert np.abs(got.astype(np.int32) - want.astype(np.int32)).max() <= 1
    assert np.mean(got == want) >= 0.99
    if opset == 13:
        orig = _session(model, optimize=True).run(None, {"x": xq})[0]
        assert np.abs(orig.astype(np.int32) - want.astype(np.int32)).max() <= 1


def _one_node_model(node: onnx.NodeProto, inits: dict[str, np.ndarray]) -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]), node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info(node.output[0], TensorProto.UINT8, [1, 4])],
        initializer=[numpy_helper.from_array(a, k) for k, a in inits.items()],
    )
    opsets = [helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets)


_SZ = {"s": np.array(0.1, np.float32), "z": np.array(128, np.uint8)}


def test_unsupported_qoperator_op_is_one_line_error():
    node = helper.make_node(
        "QLinearLeakyRelu", ["xq", "s", "z", "s", "z"], ["y"], "leaky7", domain="com.microsoft", alpha=0.1
    )
    with pytest.raises(LenetcError) as err:
        qoperator_to_qdq(_one_node_model(node, _SZ))
    message = str(err.value)
    assert "\n" not in message and "leaky7" in message and "QLinearLeakyRelu" in message


def test_float_op_on_quantized_tensor_is_one_line_error():
    node = helper.make_node("Relu", ["xq"], ["y"], "relu3")
    with pytest.raises(LenetcError) as err:
        qoperator_to_qdq(_one_node_model(node, _SZ))
    message = str(err.value)
    assert "\n" not in message and "relu3" in message and "Relu" in message


def _chain_model() -> onnx.ModelProto:
    """mnist-12-int8 style chain: QLinearConv, QLinearAveragePool, QLinearGlobalAveragePool, Reshape,
    QLinearMatMul (per-column B), QLinearAdd, QLinearMul and a QGemm with float output (no y_scale)."""
    rng = np.random.default_rng(21)

    def scale(v):
        return np.array(v, np.float32)

    v = {
        "s0": scale(1 / 255),
        "z0": np.array(0, np.uint8),
        "w": rng.integers(-127, 128, (4, 1, 3, 3)).astype(np.int8),
        "ws": rng.uniform(0.005, 0.02, 4).astype(np.float32),
        "wz": np.zeros(4, np.int8),
        "s1": scale(0.045),
        "z1": np.array(115, np.uint8),
        "s2": scale(0.042),
        "z2": np.array(115, np.uint8),
        "shape": np.array([-1, 4], np.int64),
        "m": rng.integers(-127, 128, (4, 6)).astype(np.int8),
        "ms": rng.uniform(0.005, 0.02, 6).astype(np.float32),
        "mz": np.zeros(6, np.int8),
        "s3": scale(0.03),
        "z3": np.array(128, np.uint8),
        "c": rng.integers(0, 256, (1, 6)).astype(np.uint8),
        "cs": scale(0.004),
        "cz": np.array(128, np.uint8),
        "s4": scale(0.03),
        "z4": np.array(128, np.uint8),
        "s5": scale(0.06),
        "z5": np.array(0, np.uint8),
        "g": rng.integers(-127, 128, (3, 6)).astype(np.int8),
        "gs": scale(0.01),
        "gz": np.array(0, np.int8),
        "gb": rng.integers(-500, 500, 3).astype(np.int32),
    }
    ms = "com.microsoft"
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s0", "z0"], ["q0"]),
        helper.make_node("QLinearConv", ["q0", "s0", "z0", "w", "ws", "wz", "s1", "z1"], ["q1"], "conv", pads=[1] * 4),
        helper.make_node(
            "QLinearAveragePool",
            ["q1", "s1", "z1", "s2", "z2"],
            ["q2"],
            "avg",
            domain=ms,
            kernel_shape=[2, 2],
            strides=[2, 2],
        ),
        helper.make_node("QLinearGlobalAveragePool", ["q2", "s2", "z2", "s2", "z2"], ["q3"], "gap", domain=ms),
        helper.make_node("Reshape", ["q3", "shape"], ["q4"], "reshape"),
        helper.make_node("QLinearMatMul", ["q4", "s2", "z2", "m", "ms", "mz", "s3", "z3"], ["q5"], "matmul"),
        helper.make_node("QLinearAdd", ["q5", "s3", "z3", "c", "cs", "cz", "s4", "z4"], ["q6"], "add", domain=ms),
        helper.make_node("QLinearMul", ["q6", "s4", "z4", "q6", "s4", "z4", "s5", "z5"], ["q7"], "mul", domain=ms),
        helper.make_node("QGemm", ["q7", "s5", "z5", "g", "gs", "gz", "gb"], ["y"], "gemm", domain=ms, transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])],
        initializer=[numpy_helper.from_array(a, k) for k, a in v.items()],
    )
    opsets = [helper.make_opsetid("", 13), helper.make_opsetid(ms, 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    return model


def test_hand_made_chain_of_contrib_ops_matches_ort():
    original = _chain_model()
    rewritten = qoperator_to_qdq(original)
    onnx.checker.check_model(rewritten, full_check=True)
    assert not [n.op_type for n in rewritten.graph.node if is_qoperator_op(n)]
    assert {o.domain for o in rewritten.opset_import} == {""}
    x = np.random.default_rng(4).uniform(0.0, 1.0, (300, 1, 8, 8)).astype(np.float32)
    tensors, got_a, got_b = _run_both(original, rewritten, x)
    assert {"q1", "q2", "q3", "q4", "q5", "q6", "q7"} <= set(tensors)
    _check_per_node(original, tensors, got_a, got_b, len(x))
    # float output of QGemm: the same inputs give alpha*a_scale*b_scale*(acc + C) in both, up to float32 rounding
    gemm = next(n for n in original.graph.node if n.op_type == "QGemm")
    same = _agreeing_inputs(gemm, tensors, got_a, got_b, len(x))
    assert same.mean() > 0.5
    np.testing.assert_allclose(got_b["y"][same], got_a["y"][same], rtol=1e-5, atol=1e-5)
