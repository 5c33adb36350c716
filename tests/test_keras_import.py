"""Keras import without TensorFlow: files written with h5py in Keras's documented layouts.

Keras 2 ``.h5``: root attribute ``model_config`` (JSON), group ``model_weights`` with attribute
``layer_names`` and, per layer, attribute ``weight_names`` naming datasets ``<layer>/kernel:0``...
Keras 3 ``.keras``: zip of ``config.json``, ``metadata.json`` and ``model.weights.h5`` with
datasets ``layers/<storage>/vars/<i>``, where ``<storage>`` is the layer's snake-case class name
with a per-model counter (``conv2d``, ``conv2d_1``, ``dense``...), not its name; files saved by
Keras 3 itself are tested in test_keras3_files.py.

The reference is an independent NumPy forward pass written channels last (as Keras computes),
on the arrays as stored; tolerance 1e-5 of the largest output (float32 sums in another order).
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

import lenetc  # noqa: E402
from lenetc.errors import LenetcError  # noqa: E402

REL = 1e-5


def _layer(kind, name, **cfg):
    return {"class_name": kind, "config": {"name": name, **cfg}}


def seed_keras_lenet(seed=0):
    """The study note's Keras LeNet: Conv2D 32 -> 64 (5x5 valid, ReLU), MaxPool, Dense 100 -> 10 softmax."""
    rng = np.random.default_rng(seed)
    f32 = np.float32
    layers = [
        _layer("InputLayer", "input_1", batch_input_shape=[None, 28, 28, 1], dtype="float32"),
        _layer("Conv2D", "conv2d", filters=32, kernel_size=[5, 5], strides=[1, 1], padding="valid",
               data_format="channels_last", dilation_rate=[1, 1], activation="relu", use_bias=True),
        _layer("MaxPooling2D", "max_pooling2d", pool_size=[2, 2], strides=[2, 2], padding="valid"),
        _layer("Conv2D", "conv2d_1", filters=64, kernel_size=[5, 5], strides=[1, 1], padding="valid",
               activation="relu", use_bias=True),
        _layer("MaxPooling2D", "max_pooling2d_1", pool_size=[2, 2], strides=[2, 2], padding="valid"),
        _layer("Flatten", "flatten", data_format="channels_last"),
        _layer("Dense", "dense", units=100, activation="relu", use_bias=True),
        _layer("Dropout", "dropout", rate=0.5),
        _layer("Dense", "dense_1", units=10, activation="softmax", use_bias=True),
    ]  # fmt: skip
    weights = {
        "conv2d": [rng.normal(0, 0.2, (5, 5, 1, 32)).astype(f32), rng.normal(0, 0.1, 32).astype(f32)],
        "conv2d_1": [rng.normal(0, 0.03, (5, 5, 32, 64)).astype(f32), rng.normal(0, 0.1, 64).astype(f32)],
        "dense": [rng.normal(0, 0.03, (1024, 100)).astype(f32), rng.normal(0, 0.1, 100).astype(f32)],
        "dense_1": [rng.normal(0, 0.1, (100, 10)).astype(f32), rng.normal(0, 0.1, 10).astype(f32)],
    }
    return layers, weights


def bn_keras_net(seed=1):
    """'same' padding, stride 2, BatchNormalization (folded), separate Activation/LeakyReLU, avg pooling."""
    rng = np.random.default_rng(seed)
    f32 = np.float32
    layers = [
        _layer("InputLayer", "input_layer", batch_shape=[None, 28, 28, 1]),
        _layer("Conv2D", "conv", filters=8, kernel_size=[3, 3], strides=[2, 2], padding="same", activation="linear",
               use_bias=False),
        _layer("BatchNormalization", "bn", axis=-1, epsilon=1e-3, center=True, scale=True),
        _layer("Activation", "act", activation="tanh"),
        _layer("AveragePooling2D", "avg", pool_size=[3, 3], strides=[2, 2], padding="same"),
        _layer("Conv2D", "conv_b", filters=6, kernel_size=[3, 3], strides=[1, 1], padding="valid", activation=None),
        _layer("LeakyReLU", "leaky", negative_slope=0.1),
        _layer("Flatten", "flat"),
        _layer("Dense", "fc", units=10, activation="sigmoid"),
    ]  # fmt: skip
    weights = {
        "conv": [rng.normal(0, 0.3, (3, 3, 1, 8)).astype(f32)],
        "bn": [rng.uniform(0.5, 1.5, 8).astype(f32), rng.normal(0, 0.1, 8).astype(f32),
               rng.normal(0, 0.2, 8).astype(f32), rng.uniform(0.5, 2, 8).astype(f32)],
        "conv_b": [rng.normal(0, 0.2, (3, 3, 8, 6)).astype(f32), rng.normal(0, 0.1, 6).astype(f32)],
        "fc": [rng.normal(0, 0.2, (6 * 5 * 5, 10)).astype(f32), rng.normal(0, 0.1, 10).astype(f32)],
    }  # fmt: skip
    return layers, weights


