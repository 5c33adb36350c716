"""``load_digit``: PNG, PGM and .npy digits, MNIST-style normalisation of other sizes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import lenetc
from lenetc import datasets
from lenetc.errors import LenetcError
from lenetc.images import load_digit, read_pgm, resize_area

SAMPLES = Path(lenetc.__file__).parent / "samples"


def test_samples_are_test_digits():
    images, labels = datasets.mnist("test")
    files = sorted(SAMPLES.glob("*.png"))
    assert len(files) >= 3
    for f in files:
        index = int(f.stem.split("test")[1])
        assert f.stem.startswith(f"digit{labels[index]}-")
        np.testing.assert_array_equal(load_digit(f), images[index])


def test_pgm_binary_and_plain(tmp_path):
    digit = datasets.mnist("test")[0][5]
    p5 = tmp_path / "d.pgm"
    p5.write_bytes(b"P5\n# a comment\n28 28\n255\n" + digit.tobytes())
    np.testing.assert_array_equal(load_digit(p5), digit)
    p2 = tmp_path / "plain.pgm"
    p2.write_text("P2 28 28 255\n" + " ".join(str(v) for v in digit.ravel()) + "\n")
    np.testing.assert_array_equal(load_digit(p2), digit)
    deep = tmp_path / "deep.pgm"  # 16-bit, maxval 65535
    deep.write_bytes(b"P5 28 28 65535\n" + (digit.astype(">u2") * 257).tobytes())
    np.testing.assert_array_equal(load_digit(deep), digit)


def test_inverted_and_npy(tmp_path):
    digit = datasets.mnist("test")[0][7]
    path = tmp_path / "paper.npy"
    np.save(path, 255 - digit.astype(np.int32))  # dark ink on white paper
    np.testing.assert_array_equal(load_digit(path), digit)
    unit = tmp_path / "unit.npy"
    np.save(unit, digit / 255.0)  # floats in [0, 1]
    np.testing.assert_array_equal(load_digit(unit), digit)


def test_large_image_is_normalised_like_mnist(tmp_path):
    from PIL import Image

    images, labels = datasets.mnist("test")
    digit = images[3]
    big = np.kron(digit, np.ones((4, 4), np.uint8))  # 112x112
    canvas = np.full((200, 160), 255, np.uint8)
    canvas[20:132, 30:142] = 255 - big  # dark ink, off-centre on white paper
    path = tmp_path / "big.png"
    Image.fromarray(canvas).save(path)
    got = load_digit(path)
    assert got.shape == (28, 28) and got.dtype == np.uint8
    rows = np.flatnonzero(got.max(axis=1) > 25)
    cols = np.flatnonzero(got.max(axis=0) > 25)
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 20  # fits the 20x20 box
    yy, xx = np.mgrid[0:28, 0:28]
    w = got.astype(float)
    assert abs((yy * w).sum() / w.sum() - 13.5) <= 1 and abs((xx * w).sum() / w.sum() - 13.5) <= 1
    # A trained network reads it as the same digit.
    net = lenetc.load("lenet5")
    if lenetc.models.shipped_weights("lenet5") is not None:
        pred = lenetc.reference.predict_classes(net, lenetc.forward(net, net.preprocess.apply(got)))
        assert pred[0] == labels[3]


def test_resize_area_preserves_mean():
    rng = np.random.default_rng(2)
    img = rng.uniform(0, 255, (37, 23))
    for h, w in ((20, 12), (74, 46), (5, 5)):
        out = resize_area(img, h, w)
        assert out.shape == (h, w)
        assert out.mean() == pytest.approx(img.mean(), rel=1e-12)


def test_errors(tmp_path):
    with pytest.raises(LenetcError, match="does not exist"):
        load_digit(tmp_path / "none.png")
    blank = tmp_path / "blank.npy"  # the resize path: an empty field, like a blank 28x28 picture
    np.save(blank, np.full((40, 40), 0.25))
    got = load_digit(blank)
    assert got.shape == (28, 28) and got.dtype == np.uint8 and not got.any()
    cube = tmp_path / "cube.npy"
    np.save(cube, np.ones((2, 3, 4)))
    with pytest.raises(LenetcError, match="2-D"):
        load_digit(cube)
    bad = tmp_path / "bad.pgm"
    bad.write_bytes(b"P6 2 2 255\n" + bytes(12))
    with pytest.raises(LenetcError, match="not a PGM"):
        read_pgm(bad)
    short = tmp_path / "short.pgm"
    short.write_bytes(b"P5 28 28 255\n" + bytes(100))
    with pytest.raises(LenetcError, match="truncated"):
        load_digit(short)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not a png at all")
    with pytest.raises(LenetcError, match="cannot read image"):
        load_digit(junk)
