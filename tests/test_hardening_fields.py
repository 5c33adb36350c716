"""Issue 21 item 14 (and item 21's weights messages): .npz and __arch__ JSON fields are checked
as read, before any conversion: a string is not a boolean, 28.7 not an integer, 257 or 1.5 not
a 0/1 connection, complex or float64 1e300 weights are refused by name."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import lenetc
from lenetc.network import ARCH_KEY


@pytest.fixture(scope="module")
def lenet5_arrays(tmp_path_factory) -> dict[str, np.ndarray]:
    path = tmp_path_factory.mktemp("npz") / "lenet5.npz"
    lenetc.save(lenetc.load("lenet5-softmax", "random:1"), path)
    with np.load(path) as data:
        return {k: np.array(data[k]) for k in data.files}


@pytest.fixture(scope="module")
def pool_arrays(tmp_path_factory) -> dict[str, np.ndarray]:
    from lenetc.zoo import random_params

    net = lenetc.Network(
        "p", (1, 8, 8), [lenetc.Conv2D("c", out_channels=2, kernel=3), lenetc.Pool2D("p"), lenetc.Flatten("f"),
                         lenetc.Dense("d", units=3)],
    )  # fmt: skip
    net.params = random_params(net, 1)
    path = tmp_path_factory.mktemp("npz") / "p.npz"
    lenetc.save(net, path)
    with np.load(path) as data:
        return {k: np.array(data[k]) for k in data.files}


def _write(tmp_path: Path, arrays: dict[str, np.ndarray], arch: dict | None = None) -> Path:
    arrays = dict(arrays)
    if arch is not None:
        arrays[ARCH_KEY] = np.array(json.dumps(arch))
    path = tmp_path / "m.npz"
    np.savez(path, **arrays)
    return path


def _arch(arrays) -> dict:
    return json.loads(str(arrays[ARCH_KEY]))


def _layer(arch: dict, kind: str) -> dict:
    return next(layer for layer in arch["layers"] if layer["kind"] == kind)


def _refused(path: Path, *words: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning / ComplexWarning on the way
        with pytest.raises(lenetc.LenetcError) as info:
            lenetc.load(path)
    msg = str(info.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, msg


@pytest.mark.parametrize("value", [257, 2, -1])
def test_sparse_table_entries_checked_before_the_cast(tmp_path, lenet5_arrays, value) -> None:
    arrays = dict(lenet5_arrays)
    key = next(k for k in arrays if k.endswith(".table"))
    table = arrays[key].astype(np.int32)
    table[0, 0] = value
    arrays[key] = table
    _refused(_write(tmp_path, arrays), key, "0 or 1", str(value))


def test_sparse_table_fraction_refused(tmp_path, lenet5_arrays) -> None:
    arrays = dict(lenet5_arrays)
    key = next(k for k in arrays if k.endswith(".table"))
    arrays[key] = arrays[key].astype(np.float64) * 1.5
    _refused(_write(tmp_path, arrays), key, "0 or 1", "1.5")


@pytest.mark.parametrize(
    "kind, field, value",
    [("softmax", "log", "false"), ("softmax", "log", 0), ("pool2d", "ceil_mode", "yes"),
     ("conv2d", "sparse", "false"), ("conv2d", "out_channels", 6.0), ("conv2d", "out_channels", True),
     ("conv2d", "kernel", [5.5, 5]), ("pool2d", "mode", 1), ("dense", "units", "84")],
)  # fmt: skip
def test_layer_fields_of_the_wrong_json_type_are_refused(tmp_path, lenet5_arrays, pool_arrays, kind, field, value):
    arrays = pool_arrays if kind == "pool2d" else lenet5_arrays
    arch = _arch(arrays)
    _layer(arch, kind)[field] = value
    _refused(_write(tmp_path, arrays, arch), field)


def test_string_log_false_was_log_softmax_before(tmp_path, lenet5_arrays) -> None:
    """The right type still works: "log": false is softmax (outputs sum to 1)."""
    arch = _arch(lenet5_arrays)
    _layer(arch, "softmax")["log"] = False
    net = lenetc.load(_write(tmp_path, lenet5_arrays, arch))
    y = lenetc.forward(net, np.zeros((1, *net.input_shape), np.float32))
    assert abs(float(y.sum()) - 1.0) < 1e-9


@pytest.mark.parametrize(
    "change, words",
    [({"format": 99}, ["format", "99"]), ({"format": True}, ["format"]),
     ({"input_shape": [1, 28.7, 28]}, ["input_shape", "28.7"]), ({"input_shape": [1, "28", 28]}, ["input_shape"]),
     ({"name": 5}, ["name"])],
)  # fmt: skip
def test_architecture_fields_checked(tmp_path, lenet5_arrays, change, words) -> None:
    arch = {**_arch(lenet5_arrays), **change}
    _refused(_write(tmp_path, lenet5_arrays, arch), *words)


def test_activation_parameters_must_be_numbers(tmp_path) -> None:
    net = lenetc.Network(
        "a", (1, 4, 4), [lenetc.Flatten("f"), lenetc.Dense("d", units=3, act=lenetc.Act("leaky_relu", alpha=0.1))]
    )
    net.params = {"d.weight": np.ones((3, 16), np.float32), "d.bias": np.zeros(3, np.float32)}
    path = tmp_path / "a.npz"
    lenetc.save(net, path)
    with np.load(path) as data:
        arrays = {k: np.array(data[k]) for k in data.files}
    arch = _arch(arrays)
    _layer(arch, "dense")["act"]["alpha"] = "0.1"
    _refused(_write(tmp_path, arrays, arch), "alpha")


def test_complex_and_out_of_range_weights_are_refused_by_name(tmp_path, lenet5_arrays) -> None:
    """Item 21: complex weights were silently truncated (ComplexWarning); float64 1e300 became
    Inf with a RuntimeWarning and was reported as 'NaN or Inf'."""
    key = next(k for k in lenet5_arrays if k.endswith(".weight"))
    arrays = dict(lenet5_arrays)
    arrays[key] = lenet5_arrays[key].astype(np.complex64) + 1j
    _refused(_write(tmp_path, arrays), key, "complex")
    arrays[key] = lenet5_arrays[key].astype(np.float64)
    arrays[key].flat[0] = 1e300
    _refused(_write(tmp_path, arrays), key, "1e+300", "float32")
