"""Issue 21, silent wrong answers (items 7, 8, 9, 11, 13, 15): each case is compared with an
independent computation (Keras' own predict, ONNX Runtime, the NumPy reference) or refused."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lenetc

HERE = Path(__file__).parent
KERAS = importlib.util.find_spec("keras") is not None and importlib.util.find_spec("jax") is not None


def run_cli(*args: str, env: dict | None = None, cwd: str | Path | None = None) -> subprocess.CompletedProcess:
    root = str(HERE.parent)
    e = {**os.environ, "PYTHONPATH": root, **(env or {})}
    return subprocess.run([sys.executable, "-m", "lenetc", *args], capture_output=True, text=True, env=e, cwd=cwd)


def one_line_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lenetc: error: "), proc.stderr
    for w in words:
        assert w in lines[0], lines[0]


# ---- item 7: Keras channels_first -------------------------------------------------------------


@pytest.fixture(scope="module")
def keras_layouts(tmp_path_factory) -> Path:
    if not KERAS:
        pytest.fail("keras and jax are needed (the test extra installs them)")
    out = tmp_path_factory.mktemp("keras_layouts")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, str(HERE / "keras_layout_models.py"), str(out)], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("name", ["cf_flat", "cf_pool"])
def test_keras_channels_first_matches_keras_predict(keras_layouts: Path, name: str, suffix: str) -> None:
    """Tolerance 1e-5 of the largest output: Keras computes in float32, the reference in float64."""
    data = np.load(keras_layouts / f"{name}.npz")
    want = data["y"].astype(np.float64)
    net = lenetc.load(keras_layouts / f"{name}{suffix}")
    got = lenetc.forward(net, data["x"])
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()
    assert (got.argmax(1) == want.argmax(1)).all()
    if suffix == ".keras" and name == "cf_pool":  # the C too (same net, so once)
        assert np.abs(lenetc.compile(net)(data["x"]) - want).max() <= 1e-5 * np.abs(want).max()


@pytest.mark.parametrize("name, words", [("mixed", ["max_pooling2d", "channels_last", "channels_first"]),
                                         ("last_cf", ["Flatten", "channels_first"])])  # fmt: skip
def test_keras_layouts_lenetc_cannot_follow_are_refused(keras_layouts: Path, name: str, words) -> None:
    for suffix in (".keras", ".h5"):
        one_line_error(run_cli("info", str(keras_layouts / f"{name}{suffix}")), *words)


def test_keras_api_names_compile_and_match_keras(keras_layouts: Path, tmp_path: Path) -> None:
    """Item 12 through the Keras importer: layers named run, predict, PROBE, conv1_weight..."""
    from conftest import STRICT_FLAGS

    data = np.load(keras_layouts / "api_names.npz")
    want = data["y"].astype(np.float64)
    net = lenetc.load(keras_layouts / "api_names.keras")
    gen = lenetc.generate(net, tmp_path)
    c = next(p for p in gen.paths if p.suffix == ".c")
    proc = subprocess.run(["clang", *STRICT_FLAGS, "-c", str(c), "-o", str(tmp_path / "k.o")], capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    x = np.transpose(data["x"], (0, 3, 1, 2))
    assert np.abs(lenetc.compile(net)(x) - want).max() <= 1e-5 * np.abs(want).max()


# ---- items 8, 9: one rule for input dtypes ----------------------------------------------------


def _digits(n: int = 12, seed: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ink = rng.random((n, 28, 28)) < 0.25
    return np.where(ink, rng.integers(40, 256, (n, 28, 28)), 0).astype(np.uint8)


@pytest.fixture(scope="module")
def lenet5() -> lenetc.Network:
    return lenetc.load("lenet5", "random:3")


def test_quantize_refuses_pixels_given_as_floats(lenet5) -> None:
    """Before: float 0..255 pixels were taken as inputs, calibrating an input scale of 1.0."""
    pixels = _digits()
    with pytest.raises(lenetc.LenetcError, match="uint8"):
        lenetc.quantize(lenet5, pixels.astype(np.float32))
    for bad in (pixels.astype(np.int16), pixels.astype(bool)):
        with pytest.raises(lenetc.LenetcError, match="ambiguous"):
            lenetc.quantize(lenet5, bad)


def test_quantize_uint8_pixels_equal_their_preprocessed_floats(lenet5) -> None:
    pixels = _digits()
    a = lenetc.quantize(lenet5, pixels)
    b = lenetc.quantize(lenet5, lenet5.preprocess.apply(pixels))
    assert a.input_q == b.input_q
    assert [q.out_q for q in a.layers] == [q.out_q for q in b.layers]
    # the input range is what the preprocessing gives pixels 0..255 (MNIST digits), not 0..255
    assert a.input_q.scale < 0.1


@pytest.fixture(scope="module")
def compiled_pair(lenet5):
    qnet = lenetc.quantize(lenet5, _digits(32, seed=9))
    return lenetc.compile(lenet5), lenetc.compile(qnet)


def test_compiled_float_model_preprocesses_uint8_frames(lenet5, compiled_pair) -> None:
    """Before: uint8 frames ran as if preprocessed (lenet-caffe 88.6 % instead of 99.3 %).
    Independent check: the float64 reference on the model's preprocessing; tolerance 1e-4 of
    the largest output (float32 C against float64)."""
    cf, _ = compiled_pair
    pixels = _digits()
    want = lenetc.forward(lenet5, lenet5.preprocess.apply(pixels))
    got = cf(pixels)
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()
    assert np.abs(cf(pixels[0]) - want[0]).max() <= 1e-4 * np.abs(want).max()  # one frame
    assert np.abs(lenetc.forward(lenet5, pixels) - want).max() == 0  # the reference follows the rule too
    with pytest.raises(lenetc.LenetcError, match="int8"):
        cf(np.zeros((2, 28, 28), np.int8))
    with pytest.raises(lenetc.LenetcError, match="ambiguous"):
        cf(pixels.astype(np.int32))
    with pytest.raises(lenetc.LenetcError, match="uint8"):
        cf(pixels.astype(np.float64))
    with pytest.raises(lenetc.LenetcError, match="28x28"):
        cf(np.zeros((2, 1, 32, 32), np.uint8))


def test_compiled_int8_model_follows_the_same_rule(lenet5, compiled_pair) -> None:
    """uint8 frames are pixels: bit-exact with the NumPy integer reference on Python's
    preprocessing and input quantization; int8 inputs are taken as quantized."""
    from lenetc.quant.reference_int8 import forward_int8

    _, cq = compiled_pair
    qnet = cq.qnet
    pixels = _digits()
    xq = qnet.quantize_input(lenet5.preprocess.apply(pixels))
    want = forward_int8(qnet, xq)
    _, raw = cq(pixels, raw=True)
    np.testing.assert_array_equal(raw, want)
    _, raw_q = cq(xq, raw=True)
    np.testing.assert_array_equal(raw_q, want)
    with pytest.raises(lenetc.LenetcError, match="ambiguous"):
        cq(pixels.astype(np.uint16))


# ---- item 13: duplicate ONNX names ---------------------------------------------------------


def _gemm_model(dup: str):
    """x (1, 4) -> Gemm(W, b) -> Relu -> y, with one name defined twice as ``dup`` says."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w1, w2 = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(3, 4)).astype(np.float32)
    inits = [numpy_helper.from_array(w1, "W"), numpy_helper.from_array(np.zeros(3, np.float32), "b")]
    nodes = [helper.make_node("Gemm", ["x", "W", "b"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["y"])]
    if dup == "initializer":
        inits.append(numpy_helper.from_array(w2, "W"))
    elif dup == "node_output":
        nodes = [nodes[0], helper.make_node("Relu", ["h"], ["h"]), helper.make_node("Relu", ["h"], ["y"])]
    elif dup == "output_is_initializer":
        nodes = [nodes[0], helper.make_node("Relu", ["h"], ["b"]), helper.make_node("Relu", ["b"], ["y"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], inits,
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), onnx


@pytest.mark.parametrize("dup", ["initializer", "node_output", "output_is_initializer"])
def test_onnx_names_defined_twice_are_refused(tmp_path: Path, dup: str) -> None:
    """Before: two initializers 'W' -> lenetc took the last, ONNX Runtime the first."""
    model, onnx = _gemm_model(dup)
    path = tmp_path / f"{dup}.onnx"
    onnx.save(model, path)
    one_line_error(run_cli("info", str(path)), "defined twice")
    with pytest.raises(lenetc.LenetcError, match="defined twice"):
        lenetc.load(path)


def test_onnx_single_definitions_still_import(tmp_path: Path) -> None:
    """The same graph without a duplicate imports and matches ONNX Runtime (1e-6: one float Gemm)."""
    import onnxruntime as ort

    model, onnx = _gemm_model("none")
    path = tmp_path / "ok.onnx"
    onnx.save(model, path)
    x = np.random.default_rng(1).normal(size=(1, 4)).astype(np.float32)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = lenetc.forward(lenetc.load(path), x.reshape(1, 4, 1, 1))
    assert np.abs(got.reshape(want.shape) - want).max() <= 1e-6 * max(1.0, np.abs(want).max())


# ---- item 11: cached confidence fits are checked ------------------------------------------------


def test_cached_confidence_fit_is_checked_and_refitted() -> None:
    """Before: a negated temperature in the cache was used (predict answered 6 for a 7)."""
    import json

    from lenetc import confidence as conf

    net = lenetc.load("lenet5")
    first = conf.calibration_for(net)
    want = conf.fit_calibration(net, shape=first.shape)  # recomputed without the cache
    assert first.temperature == want.temperature and first.min_confidence == want.min_confidence
    key = {**conf._settings(), "weights": net.weights_hash()}
    path = conf._cache_path("model", key, ".json")
    good = json.loads(path.read_text())

    def tampered(**changes) -> dict:
        doc = {**good, **changes}
        if changes.pop("rehash", False):
            doc = conf._model_doc(doc["temperature"], doc["min_confidence"], key)
        return doc

    for doc in (
        tampered(temperature=-good["temperature"]),  # checksum no longer matches
        tampered(temperature=2 * good["temperature"]),
        tampered(temperature=-good["temperature"], rehash=True),  # checksum redone, value impossible
        tampered(min_confidence=1.5, rehash=True),
        [1, 2],
    ):
        path.write_text(json.dumps(doc))
        again = conf.calibration_for(net)
        assert (again.temperature, again.min_confidence) == (want.temperature, want.min_confidence)
        assert json.loads(path.read_text()) == good  # the refit replaced the bad entry


def test_cached_shape_checks_are_checked_and_refitted() -> None:
    import io

    from lenetc import confidence as conf

    want = conf.fit_shape()
    conf._cached_shape()
    path = conf._cache_path("shape", conf._settings(), ".npz")
    with np.load(path) as data:
        arrays = {k: np.array(data[k]) for k in data.files}
    for change in ({"min_ink": np.array(-5.0)}, {"max_residual": np.array(1e9)}, {"mean": np.zeros(3)}):
        buf = io.BytesIO()
        np.savez(buf, **{**arrays, **change})
        path.write_bytes(buf.getvalue())
        got = conf._cached_shape()
        assert (got.min_ink, got.max_solid, got.max_residual) == (want.min_ink, want.max_solid, want.max_residual)
        np.testing.assert_array_equal(got.basis, want.basis)


# ---- item 15: --backend reference with int8; huge inputs; stack bound; --ram-bytes ----------------


def test_eval_int8_reference_backend_runs_the_references(tmp_path: Path) -> None:
    """Before: --backend reference --dtype int8 silently compiled and ran the C. With CC=false no
    C can be built, so only the NumPy references can answer; their accuracies are recomputed
    here from the integer reference (bit-exact: same calibration digits, same test digits)."""
    import json

    from lenetc.datasets import mnist
    from lenetc.quant.reference_int8 import forward_int8

    env = {"CC": "false", "LENETC_CACHE": str(tmp_path / "cache")}
    proc = run_cli("eval", "lenet5", "--dtype", "int8", "--backend", "reference", "-n", "60", "--calib", "20",
                   "--sqnr-images", "10", "--json", env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert doc["backend"] == "reference" and doc["images"] == 60
    net = lenetc.load("lenet5")
    qnet = lenetc.quantize(net, n_calib=20)
    images, labels = mnist("test")
    x = net.preprocess.apply(images[:60])
    want_q = (forward_int8(qnet, qnet.quantize_input(x)).argmin(axis=1) == labels[:60]).mean()
    want_f = (lenetc.forward(net, x).argmin(axis=1) == labels[:60]).mean()
    assert doc["accuracy_int8"] == pytest.approx(want_q, abs=1e-12)
    assert doc["accuracy_float32"] == pytest.approx(want_f, abs=1e-12)
    c = run_cli("eval", "lenet5", "--dtype", "int8", "-n", "60", "--calib", "20", env=env)
    assert c.returncode == 2 and "false" in c.stderr  # the C backend does need the compiler


def test_ram_budget_counts_every_kernel_the_target_runs() -> None:
    """Before: --ram-bytes 2500 on cortex-m4 refused lenet5 int8 ("smallest plan needs 2,752",
    counting only the DSP kernels) while the portable kernels fit in 2,432."""
    import json

    proc = run_cli("size", "lenet5", "--dtype", "int8", "--target", "cortex-m4", "--ram-bytes", "2500",
                   "--calib", "50", "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    mem = doc["memory"]
    assert mem["dialect"] == "portable"
    assert mem["arena_bytes"] + doc["stack"] <= 2500  # the stack measured on the M4 object
    small = run_cli("size", "lenet5", "--dtype", "int8", "--target", "cortex-m4", "--ram-bytes", "1000",
                    "--calib", "50")  # fmt: skip
    one_line_error(small, "cortex-m-dsp and portable kernels counted")


@pytest.mark.parametrize("model", ["lenet5", "lenet-caffe"])
def test_inputs_too_large_for_float32_sums_are_refused_by_c_and_reference(model: str) -> None:
    """Before: 3e38 inputs overflowed in the C to a near-uniform answer while the float64
    reference answered class 0. Now the C (its own check, called without Python's) and the
    reference refuse |x| >= 2^k, and just below 2^k the C still agrees with the reference
    (relative 1e-4 of the largest output: float32 against float64)."""
    from lenetc.input_range import input_limit

    net = lenetc.load(model)
    limit = input_limit(net)
    assert 1e20 < limit < 3.4e38
    c = lenetc.compile(net)
    x = net.preprocess.apply(_digits(2))
    for big in (3e38, limit):
        bad = x.copy()
        bad[0, 0, 5, 5] = big
        out = np.empty((2, c.output_size), np.float32)
        with pytest.raises(lenetc.LenetcError, match="status -4"):
            c._run_chunks(np.ascontiguousarray(bad, np.float32), out, "float[]", "float[]")  # the C alone
        with pytest.raises(lenetc.LenetcError, match="too large"):
            lenetc.forward(net, bad)
        with pytest.raises(lenetc.LenetcError, match="too large"):
            c(bad)
    ok = x.copy()
    ok[0, 0, 5, 5] = np.nextafter(np.float32(limit), np.float32(0))
    want = lenetc.forward(net, ok)
    got = c(ok)
    assert np.isfinite(got).all()
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()
