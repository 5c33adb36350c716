"""fixedpoint.requantize_float reproduces ONNX Runtime's QLinearConv requantization bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from lenetc.fixedpoint import requantize_float  # noqa: E402


def test_requantize_float_matches_onnxruntime_qlinearconv():
    rng = np.random.default_rng(5)
    cin, cout = 8, 4
    x = rng.integers(-128, 128, (1, cin, 6, 6)).astype(np.int8)
    w = rng.integers(-127, 128, (cout, cin, 1, 1)).astype(np.int8)
    sx, sw, sy, zy = np.float32(0.02), rng.uniform(0.001, 0.01, cout).astype(np.float32), np.float32(0.37), 3
    inits = {
        "xs": np.array(sx), "xz": np.array(0, np.int8), "w": w, "ws": sw, "wz": np.zeros(cout, np.int8),
        "ys": np.array(sy), "yz": np.array(zy, np.int8),
    }  # fmt: skip
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"])
    g = helper.make_graph(
        [node],
        "c",
        [helper.make_tensor_value_info("x", TensorProto.INT8, list(x.shape))],
        [helper.make_tensor_value_info("y", TensorProto.INT8, [1, cout, 6, 6])],
        initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    got = sess.run(None, {"x": x})[0].astype(np.int64)
    acc = np.einsum("oi,nihw->nohw", w[:, :, 0, 0].astype(np.int64), x.astype(np.int64))
    scale = (sx * sw / sy).astype(np.float32).reshape(1, cout, 1, 1)
    want = requantize_float(acc, scale, zy, -128, 127)
    assert np.array_equal(got, want)
