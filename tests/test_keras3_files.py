"""Keras 3 files saved by Keras 3 itself (keras + jax, built at test time by keras3_models.py).

The models are built in one process, so their config names are ``conv2d_2``, ``dense_3``...
while the weights file stores every model's layers as ``conv2d``, ``conv2d_1``, ``dense``...;
``collide`` names its layers after other layers' storage names with equal shapes, where a
name lookup swaps weights without any shape error. The reference is Keras's own
``predict()``. Tolerance 1e-5 of the largest output: Keras computes in float32, lenetc's
reference in float64 and its C in float32 with other summation orders.
"""

from __future__ import annotations

import importlib.util
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import lenetc

h5py = pytest.importorskip("h5py")

REL = 1e-5
HERE = Path(__file__).parent

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("keras") is None or importlib.util.find_spec("jax") is None,
    reason="needs keras and jax (in the test extra)",
)


@pytest.fixture(scope="module")
def keras3_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("keras3")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, str(HERE / "keras3_models.py"), str(out)], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def _keras_reference(keras3_dir: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    data = np.load(keras3_dir / f"{name}.npz")
    return np.transpose(data["x"], (0, 3, 1, 2)), data["y"].astype(np.float64)


def _rel(got, want) -> float:
    return float(np.abs(np.asarray(got, np.float64) - want).max() / np.abs(want).max())


@pytest.mark.parametrize("name, suffix", [("lenet", ".keras"), ("second", ".keras"), ("collide", ".keras"),
                                          ("lenet", ".h5")])  # fmt: skip
def test_keras3_file_matches_keras_predict(keras3_dir, name, suffix):
    net = lenetc.load(keras3_dir / f"{name}{suffix}")
    x, want = _keras_reference(keras3_dir, name)
    assert _rel(lenetc.forward(net, x), want) <= REL
    assert _rel(lenetc.compile(net)(x), want) <= REL


def test_storage_not_config_name_decides(keras3_dir):
    """In 'collide' the first convolution is named conv2d_1 but stored at layers/conv2d."""
    with zipfile.ZipFile(keras3_dir / "collide.keras") as zf:
        h5 = h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r")
    first_kernel = np.array(h5["layers/conv2d/vars/0"])  # (kh, kw, in, out)
    net = lenetc.load(keras3_dir / "collide.keras")
    np.testing.assert_array_equal(net.params[f"{net.layers[0].name}.weight"], np.transpose(first_kernel, (3, 2, 0, 1)))


def test_recorded_name_mismatch_is_an_error(keras3_dir, tmp_path):
    """Recent Keras records each layer's name on its vars group: a file whose config and weights
    disagree (here: two layers' storage swapped) is refused, not loaded with the wrong weights."""
    src = keras3_dir / "collide.keras"
    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    buf = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buf, "r+") as h5:
        h5.move("layers/conv2d", "layers/tmp")
        h5.move("layers/conv2d_1", "layers/conv2d")
        h5.move("layers/tmp", "layers/conv2d_1")
    members["model.weights.h5"] = buf.getvalue()
    bad = tmp_path / "swapped.keras"
    with zipfile.ZipFile(bad, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    with pytest.raises(lenetc.LenetcError, match=r"weights stored at 'layers/conv2d' belong to layer 'conv2d'"):
        lenetc.load(bad)
