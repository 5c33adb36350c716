"""ONNX import checked against ONNX Runtime (an independent implementation).

Tolerance: 1e-5 of the largest output magnitude. lenetc and ONNX Runtime both compute in
float32 but sum in different orders (and lenetc folds BatchNorm into the convolution), so
bitwise equality is not expected; 1e-5 is ~100 float32 ulps of the output scale.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx_models import keras_lenet, keras_lenet_reference, torch_lenet  # noqa: E402

import lenetc  # noqa: E402
from lenetc.errors import LenetcError  # noqa: E402
from lenetc.exporters.onnx_export import run_onnxruntime  # noqa: E402
from lenetc.importers.onnx_load import import_model  # noqa: E402

REL = 1e-5


def close(got: np.ndarray, want: np.ndarray) -> float:
    err = float(np.abs(np.asarray(got, np.float64) - want).max() / np.abs(want).max())
    assert err <= REL, err
    return err


def images(shape, n=6, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 1.0, size=(n, *shape)).astype(np.float32)


@pytest.mark.parametrize(
    "opset,flatten,batch,bn,raw,build_c",
    [
        (7, "reshape", 1, False, False, False),
        (9, "flatten", "batch", True, True, False),
        (11, "reshape", "batch", False, True, False),
        (13, "reshape", 1, True, False, True),
        (17, "flatten", "batch", False, True, True),
        (21, "reshape", "batch", True, True, False),
    ],
)
def test_torch_style_lenet_matches_onnxruntime(tmp_path, opset, flatten, batch, bn, raw, build_c):
    """Every opset checks the import (NumPy reference vs ORT); two also build the C (~10 s each for 431k weights)."""
    model = torch_lenet(opset, flatten, batch, bn, raw)
    path = tmp_path / "torch_lenet.onnx"
    onnx.save(model, str(path))
    net = lenetc.load(path)
    kinds = [layer.kind for layer in net.layers]
    # BatchNorm folded into conv1, ReLU fused, Dropout removed, the shape chain folded away.
    assert kinds == ["conv2d", "pool2d", "conv2d", "pool2d", "flatten", "dense", "dense", "softmax"]
    assert net.input_shape == (1, 28, 28)
    x = images(net.input_shape)
    want = run_onnxruntime(path, x)
    close(lenetc.forward(net, x), want)
    if build_c:
        close(lenetc.compile(net)(x), want)


def test_keras_style_onnx_matches_onnxruntime_and_channels_last_numpy(tmp_path):
    model = keras_lenet()
    path = tmp_path / "keras_lenet.onnx"
    onnx.save(model, str(path))
    net = lenetc.load(path)
    assert [layer.kind for layer in net.layers][:5] == ["conv2d", "pool2d", "conv2d", "pool2d", "flatten"]
    assert net.layers[4].order == "HWC"
    x = images(net.input_shape)
    want = run_onnxruntime(path, x)
    close(keras_lenet_reference(model, x.reshape(-1, 28, 28, 1)), want)
    close(lenetc.compile(net)(x), want)
    assert net.totals()["params"] == 832 + 51_264 + 102_500 + 1_010


def _misc_model() -> onnx.ModelProto:
    """Normalisation by constants, grouped/depthwise conv, SAME padding, avg pools, and the other activations."""
    rng = np.random.default_rng(3)

    def init(name, arr):
        return numpy_helper.from_array(np.asarray(arr, np.float32), name)

    inits = [
        init("mean", [0.5]),
        init("std", [0.25]),
        init("w1", rng.normal(0, 0.3, (6, 1, 3, 3))),
        init("w2", rng.normal(0, 0.3, (6, 1, 3, 3))),  # depthwise: group 6
        init("b2", rng.normal(0, 0.1, 6)),
        init("w3", rng.normal(0, 0.3, (12, 3, 3, 3))),  # grouped: group 2
        init("scale", rng.uniform(0.5, 1.5, (1, 12, 1, 1))),
        init("wfc", rng.normal(0, 0.2, (12, 10))),
        numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
        numpy_helper.from_array(np.array(4.0, np.float32), "hi"),
    ]
    nodes = [
        helper.make_node("Sub", ["input", "mean"], ["s"]),
        helper.make_node("Div", ["s", "std"], ["z"]),
        helper.make_node("Conv", ["z", "w1"], ["c1"], auto_pad="SAME_UPPER", strides=[2, 2]),
        helper.make_node("LeakyRelu", ["c1"], ["a1"], alpha=0.1),
        helper.make_node("Conv", ["a1", "w2", "b2"], ["c2"], auto_pad="SAME_LOWER", group=6),
        helper.make_node("Clip", ["c2", "lo", "hi"], ["a2"]),
        helper.make_node(
            "AveragePool",
            ["a2"],
            ["p2"],
            kernel_shape=[3, 3],
            strides=[2, 2],
            pads=[1, 1, 1, 1],
            count_include_pad=1,
            ceil_mode=1,
        ),  # fmt: skip
        helper.make_node("Conv", ["p2", "w3"], ["c3"], group=2, pads=[1, 0, 1, 0]),
        helper.make_node("Mul", ["c3", "scale"], ["m3"]),
        helper.make_node("Tanh", ["m3"], ["a3"]),
        helper.make_node("GlobalAveragePool", ["a3"], ["g"]),
        helper.make_node("Squeeze", ["g", "axes23"], ["v"]),
        helper.make_node("MatMul", ["v", "wfc"], ["fc"]),
        helper.make_node("Sigmoid", ["fc"], ["output"]),
    ]
    inits.append(numpy_helper.from_array(np.array([2, 3], np.int64), "axes23"))
    graph = helper.make_graph(
        nodes,
        "misc",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 10])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def test_misc_operators_match_onnxruntime():
    model = _misc_model()
    net = import_model(model, "misc")
    kinds = [layer.kind for layer in net.layers]
    assert kinds[0] == "affine"  # (x - mean) / std: one element-wise layer
    assert net.layers[1].groups == 1 and net.layers[2].groups == 6
    x = images(net.input_shape, seed=4)
    want = run_onnxruntime(model, x)
    close(lenetc.forward(net, x), want)
    close(lenetc.compile(net)(x), want)


def test_single_image_input():
    model = _misc_model()
    net = import_model(model, "misc")
    x = images(net.input_shape, n=1)[0]
    out = lenetc.compile(net)(x)
    assert out.shape == (10,)
    close(out, run_onnxruntime(model, x))


# ---- errors: one line naming the node, exit 2, no output -----------------------------------------


def _cli(argv):
    from lenetc import cli

    return cli.main(argv)


def _broken(kind: str, tmp_path):
    path = tmp_path / f"{kind}.onnx"
    model = torch_lenet(13, "flatten", "batch")
    if kind == "truncated":
        data = model.SerializeToString()
        path.write_bytes(data[: len(data) // 3])
        return path, "not a readable ONNX model"
    if kind == "missing_initializer":
        keep = [t for t in model.graph.initializer if t.name != "conv2.weight"]
        del model.graph.initializer[:]
        model.graph.initializer.extend(keep)
        expect = "node 'Conv_4' (Conv): input 'conv2.weight' is not defined"
    elif kind == "dynamic_shape":
        model.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "height"
        expect = "dynamic dimension 'height' at axis 2"
    elif kind == "dilation":
        node = model.graph.node[0]
        for a in node.attribute:
            if a.name == "dilations":
                a.ints[:] = [2, 2]
        expect = "node 'Conv_0' (Conv): dilations [2, 2] not supported"
    else:  # an operator lenetc has no layer for
        model.graph.node[1].op_type = "Erf"
        expect = "node 'Relu_2' (Erf): operator not supported"
    path.write_bytes(model.SerializeToString())
    return path, expect


@pytest.mark.parametrize("kind", ["truncated", "missing_initializer", "dynamic_shape", "dilation", "unsupported_op"])
def test_bad_files_give_one_line_exit_2_and_no_output(tmp_path, capsys, kind):
    path, expect = _broken(kind, tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    status = _cli(["export", str(path), "-o", str(out_dir / "model.onnx")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("lenetc: error: ") and expect in err, err
    assert list(out_dir.iterdir()) == []
    gen_dir = tmp_path / "gen"
    assert _cli(["generate", str(path), "-o", str(gen_dir)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not gen_dir.exists() or list(gen_dir.iterdir()) == []
    with pytest.raises(LenetcError):
        lenetc.load(path)


def test_branching_graph_is_rejected():
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 4])
    nodes = [
        helper.make_node("Relu", ["input"], ["r"], name="r"),
        helper.make_node("Add", ["r", "input"], ["output"], name="res"),
    ]
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y]), opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(LenetcError, match=r"node 'res' \(Add\): .*earlier tensor"):
        import_model(model)


MAIN_C = r"""
#include "misc.h"
#include <stdio.h>
int main(void)
{
    static float in[MISC_INPUT_SIZE];
    float out[MISC_OUTPUT_SIZE];
    int i;
    for (i = 0; i < MISC_INPUT_SIZE; i++) {
        in[i] = (float)(i % 17) / 17.0f;
    }
    if (misc_run(in, out) != 0) {
        return 1;
    }
    for (i = 0; i < MISC_OUTPUT_SIZE; i++) {
        printf("%.9g\n", (double)out[i]);
    }
    return 0;
}
"""


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_imported_model_c_is_strict_and_sanitizer_clean(tmp_path, cc):
    """Affine, grouped/depthwise conv, SAME padding and ceil-mode pooling from an import: -Werror, ASan, UBSan."""
    import shutil
    import subprocess

    if shutil.which(cc) is None:
        pytest.skip(f"{cc} not installed")
    net = import_model(_misc_model(), "misc")
    lenetc.generate(net, tmp_path)
    (tmp_path / "main.c").write_text(MAIN_C)
    flags = "-std=c99 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror -fsanitize=address,undefined"
    exe = tmp_path / "m"
    cmd = [cc, *flags.split(), "-fno-sanitize-recover=all", "-o", str(exe), str(tmp_path / "misc.c"),
           str(tmp_path / "main.c"), "-lm"]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    run = subprocess.run([str(exe)], check=True, capture_output=True, text=True)
    got = np.array([float(v) for v in run.stdout.split()])
    x = (np.arange(784) % 17 / 17).astype(np.float32).reshape(1, 1, 28, 28)
    close(got, run_onnxruntime(_misc_model(), x)[0])


def test_weights_option_is_refused_for_an_onnx_model(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(torch_lenet(13), str(path))
    with pytest.raises(LenetcError, match="carries its own weights"):
        lenetc.load(path, "random:1")


@pytest.mark.parametrize("opset", [7, 9, 11, 12])
def test_pre_opset13_semantics_match_onnxruntime(opset):
    """Clip bounds as attributes (< 11) or inputs, BatchNormalization with spatial (< 9), Dropout ratio
    attribute, and Softmax's old axis rule (< 13: one softmax over all of a sample's C*H*W values)."""
    rng = np.random.default_rng(opset)
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.4, (4, 3, 3, 3)).astype(np.float32), "w"),
        *(numpy_helper.from_array(v.astype(np.float32), n) for n, v in
          (("g", rng.uniform(0.5, 1.5, 4)), ("b", rng.normal(0, 0.1, 4)), ("m", rng.normal(0, 0.1, 4)),
           ("v", rng.uniform(0.5, 2, 4)))),
    ]  # fmt: skip
    bn_attrs = {"spatial": 1} if opset < 9 else {}
    clip = (
        helper.make_node("Clip", ["bn"], ["cl"], min=-0.5, max=2.0)
        if opset < 11
        else helper.make_node("Clip", ["bn", "lo", "hi"], ["cl"])
    )
    if opset >= 11:
        inits += [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("lo", -0.5), ("hi", 2.0))]
    nodes = [
        helper.make_node("Conv", ["input", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "g", "b", "m", "v"], ["bn"], epsilon=1e-3, **bn_attrs),
        clip,
        helper.make_node("Dropout", ["cl"], ["d"], **({"ratio": 0.3} if opset < 12 else {})),
        helper.make_node("Softmax", ["d"], ["output"]),  # default axis 1: over all 4*6*6 values
    ]
    graph = helper.make_graph(
        nodes,
        "old",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [2, 3, 6, 6])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [2, 4, 6, 6])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 4 if opset < 9 else 5
    onnx.checker.check_model(model)
    net = import_model(model, f"old{opset}")
    assert [layer.kind for layer in net.layers] == ["conv2d", "flatten", "softmax"]
    x = np.random.default_rng(0).normal(size=(2, 3, 6, 6)).astype(np.float32)
    close(lenetc.forward(net, x), run_onnxruntime(model, x).reshape(2, -1))


@pytest.mark.parametrize("opset", [13, 17, 21])
def test_lenet5_export_at_several_opsets_round_trips(opset):
    from lenetc.exporters.onnx_export import to_onnx

    net = lenetc.load("lenet5", "random:5")
    model = to_onnx(net, opset=opset)
    x = images(net.input_shape, n=3)
    close(run_onnxruntime(model, x), lenetc.forward(net, x))
    assert [layer.kind for layer in import_model(model).layers][-1] == "rbf"


def test_initializers_reshaped_and_transposed_in_the_graph(tmp_path, capsys):
    """Weights stored flat / transposed and fixed up by Reshape and Transpose nodes fold to constants."""
    model = keras_lenet()
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    k1 = numpy_helper.to_array(inits["conv1/kernel"])
    d1 = numpy_helper.to_array(inits["dense1/kernel"])
    inits["conv1/kernel"].CopyFrom(numpy_helper.from_array(k1.reshape(-1), "conv1/kernel_flat"))
    inits["dense1/kernel"].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(d1.T), "dense1/kernel_t"))
    graph.initializer.append(numpy_helper.from_array(np.array(k1.shape, np.int64), "k1_shape"))
    fix = [
        helper.make_node("Reshape", ["conv1/kernel_flat", "k1_shape"], ["conv1/kernel"], name="fix_k1"),
        helper.make_node("Transpose", ["dense1/kernel_t"], ["dense1/kernel"], name="fix_d1", perm=[1, 0]),
    ]
    nodes = fix + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    path = tmp_path / "fixups.onnx"
    onnx.save(model, str(path))
    net = lenetc.load(path)
    x = images(net.input_shape)
    close(lenetc.forward(net, x), run_onnxruntime(path, x))
    # and the CLI treats it as any other model
    assert _cli(["info", str(path)]) == 0
    assert "155,606" in capsys.readouterr().out


def test_fixed_batch_models_run_in_chunks():
    """A model exported with a fixed batch of 4 still verifies on 10 inputs (chunks of 4, last one padded)."""
    model = _misc_model()
    for dim in (model.graph.input[0], model.graph.output[0]):
        dim.type.tensor_type.shape.dim[0].dim_value = 4
    net = import_model(model, "fixed4")
    x = images(net.input_shape, n=10, seed=7)
    close(lenetc.forward(net, x), run_onnxruntime(model, x))


def test_core_commands_work_on_an_imported_file(tmp_path, capsys):
    path = tmp_path / "misc.onnx"
    onnx.save(_misc_model(), str(path))
    assert _cli(["verify", str(path), "-n", "8", "--inputs", "random"]) == 0
    assert "PASS" in capsys.readouterr().out
    assert _cli(["generate", str(path), "-o", str(tmp_path / "c")]) == 0
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["misc.c", "misc.h"]


def test_corrupted_files_never_raise_anything_but_a_one_line_error(tmp_path):
    """Truncations and flipped bytes (fixed seed): a model, or a LenetcError on one line."""
    from lenetc.importers.onnx_load import load_onnx

    data = keras_lenet().SerializeToString()
    rng = np.random.default_rng(11)
    path = tmp_path / "corrupt.onnx"
    variants = [data[:cut] for cut in rng.integers(1, len(data), 25)]
    for _ in range(60):
        b = bytearray(data)
        for i in rng.integers(0, 4000, 3):  # the graph structure sits before the large weights
            b[i] ^= int(rng.integers(1, 256))
        variants.append(bytes(b))
    for blob in variants:
        path.write_bytes(blob)
        try:
            load_onnx(path)
        except LenetcError as exc:
            assert "\n" not in str(exc)
