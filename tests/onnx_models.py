"""ONNX test models built with onnx.helper, mirroring what exporters emit for a LeNet.

``torch_lenet`` follows torch.onnx.export of a Conv/ReLU/MaxPool LeNet (Conv with bias,
explicit zero pads, Flatten or the Shape->Gather->Unsqueeze->Concat->Reshape chain of
``x.view(x.size(0), -1)``, Gemm with transB=1). ``keras_lenet`` follows tf2onnx on the seed's
Keras LeNet: NHWC input, Transpose to NCHW, Transpose back before a Reshape(-1, 1024),
MatMul + Add for Dense. Weights are random with fixed seeds.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _init(name: str, arr: np.ndarray, raw: bool = True) -> onnx.TensorProto:
    arr = np.asarray(arr)
    if raw:
        return numpy_helper.from_array(arr, name)
    # typed fields (float_data / int64_data) instead of raw_data
    dtype = helper.np_dtype_to_tensor_dtype(arr.dtype)
    return helper.make_tensor(name, dtype, arr.shape, arr.reshape(-1).tolist(), raw=False)


def _rand(rng, *shape, scale=None) -> np.ndarray:
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
    return rng.uniform(-1, 1, size=shape).astype(np.float32) * np.float32(scale or 1.0 / np.sqrt(fan_in))


def torch_lenet(
    opset: int = 13,
    flatten: str = "flatten",
    batch: int | str = "batch",
    batchnorm: bool = False,
    raw: bool = True,
    seed: int = 0,
) -> onnx.ModelProto:
    """Caffe-style LeNet as torch exports it: conv(20) relu pool conv(50) relu pool fc500 relu fc10 [softmax]."""
    rng = np.random.default_rng(seed)
    inits = [
        _init("conv1.weight", _rand(rng, 20, 1, 5, 5), raw),
        _init("conv1.bias", _rand(rng, 20, scale=0.1), raw),
        _init("conv2.weight", _rand(rng, 50, 20, 5, 5), raw),
        _init("conv2.bias", _rand(rng, 50, scale=0.1), raw),
        _init("fc1.weight", _rand(rng, 500, 800), raw),
        _init("fc1.bias", _rand(rng, 500, scale=0.1), raw),
        _init("fc2.weight", _rand(rng, 10, 500), raw),
        _init("fc2.bias", _rand(rng, 10, scale=0.1), raw),
    ]
    pool = {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [0, 0, 0, 0]}
    if opset >= 10:
        pool["ceil_mode"] = 0
    conv = {"kernel_shape": [5, 5], "strides": [1, 1], "pads": [0, 0, 0, 0], "dilations": [1, 1], "group": 1}
    nodes = [helper.make_node("Conv", ["input", "conv1.weight", "conv1.bias"], ["c1"], name="Conv_0", **conv)]
    last = "c1"
    if batchnorm:
        inits += [
            _init("bn1.weight", rng.uniform(0.5, 1.5, 20).astype(np.float32), raw),
            _init("bn1.bias", _rand(rng, 20, scale=0.1), raw),
            _init("bn1.running_mean", _rand(rng, 20, scale=0.2), raw),
            _init("bn1.running_var", rng.uniform(0.5, 2.0, 20).astype(np.float32), raw),
        ]
        bn = ["c1", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"]
        nodes.append(helper.make_node("BatchNormalization", bn, ["b1"], name="BatchNormalization_1", epsilon=1e-5))
        last = "b1"
    nodes += [
        helper.make_node("Relu", [last], ["r1"], name="Relu_2"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="MaxPool_3", **pool),
        helper.make_node("Conv", ["p1", "conv2.weight", "conv2.bias"], ["c2"], name="Conv_4", **conv),
        helper.make_node("Relu", ["c2"], ["r2"], name="Relu_5"),
        helper.make_node("MaxPool", ["r2"], ["p2"], name="MaxPool_6", **pool),
    ]
    if flatten == "flatten":
        nodes.append(helper.make_node("Flatten", ["p2"], ["flat"], name="Flatten_7", axis=1))
    else:  # x.view(x.size(0), -1) in older torch exports
        nodes += [
            helper.make_node("Shape", ["p2"], ["shape"], name="Shape_7"),
            helper.make_node("Constant", [], ["zero"], name="Constant_8", value=numpy_helper.from_array(np.array(0))),
            helper.make_node("Gather", ["shape", "zero"], ["n"], name="Gather_9", axis=0),
            helper.make_node(
                "Constant", [], ["minus1"], name="Constant_10", value=numpy_helper.from_array(np.array([-1]))
            ),
        ]
        if opset >= 13:
            inits.append(_init("axes0", np.array([0], np.int64), raw))
            nodes.append(helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"], name="Unsqueeze_11"))
        else:
            nodes.append(helper.make_node("Unsqueeze", ["n"], ["n1"], name="Unsqueeze_11", axes=[0]))
        nodes += [
            helper.make_node("Concat", ["n1", "minus1"], ["target"], name="Concat_12", axis=0),
            helper.make_node("Reshape", ["p2", "target"], ["flat"], name="Reshape_13"),
        ]
    nodes += [
        helper.make_node(
            "Gemm", ["flat", "fc1.weight", "fc1.bias"], ["f1"], name="Gemm_14", alpha=1.0, beta=1.0, transB=1
        ),
        helper.make_node("Relu", ["f1"], ["r3"], name="Relu_15"),
        helper.make_node("Dropout", ["r3"], ["d3"], name="Dropout_16"),
        helper.make_node("Gemm", ["d3", "fc2.weight", "fc2.bias"], ["logits"], name="Gemm_17", transB=1),
        helper.make_node("LogSoftmax" if opset >= 13 else "Softmax", ["logits"], ["output"], name="Softmax_18", axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "torch_jit",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 1, 28, 28])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, 10])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="pytorch")
    model.ir_version = 7 if opset >= 9 else 3
    if model.ir_version < 4:  # old IR: every initializer is also a graph input
        for t in inits:
            model.graph.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    onnx.checker.check_model(model)
    return model


def keras_lenet(opset: int = 13, seed: int = 1) -> onnx.ModelProto:
    """The seed's Keras LeNet (Conv 32 -> 64, Dense 100 -> 10) as tf2onnx emits it, channels last."""
    rng = np.random.default_rng(seed)
    inits = [
        _init("conv1/kernel", _rand(rng, 32, 1, 5, 5)),
        _init("conv1/bias", _rand(rng, 32, scale=0.1)),
        _init("conv2/kernel", _rand(rng, 64, 32, 5, 5)),
        _init("conv2/bias", _rand(rng, 64, scale=0.1)),
        # Dense kernels stay (in, out) with rows in H, W, C order: MatMul reads them as they are
        _init("dense1/kernel", _rand(rng, 1024, 100, scale=1 / 32)),
        _init("dense1/bias", _rand(rng, 100, scale=0.1)),
        _init("dense2/kernel", _rand(rng, 100, 10, scale=0.1)),
        _init("dense2/bias", _rand(rng, 10, scale=0.1)),
        _init("flat_shape", np.array([-1, 1024], np.int64)),
    ]
    same = {"kernel_shape": [5, 5], "strides": [1, 1], "auto_pad": "VALID"}
    nodes = [
        helper.make_node("Transpose", ["input"], ["nchw"], name="conv1__6", perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["nchw", "conv1/kernel", "conv1/bias"], ["c1"], name="conv1", **same),
        helper.make_node("Relu", ["c1"], ["r1"], name="conv1/Relu"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "conv2/kernel", "conv2/bias"], ["c2"], name="conv2", **same),
        helper.make_node("Relu", ["c2"], ["r2"], name="conv2/Relu"),
        helper.make_node("MaxPool", ["r2"], ["p2"], name="pool2", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Transpose", ["p2"], ["nhwc"], name="pool2__20", perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["nhwc", "flat_shape"], ["flat"], name="flatten/Reshape"),
        helper.make_node("MatMul", ["flat", "dense1/kernel"], ["m1"], name="dense1/MatMul"),
        helper.make_node("Add", ["m1", "dense1/bias"], ["a1"], name="dense1/BiasAdd"),
        helper.make_node("Relu", ["a1"], ["r3"], name="dense1/Relu"),
        helper.make_node("MatMul", ["r3", "dense2/kernel"], ["m2"], name="dense2/MatMul"),
        helper.make_node("Add", ["m2", "dense2/bias"], ["a2"], name="dense2/BiasAdd"),
        helper.make_node("Softmax", ["a2"], ["output"], name="dense2/Softmax", axis=-1 if opset >= 13 else 1),
    ]
    graph = helper.make_graph(
        nodes,
        "tf2onnx",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["unk__1", 28, 28, 1])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["unk__2", 10])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="tf2onnx")
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def keras_lenet_reference(model: onnx.ModelProto, x_nhwc: np.ndarray) -> np.ndarray:
    """NumPy float64 forward pass of ``keras_lenet`` written channels-last, as Keras computes it."""
    w = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}

    def conv(x, k, b):  # x (N,H,W,C), k (O,I,kh,kw)
        kh, kw = k.shape[2:]
        win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))  # N,OH,OW,C,kh,kw
        return np.einsum("nhwcij,ocij->nhwo", win, k) + b

    def pool(x):
        n, h, wd, c = x.shape
        return x.reshape(n, h // 2, 2, wd // 2, 2, c).max(axis=(2, 4))

    h = x_nhwc.astype(np.float64)
    h = pool(np.maximum(conv(h, w["conv1/kernel"], w["conv1/bias"]), 0))
    h = pool(np.maximum(conv(h, w["conv2/kernel"], w["conv2/bias"]), 0))
    h = h.reshape(h.shape[0], -1)
    h = np.maximum(h @ w["dense1/kernel"] + w["dense1/bias"], 0)
    z = h @ w["dense2/kernel"] + w["dense2/bias"]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