def write_h5(path, layers, weights):
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.13.1"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(config)
        mw = f.create_group("model_weights")
        names = [ly["config"]["name"] for ly in layers]
        mw.attrs["layer_names"] = [n.encode() for n in names]
        suffixes = {2: ["kernel:0", "bias:0"], 1: ["kernel:0"],
                    4: ["gamma:0", "beta:0", "moving_mean:0", "moving_variance:0"]}  # fmt: skip
        for n in names:
            g = mw.create_group(n)
            arrays = weights.get(n, [])
            wn = [f"{n}/{s}" for s in suffixes.get(len(arrays), [])][: len(arrays)]
            g.attrs["weight_names"] = [s.encode() for s in wn]
            for s, a in zip(wn, arrays, strict=True):
                g.create_dataset(s, data=a)


def write_keras3(path, layers, weights):
    k3_layers = []
    for ly in layers:
        ly = json.loads(json.dumps(ly))
        ly["module"] = "keras.layers"
        cfg = ly["config"]
        if "batch_input_shape" in cfg:
            cfg["batch_shape"] = cfg.pop("batch_input_shape")
        k3_layers.append(ly)
    first = next(ly for ly in layers if ly["class_name"] == "InputLayer")["config"]
    shape = first.get("batch_input_shape") or first.get("batch_shape")
    config = {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "layers": k3_layers},
              "build_config": {"input_shape": shape}}  # fmt: skip
    storage, counts = {}, {}
    snake = {"Conv2D": "conv2d", "MaxPooling2D": "max_pooling2d", "AveragePooling2D": "average_pooling2d",
             "BatchNormalization": "batch_normalization", "LeakyReLU": "leaky_re_lu"}  # fmt: skip
    for ly in layers[1:]:  # model.layers: all but the InputLayer
        base = snake.get(ly["class_name"], ly["class_name"].lower())
        counts[base] = counts.get(base, -1) + 1
        storage[ly["config"]["name"]] = base if counts[base] == 0 else f"{base}_{counts[base]}"
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for n, arrays in weights.items():
            g = f.create_group(f"layers/{storage[n]}/vars")
            for i, a in enumerate(arrays):
                g.create_dataset(str(i), data=a)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.6.0"}))
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", buf.getvalue())


