"""The user's own digits (issue 11 item 7): --calib-data wherever int8 calibration happens,
--inputs for eval and verify, in the documented forms (FILE.npy, FILE.npz, a folder with
labels.csv or 0..9 sub-folders)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import lenetc
from lenetc import cli
from lenetc.datasets import mnist
from lenetc.digitsets import load_digit_set
from lenetc.errors import LenetcError
from lenetc.images import to_mnist


@pytest.fixture(scope="module")
def digits():
    images, labels = mnist("test")
    return images[:120].copy(), labels[:120].astype(np.int64)


@pytest.fixture
def files(tmp_path, digits):
    images, labels = digits
    np.save(tmp_path / "d.npy", images)
    np.savez(tmp_path / "d.npz", images=images, labels=labels)
    folder = tmp_path / "pictures"
    folder.mkdir()
    lines = ["file,label"]
    for i in range(12):  # dark ink on white, twice the size: resized and centred like MNIST
        Image.fromarray(255 - images[i]).resize((56, 56)).save(folder / f"{i:03d}.png")
        lines.append(f"{i:03d}.png,{labels[i]}")
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    classes = tmp_path / "classes"
    for i in range(12):
        (classes / str(labels[i])).mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[i]).save(classes / str(labels[i]) / f"{i}.png")
    return tmp_path


def _run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_documented_forms(files, digits):
    images, labels = digits
    npy = load_digit_set(files / "d.npy")
    assert npy.labels is None and np.array_equal(npy.images, images)
    npz = load_digit_set(files / "d.npz")
    assert np.array_equal(npz.images, images) and np.array_equal(npz.labels, labels)
    pics = load_digit_set(files / "pictures")
    assert np.array_equal(pics.labels, labels[:12])
    want = np.stack([to_mnist(np.asarray(Image.fromarray(255 - im).resize((56, 56)), float)) for im in images[:12]])
    np.testing.assert_array_equal(pics.images, want)
    classes = load_digit_set(files / "classes")
    assert sorted(classes.labels.tolist()) == sorted(labels[:12].tolist())
    # 28x28 light-on-black pictures are taken as they are
    assert {im.tobytes() for im in classes.images} == {im.tobytes() for im in images[:12]}


def test_bad_digit_sets_are_one_line_errors(tmp_path):
    np.savez(tmp_path / "nolabels_key.npz", pixels=np.zeros((2, 28, 28), np.uint8))
    np.savez(tmp_path / "badlabels.npz", images=np.zeros((2, 28, 28), np.uint8), labels=np.array([1, 12]))
    np.save(tmp_path / "neg.npy", -np.ones((2, 28, 28)))
    (tmp_path / "empty").mkdir()
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "labels.csv").write_text("a.png,seven\n")
    huge = tmp_path / "huge.npy"  # a header claiming 4 GB of pixels, and no data
    header = {"descr": "|u1", "fortran_order": False, "shape": (5_000_000, 28, 28)}
    with open(huge, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
    cases = {
        "nolabels_key.npz": "needs an 'images' array",
        "badlabels.npz": "digits 0..9",
        "neg.npy": "pixels must be 0..255",
        "empty": "holds no pictures",
        "csv": "expected 'file,label'",
        "huge.npy": "MiB of pixels",
        "missing": "do not exist",
    }
    for name, message in cases.items():
        with pytest.raises(LenetcError, match=message):
            load_digit_set(tmp_path / name)


def test_calib_data_is_what_calibration_uses(files, digits, capsys, tmp_path):
    """The scales `info --calib-data` reports are those of lenetc.quantize on the same digits,
    not of MNIST's training digits."""
    images, _ = digits
    net = lenetc.load("lenet5-keras")
    want = lenetc.quantize(net, images)
    default = lenetc.quantize(net)
    code, out, _ = _run(capsys, "info", "lenet5-keras", "--dtype", "int8", "--json", "--calib-data", files / "d.npy")
    doc = json.loads(out)
    assert code == 0 and doc["calibration"]["images"] == len(images)
    assert doc["calibration"]["source"].endswith("d.npy")
    got = [row["out_scale"] for row in doc["layers"]]
    assert got == [q.out_q.scale for q in want.layers] != [q.out_q.scale for q in default.layers]
    # generate (and through it the firmware example and size) calibrates the same way
    code, _, _ = _run(capsys, "generate", "lenet5-keras", "--dtype", "int8", "-o", tmp_path / "g",
                      "--calib-data", files / "pictures")  # fmt: skip
    assert code == 0 and "12 images" in (tmp_path / "g" / "lenet5_keras.h").read_text()


def test_eval_and_verify_on_own_digits(files, digits, capsys):
    images, labels = digits
    net = lenetc.load("lenet-caffe")
    ref = lenetc.forward(net, net.preprocess.apply(images)).argmax(axis=1)
    code, out, _ = _run(capsys, "eval", "lenet-caffe", "--inputs", files / "d.npz", "--backend", "reference", "--json")
    assert code == 0 and json.loads(out)["accuracy"] == pytest.approx(float((ref == labels).mean()))
    code, out, _ = _run(capsys, "eval", "lenet-caffe", "--inputs", files / "classes", "--dtype", "int8",
                        "--calib", "100", "--sqnr-images", "5")  # fmt: skip
    assert code == 0 and "on 12 digits from" in out
    code, _, err = _run(capsys, "eval", "lenet-caffe", "--inputs", files / "d.npy")
    assert code == 2 and "have no labels" in err
    code, out, _ = _run(capsys, "verify", "lenet-caffe", "--inputs", files / "pictures")
    assert code == 0 and "on 12 digits from" in out and "classified as labelled" in out
    code, out, _ = _run(capsys, "verify", "lenet-caffe", "--inputs", files / "d.npy", "-n", "7", "--dtype", "int8",
                        "--calib-data", files / "d.npz")  # fmt: skip
    assert code == 0 and "on 7 digits" in out and "PASS (bit-exact)" in out
