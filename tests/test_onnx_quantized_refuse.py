"""Quantized ONNX graphs are refused with one line naming the format (until issue 15 imports them)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from lenetc.errors import LenetcError
from lenetc.importers.onnx_import import import_model, load_onnx
from lenetc.importers.onnx_quantized import quantized_format


def _model(nodes, inits, out_type=TensorProto.FLOAT):
    g = helper.make_graph(
        nodes,
        "q",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("y", out_type, [1, 2, 2, 2])],
        initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def _qdq():
    rng = np.random.default_rng(0)
    inits = {
        "s": np.array(0.05, np.float32),
        "z": np.array(0, np.int8),
        "w": rng.integers(-127, 128, (2, 1, 3, 3)).astype(np.int8),
        "ws": np.array(0.01, np.float32),
    }
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xf"]),
        helper.make_node("DequantizeLinear", ["w", "ws", "z"], ["wf"]),
        helper.make_node("Conv", ["xf", "wf"], ["y"]),
    ]
    return _model(nodes, inits)


def _qop():
    rng = np.random.default_rng(1)
    inits = {
        "s": np.array(0.05, np.float32),
        "z": np.array(0, np.int8),
        "w": rng.integers(-127, 128, (2, 1, 3, 3)).astype(np.int8),
        "ws": np.array(0.01, np.float32),
        "os": np.array(0.1, np.float32),
    }
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
        helper.make_node("QLinearConv", ["xq", "s", "z", "w", "ws", "z", "os", "z"], ["y"]),
    ]
    return _model(nodes, inits, TensorProto.INT8)


@pytest.mark.parametrize(
    ("build", "fmt", "op"), [(_qdq, "QDQ", "DequantizeLinear"), (_qop, "QOperator", "QLinearConv")]
)
def test_quantized_graph_refused_in_one_line(build, fmt, op):
    model = build()
    onnx.checker.check_model(model)
    assert quantized_format(model.graph) == fmt
    with pytest.raises(LenetcError) as exc:
        import_model(model)
    msg = str(exc.value)
    assert "\n" not in msg
    assert f"{fmt} format" in msg and op in msg and "not supported yet" in msg


def test_float_graph_not_flagged():
    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "f",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    assert quantized_format(g) is None


@pytest.mark.parametrize(
    ("fmt", "per_channel", "act"), [("QDQ", False, "s8"), ("QDQ", True, "u8"), ("QOperator", True, "s8")]
)
def test_onnxruntime_quantized_zoo_net_refused(tmp_path, fmt, per_channel, act):
    pytest.importorskip("onnxruntime.quantization")
    from ort_quant_fixtures import quantize_zoo

    path = quantize_zoo("lenet-caffe", fmt, per_channel, act, tmp_path)
    assert quantized_format(onnx.load(str(path)).graph) == fmt
    with pytest.raises(LenetcError, match=f"{fmt} format"):
        load_onnx(path)