def numpy_keras(layers, weights, x_nhwc):
    """Channels-last NumPy forward of the layer list, as Keras defines each layer."""
    h = x_nhwc.astype(np.float64)
    acts = {"relu": lambda v: np.maximum(v, 0), "tanh": np.tanh, "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
            None: lambda v: v, "linear": lambda v: v}  # fmt: skip

    def same_pad(h, k, s, value):
        n, hh, ww, c = h.shape
        th = max((-(-hh // s[0]) - 1) * s[0] + k[0] - hh, 0)
        tw = max((-(-ww // s[1]) - 1) * s[1] + k[1] - ww, 0)
        pads = ((0, 0), (th // 2, th - th // 2), (tw // 2, tw - tw // 2), (0, 0))
        return np.pad(h, pads, constant_values=value), np.pad(np.ones_like(h[..., :1]), pads)

    for ly in layers:
        kind, cfg = ly["class_name"], ly["config"]
        w = [a.astype(np.float64) for a in weights.get(cfg["name"], [])]
        if kind == "Conv2D":
            k, s = cfg["kernel_size"], cfg["strides"]
            if cfg["padding"] == "same":
                h, _ = same_pad(h, k, s, 0.0)
            win = np.lib.stride_tricks.sliding_window_view(h, k, axis=(1, 2))[:, :: s[0], :: s[1]]
            h = np.einsum("nhwcij,ijco->nhwo", win, w[0]) + (w[1] if len(w) > 1 else 0)
            h = acts[cfg.get("activation")](h)
        elif kind in ("MaxPooling2D", "AveragePooling2D"):
            k, s = cfg["pool_size"], cfg["strides"]
            ones = np.ones_like(h[..., :1])
            if cfg["padding"] == "same":
                h, ones = same_pad(h, k, s, -np.inf if kind == "MaxPooling2D" else 0.0)
            win = np.lib.stride_tricks.sliding_window_view(h, k, axis=(1, 2))[:, :: s[0], :: s[1]]
            if kind == "MaxPooling2D":
                h = win.max(axis=(-2, -1))
            else:  # TensorFlow divides by the real (non-padding) inputs of each window
                cnt = np.lib.stride_tricks.sliding_window_view(ones, k, axis=(1, 2))[:, :: s[0], :: s[1]]
                h = win.sum(axis=(-2, -1)) / cnt.sum(axis=(-2, -1))
        elif kind == "BatchNormalization":
            gamma, beta, mean, var = w
            h = gamma * (h - mean) / np.sqrt(var + cfg["epsilon"]) + beta
        elif kind == "Activation":
            h = acts[cfg["activation"]](h)
        elif kind == "LeakyReLU":
            h = np.where(h >= 0, h, cfg["negative_slope"] * h)
        elif kind == "Flatten":
            h = h.reshape(h.shape[0], -1)
        elif kind == "Dense":
            h = h @ w[0] + w[1]
            if cfg["activation"] == "softmax":
                e = np.exp(h - h.max(axis=1, keepdims=True))
                h = e / e.sum(axis=1, keepdims=True)
            else:
                h = acts[cfg["activation"]](h)
    return h


def rel_err(got, want) -> float:
    return float(np.abs(np.asarray(got, np.float64) - want).max() / np.abs(want).max())


@pytest.mark.parametrize("fmt", ["h5", "keras"])
@pytest.mark.parametrize("which", ["seed", "bn"])
def test_keras_files_match_channels_last_numpy(tmp_path, fmt, which):
    layers, weights = seed_keras_lenet() if which == "seed" else bn_keras_net()
    path = tmp_path / f"model.{fmt}"
    (write_h5 if fmt == "h5" else write_keras3)(path, layers, weights)
    net = lenetc.load(path)
    assert net.input_shape == (1, 28, 28)
    x = np.random.default_rng(9).uniform(0, 1, size=(5, 1, 28, 28)).astype(np.float32)
    want = numpy_keras(layers, weights, x.reshape(5, 28, 28, 1))
    assert rel_err(lenetc.forward(net, x), want) <= REL
    assert rel_err(lenetc.compile(net)(x), want) <= REL
    if which == "seed":
        assert net.totals()["params"] == 832 + 51_264 + 102_500 + 1_010  # the note's 155,606
        assert [layer.kind for layer in net.layers] == [
            "conv2d", "pool2d", "conv2d", "pool2d", "flatten", "dense", "dense", "softmax"
        ]  # fmt: skip
        assert net.layers[4].order == "HWC"
    else:  # BatchNormalization folded into the bias-free convolution
        assert "affine" not in [layer.kind for layer in net.layers]


def test_keras_errors_are_one_line(tmp_path):
    layers, weights = seed_keras_lenet()
    bad = tmp_path / "weights_only.h5"
    with h5py.File(bad, "w") as f:
        f.create_group("conv2d")
    with pytest.raises(LenetcError, match="no model_config"):
        lenetc.load(bad)
    layers[1]["config"]["dilation_rate"] = [2, 2]
    path = tmp_path / "dilated.h5"
    write_h5(path, layers, weights)
    with pytest.raises(LenetcError, match=r"Keras layer 'conv2d' \(Conv2D\): dilation_rate \[2, 2\] not supported"):
        lenetc.load(path)
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip")
    with pytest.raises(LenetcError, match="not a readable Keras model"):
        lenetc.load(junk)
