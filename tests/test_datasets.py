"""The idx reader, the shipped MNIST copy and each model's preprocessing."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest

from lenetc import datasets, zoo
from lenetc.errors import LenetcError


def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    """Encode an idx file by hand (independent of the reader under test)."""
    header = bytes([0, 0, code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(datasets.IDX_DTYPES[code]).tobytes()


@pytest.fixture
def small(tmp_path):
    rng = np.random.default_rng(7)
    arr = rng.integers(0, 256, size=(5, 3, 4), dtype=np.uint8)
    raw = idx_bytes(arr)
    path = tmp_path / "small.idx3-ubyte"
    path.write_bytes(raw)
    return arr, raw, path


def test_round_trip_plain_and_gzip(small, tmp_path):
    arr, raw, path = small
    np.testing.assert_array_equal(datasets.load_idx(path, (5, 3, 4), hashlib.md5(raw).hexdigest()), arr)
    gz = tmp_path / "small.idx3-ubyte.gz"
    gz.write_bytes(gzip.compress(raw))
    np.testing.assert_array_equal(datasets.load_idx(gz), arr)


def test_other_idx_types(tmp_path):
    arr = np.arange(-6, 6, dtype=np.int32).reshape(3, 4) * 1000
    path = tmp_path / "ints.idx"
    path.write_bytes(idx_bytes(arr, 0x0C))
    np.testing.assert_array_equal(datasets.load_idx(path), arr)


def test_wrong_magic(small, tmp_path):
    _, raw, _ = small
    bad = tmp_path / "bad.idx"
    bad.write_bytes(b"\x89PNG" + raw[4:])
    with pytest.raises(LenetcError, match="not an idx file"):
        datasets.load_idx(bad)
    bad.write_bytes(bytes([0, 0, 0x07, 3]) + raw[4:])  # unknown type code
    with pytest.raises(LenetcError, match="not an idx file"):
        datasets.load_idx(bad)


@pytest.mark.parametrize("cut", [2, 10, 30])
def test_truncated(small, tmp_path, cut):
    _, raw, _ = small
    bad = tmp_path / "cut.idx"
    bad.write_bytes(raw[:cut])
    with pytest.raises(LenetcError, match="truncated|not an idx"):
        datasets.load_idx(bad)


def test_truncated_gzip(small, tmp_path):
    _, raw, _ = small
    bad = tmp_path / "cut.idx.gz"
    packed = gzip.compress(raw)
    bad.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(LenetcError, match="truncated"):
        datasets.load_idx(bad)


def test_trailing_bytes_and_wrong_shape(small, tmp_path):
    _, raw, path = small
    bad = tmp_path / "long.idx"
    bad.write_bytes(raw + b"\0\0")
    with pytest.raises(LenetcError, match="trailing"):
        datasets.load_idx(bad)
    with pytest.raises(LenetcError, match=r"dimensions \(5, 3, 4\), expected \(60000, 28, 28\)"):
        datasets.load_idx(path, (60000, 28, 28))


def test_hash_mismatch(small, tmp_path):
    _, raw, _ = small
    changed = bytearray(raw)
    changed[-1] ^= 0xFF
    bad = tmp_path / "changed.idx"
    bad.write_bytes(bytes(changed))
    with pytest.raises(LenetcError, match="MD5"):
        datasets.load_idx(bad, md5=hashlib.md5(raw).hexdigest())


def test_missing_file(tmp_path):
    with pytest.raises(LenetcError, match="does not exist"):
        datasets.load_idx(tmp_path / "nope.idx")


def test_shipped_mnist():
    images, labels = datasets.mnist("test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    # Published facts about the MNIST test set: per-digit counts and the first labels.
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    train_images, train_labels = datasets.mnist("train")
    assert train_images.shape == (60000, 28, 28)
    assert np.bincount(train_labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    with pytest.raises(LenetcError, match="split"):
        datasets.mnist("validation")


def test_user_directory_and_env(tmp_path, monkeypatch):
    """--data DIR / $LENETC_DATA: plain (un-gzipped) files with hyphenated names are found and checked."""
    for stem, spec in (("t10k-images", "idx3"), ("t10k-labels", "idx1")):
        src = datasets.find_file(datasets.PACKAGE_DATA, stem)
        (tmp_path / f"{stem}-{spec}-ubyte").write_bytes(gzip.decompress(src.read_bytes()))
    images, labels = datasets.mnist("test", tmp_path)
    np.testing.assert_array_equal(labels, datasets.mnist("test")[1])
    monkeypatch.setenv("LENETC_DATA", str(tmp_path))
    assert datasets.data_dir() == tmp_path
    with pytest.raises(LenetcError, match="no MNIST file 'train-images"):
        datasets.mnist("train")
    monkeypatch.setenv("LENETC_DATA", str(tmp_path / "absent"))
    with pytest.raises(LenetcError, match="does not exist"):
        datasets.mnist("test")


def test_foreign_file_in_user_directory(tmp_path):
    src = datasets.find_file(datasets.PACKAGE_DATA, "t10k-labels")
    raw = bytearray(gzip.decompress(src.read_bytes()))
    raw[100] = (raw[100] + 1) % 10  # one label changed: same shape, different content
    (tmp_path / "t10k-labels.idx1-ubyte").write_bytes(bytes(raw))
    img = datasets.find_file(datasets.PACKAGE_DATA, "t10k-images")
    (tmp_path / "t10k-images.idx3-ubyte.gz").write_bytes(img.read_bytes())
    with pytest.raises(LenetcError, match="not the canonical MNIST file"):
        datasets.mnist("test", tmp_path)


@pytest.mark.parametrize(
    "model, shape, background, ink",
    [
        ("lenet5", (1, 32, 32), -0.1, 1.175),  # the paper's scaling, padded to 32x32
        ("lenet-caffe", (1, 28, 28), 0.0, 255 / 256),  # Caffe: pixel / 256
        ("lenet-keras", (1, 28, 28), 0.0, 1.0),  # Keras: pixel / 255
        ("lenet5-keras", (1, 32, 32), 0.0, 1.0),
    ],
)
def test_mnist_inputs_preprocessing(model, shape, background, ink):
    net = zoo.architecture(model)
    x, y = datasets.mnist_inputs(net, 20)
    assert x.shape == (20, *shape) and x.dtype == np.float32 and y.shape == (20,)
    images = datasets.mnist("test")[0][:20]
    pad = (shape[1] - 28) // 2
    inner = x[:, 0, pad : pad + 28, pad : pad + 28]
    np.testing.assert_allclose(inner[images == 0], background, atol=1e-7)
    np.testing.assert_allclose(inner[images == 255], ink, atol=1e-6)
    if pad:
        np.testing.assert_allclose(x[:, 0, :pad, :], background, atol=1e-7)
    with pytest.raises(LenetcError):
        datasets.mnist_inputs(net, 0)
