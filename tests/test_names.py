"""Every model and layer name that reaches C is validated (lenetc's own .npz, the Python API) or
made safe (names an importer takes from a framework or a file name).

Names are written raw into C comments, a C string literal (the firmware example) and Makefile
comments: a layer named ``c1 */ int lenetc_injected; /*`` used to put a symbol into the object.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import lenetc
from lenetc.codegen.render import render
from lenetc.names import MAX_NAME_LENGTH

INJECTED = "c1 */ int lenetc_injected; /*"


def caffe_npz(tmp_path, model_name=None, layer_renames=None):
    net = lenetc.load("lenet-caffe", "random:0")
    arch = json.loads(net.arch_json())
    params = dict(net.params)
    for old, new in (layer_renames or {}).items():
        next(ly for ly in arch["layers"] if ly["name"] == old)["name"] = new
        params = {(new + k[len(old) :] if k.startswith(old + ".") else k): v for k, v in params.items()}
    if model_name is not None:
        arch["name"] = model_name
    path = tmp_path / "named.npz"
    np.savez(path, __arch__=np.array(json.dumps(arch)), **params)
    return path


BAD_NAMES = {
    "comment end": (INJECTED, r"holds '\*'"),
    "comment start": ("a /* b", r"holds '\*'"),
    "newline": ("conv\n1", r"holds '\\n'"),
    "quote": ('say "hi"', "holds '\"'"),
    "backslash": ("a\\", r"holds '\\\\'"),
    "trigraph": ("what??/", r"holds '\?'"),
    "non-ASCII": ("caf\u00e9", r"holds '\u00e9'|holds 'é'"),
    "too long": ("x" * (MAX_NAME_LENGTH + 1), rf"is {MAX_NAME_LENGTH + 1} characters long"),
    "empty": ("", "is empty"),
}


@pytest.mark.parametrize("case", list(BAD_NAMES))
def test_bad_layer_name_in_npz_is_refused(tmp_path, case):
    name, message = BAD_NAMES[case]
    path = caffe_npz(tmp_path, layer_renames={"conv1": name})
    with pytest.raises(lenetc.LenetcError, match=rf"model 'lenet-caffe' in .*named.npz: layer name .*{message}"):
        lenetc.load(path)


@pytest.mark.parametrize("case", ["comment end", "newline", "quote", "too long"])
def test_bad_model_name_in_npz_is_refused(tmp_path, case):
    name, message = BAD_NAMES[case]
    with pytest.raises(lenetc.LenetcError, match=rf"model name .* {message}"):
        lenetc.load(caffe_npz(tmp_path, model_name=name))


def test_injected_name_gives_one_line_cli_error_and_no_output(tmp_path):
    path = caffe_npz(tmp_path, layer_renames={"conv1": INJECTED})
    out = subprocess.run(
        [sys.executable, "-m", "lenetc", "generate", str(path), "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "layer name 'c1 */ int lenetc_injected; /*'" in out.stderr
    assert not (tmp_path / "out").exists()


def test_python_api_names_are_checked_before_c_is_written(tmp_path):
    net = lenetc.Network("ok", (1, 4, 4), [lenetc.Activation("relu */ x")])
    with pytest.raises(lenetc.LenetcError, match=r"layer name 'relu \*/ x' holds '\*'"):
        lenetc.generate(net, tmp_path / "out", prefix="ok")
    net = lenetc.Network("bad */ model", (1, 4, 4), [lenetc.Activation("relu")])
    with pytest.raises(lenetc.LenetcError, match=r"model name 'bad \*/ model' holds '\*'"):
        lenetc.generate(net, tmp_path / "out", prefix="ok")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_safe_punctuation_still_allowed():
    net = lenetc.Network("my model (v2) - test", (1, 4, 4), [lenetc.Activation("block/relu [1], +x:y")]).validate()
    assert net.layers[0].name == "block/relu [1], +x:y"


# ---- importers: framework names are made safe, so the C carries no injected code -----------------


def _nm_symbols(obj) -> str:
    return subprocess.run(["nm", str(obj)], capture_output=True, text=True, check=True).stdout


@pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("nm") is None, reason="needs gcc and nm")
def test_onnx_node_and_file_names_cannot_inject_c(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = rng.normal(size=(2, 1, 3, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "W"], ["y"], name=INJECTED),
        helper.make_node("Relu", ["y"], ["z"], name="r" * 300 + "\n*/"),
        helper.make_node("Flatten", ["z"], ["f"], name="??/\\"),
    ]
    graph = helper.make_graph(
        nodes,
        'graph */ "name"',
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 6, 6])],
        [helper.make_tensor_value_info("f", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(w, "W")],
    )
    path = tmp_path / 'evil "name" \\ ??.onnx'
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    net = lenetc.load(path)
    assert net.name == "evil _name_ _ __"  # from the file name: no quote, backslash or trigraph reaches C
    assert all(len(layer.name) <= MAX_NAME_LENGTH for layer in net.layers)
    out = tmp_path / "out"
    lenetc.generate(net, out, prefix="m")
    obj = tmp_path / "m.o"
    strict = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion", "-Werror"]
    subprocess.run(["gcc", *strict, "-c", str(out / "m.c"), "-o", str(obj)], check=True)
    symbols = [line.split()[-1] for line in _nm_symbols(obj).splitlines()]
    assert "lenetc_injected" not in symbols and "m_run" in symbols
    x = rng.uniform(-1, 1, (3, 1, 6, 6)).astype(np.float32)
    want = np.maximum(np.stack([[np.sum(xi[0, i : i + 3, j : j + 3] * w[o, 0]) for o in range(2)
                                 for i in range(4) for j in range(4)] for xi in x]), 0)  # fmt: skip
    got = lenetc.compile(net)(x).reshape(3, 2, 16).reshape(3, -1)
    np.testing.assert_allclose(got, want.reshape(3, 2, 16).reshape(3, -1), rtol=1e-5, atol=1e-5)


def test_keras3_layer_names_cannot_inject_c(tmp_path):
    """A .keras config may name a layer anything (its weights are stored at layers/dense)."""
    import io
    import zipfile

    h5py = pytest.importorskip("h5py")
    layers = [
        {"class_name": "InputLayer", "config": {"name": "in", "batch_shape": [None, 4]}},
        {"class_name": "Dense", "config": {"name": INJECTED, "units": 2, "activation": "relu"}},
    ]
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        g = f.create_group("layers/dense/vars")
        g.create_dataset("0", data=np.arange(8, dtype=np.float32).reshape(4, 2))
        g.create_dataset("1", data=np.zeros(2, np.float32))
    path = tmp_path / "k.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {"name": "s", "layers": layers}}))
        zf.writestr("model.weights.h5", buf.getvalue())
    net = lenetc.load(path)
    assert [layer.name for layer in net.layers] == ["c1____int_lenetc_injected____"]
    code = "".join(render(lenetc.make_plan(net, "k")).values())
    assert "*/ int" not in code
