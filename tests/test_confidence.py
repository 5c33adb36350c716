"""Calibrated probabilities and the "not a digit" rule (issue 9.3).

ECE and false-reject rates are recomputed here from the 10,000 MNIST test digits with this
file's own ECE code; only the fitted temperature and thresholds come from lenetc."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lenetc
from lenetc import confidence, datasets, digit_shape
from lenetc.cli import main
from lenetc.confidence import calibration_for, expected_calibration_error, fit_temperature, judge, softmax
from tests.conftest import ZOO_NAMES

MAX_ECE = 0.02
#: The four checks each reject 0.1-0.5 % of training digits; test digits are a little harder.
MAX_FALSE_REJECT = 0.02


def ece_reference(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE by an explicit loop over bins (lo, hi]: sum over bins of |B|/N * |acc(B) - conf(B)|."""
    conf = probs.max(axis=1)
    hit = (probs.argmax(axis=1) == labels).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        members = (conf > lo) & (conf <= hi) if k else (conf >= lo) & (conf <= hi)
        if members.any():
            total += members.sum() / len(conf) * abs(hit[members].mean() - conf[members].mean())
    return total


@pytest.fixture(scope="module")
def test_digits():
    images, labels = datasets.mnist("test")
    return images, labels.astype(np.int64)


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_calibrated_on_test_digits_and_few_false_rejects(name, test_digits):
    images, labels = test_digits
    net = lenetc.load(name)
    cal = calibration_for(net)
    outputs = lenetc.compile(net)(net.preprocess.apply(images))
    answers = judge(net, images, outputs, cal)
    probs = np.stack([a.probabilities for a in answers])
    ece = ece_reference(probs, labels)
    assert ece <= MAX_ECE, f"{name}: ECE {ece:.4f}"
    assert expected_calibration_error(probs, labels) == pytest.approx(ece, abs=1e-12)
    # Mean confidence matches accuracy (the coarsest form of calibration).
    assert abs(probs.max(axis=1).mean() - (probs.argmax(axis=1) == labels).mean()) <= 0.01
    false_reject = np.mean([a.reason is not None for a in answers])
    assert 0.0 < false_reject <= MAX_FALSE_REJECT, f"{name}: false-reject rate {false_reject:.4f}"
    # Accepted answers are the best guesses, and rejecting removes mostly wrong ones.
    accepted = np.array([a.digit is not None for a in answers])
    guesses = np.array([a.best_guess for a in answers])
    assert (guesses[accepted] == labels[accepted]).mean() > (guesses == labels).mean()


def test_lenet5_no_longer_saturates(test_digits):
    """The old display (softmax of -distance, T = 1) read p=1.0000 for nearly every digit; the
    fitted temperature gives a lower test NLL and real doubt on the misclassified digits."""
    images, labels = test_digits
    net = lenetc.load("lenet5")
    cal = calibration_for(net)
    scores = -lenetc.compile(net)(net.preprocess.apply(images)).astype(np.float64)

    def nll(t):
        p = softmax(scores / t)
        return -np.log(np.maximum(p[np.arange(len(labels)), labels], 1e-300)).mean()

    assert cal.temperature > 2.0 and nll(cal.temperature) < 0.5 * nll(1.0)
    wrong = softmax(scores / cal.temperature).argmax(axis=1) != labels
    assert np.median(softmax(scores / cal.temperature)[wrong].max(axis=1)) < 0.9
    assert np.median(softmax(scores)[wrong].max(axis=1)) > 0.99


def test_thresholds_are_chosen_on_training_digits():
    """Recompute the confidence threshold from the held-out training digits: it rejects the
    configured share of them, and T minimises the NLL on the fitting digits."""
    net = lenetc.load("lenet5-keras")
    cal = calibration_for(net)
    images, labels = datasets.mnist("train")
    fit, held = confidence.training_subsets()
    assert not set(fit) & set(held)
    c = lenetc.compile(net)
    held_p = softmax(np.log(np.maximum(c(net.preprocess.apply(images[held])), 1e-38)) / cal.temperature)
    share = (held_p.max(axis=1) < cal.min_confidence).mean()
    assert share == pytest.approx(confidence.CONFIDENCE_QUANTILE, abs=0.001)
    fit_scores = np.log(np.maximum(c(net.preprocess.apply(images[fit])), 1e-38))
    y = labels[fit].astype(np.int64)

    def nll(t):
        return -np.log(softmax(fit_scores / t)[np.arange(len(y)), y]).mean()

    assert nll(cal.temperature) <= min(nll(cal.temperature * 1.05), nll(cal.temperature / 1.05))
    shape = cal.shape
    assert (digit_shape.ink_pixels(images[held]) < shape.min_ink).mean() <= confidence.SHAPE_QUANTILE
    assert (digit_shape.solid_fraction(images[held]) > shape.max_solid).mean() <= confidence.SHAPE_QUANTILE


def test_fit_temperature_recovers_a_known_temperature():
    rng = np.random.default_rng(5)
    scores = rng.normal(0.0, 4.0, size=(40_000, 10))
    true_t = 2.5
    p = softmax(scores / true_t)
    labels = (rng.uniform(size=(len(p), 1)) > p.cumsum(axis=1)).sum(axis=1)  # sampled from p
    assert fit_temperature(scores, labels) == pytest.approx(true_t, rel=0.03)


def test_ece_by_hand():
    # Two bins used: conf 0.9 (2 digits, 1 right: |0.5 - 0.9|) and conf 0.6 (2 digits, both right: |1 - 0.6|).
    probs = np.array([[0.9, 0.1], [0.1, 0.9], [0.6, 0.4], [0.4, 0.6]])
    labels = np.array([0, 0, 0, 1])
    assert expected_calibration_error(probs, labels) == pytest.approx(0.5 * 0.4 + 0.5 * 0.4)


def test_shape_statistics_by_hand():
    square = np.zeros((28, 28), np.uint8)
    square[5:15, 5:15] = 200  # 10x10 filled: a 7x7 all-ink square fits around 4x4 centres
    stroke = np.zeros((28, 28), np.uint8)
    stroke[4:24, 12:15] = 255  # a 3-pixel-wide bar
    assert digit_shape.ink_pixels(np.stack([square, stroke])).tolist() == [100, 60]
    assert digit_shape.solid_fraction(np.stack([square, stroke])).tolist() == [16 / 100, 0.0]
    mean = np.zeros(784)
    basis = np.zeros((784, 1))
    basis[0, 0] = 1.0
    x = np.zeros((2, 28, 28), np.uint8)
    x[0, 0, 0] = 255  # inside the one-direction subspace
    x[1, 0, 0], x[1, 0, 1] = 255, 255  # half of its energy outside
    assert digit_shape.residual_fraction(x, mean, basis) == pytest.approx([0.0, 0.5])


def _png(path, pixels):
    from PIL import Image

    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
    return path


def non_digits(tmp_path):
    """Pictures that are not digits: blank ones (black, white, both through the resize path too)
    and uniform noise of several seeds and sizes."""
    files = {
        "black28": _png(tmp_path / "black28.png", np.zeros((28, 28))),
        "white28": _png(tmp_path / "white28.png", np.full((28, 28), 255)),
        "black40": _png(tmp_path / "black40.png", np.zeros((40, 40))),
        "grey64": _png(tmp_path / "grey64.png", np.full((64, 64), 128)),
    }
    for seed in range(5):
        rng = np.random.default_rng(seed)
        for h, w in ((28, 28), (64, 64), (200, 90)):
            files[f"noise{h}x{w}-{seed}"] = _png(tmp_path / f"noise{h}x{w}-{seed}.png", rng.uniform(0, 256, (h, w)))
    return files


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_predict_rejects_blank_and_noise(tmp_path, capsys, name):
    pytest.importorskip("PIL")
    files = non_digits(tmp_path)
    samples = sorted((lenetc.models.WEIGHTS_DIR.parent / "samples").glob("digit*.png"))
    assert main(["predict", name, *map(str, files.values()), *map(str, samples), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    by_image = {entry["image"]: entry for entry in doc}
    for label, path in files.items():
        entry = by_image[str(path)]
        assert entry["rejected"] and entry["digit"] is None and entry["reason"], (label, entry)
        assert 0.0 < entry["probability"] <= 1.0 and abs(sum(entry["probabilities"]) - 1.0) < 1e-9
    for label in ("black28", "white28", "black40", "grey64"):
        assert by_image[str(files[label])]["reason"] == digit_shape.TOO_LITTLE_INK
    for path in samples:  # real test digits: accepted, right class, honest probability
        entry = by_image[str(path)]
        assert entry["digit"] == int(path.stem[len("digit")]) and not entry["rejected"]
    assert main(["predict", name, str(files["noise28x28-0"]), str(samples[0])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{files['noise28x28-0']}: not a digit (")
    assert lines[1].startswith(f"{samples[0]}: {samples[0].stem[len('digit')]}  (p") and "not a digit" not in lines[1]


def test_blank_check_does_not_depend_on_the_resize_path(tmp_path):
    net = lenetc.load("lenet5")
    cal = calibration_for(net)
    from lenetc.images import load_digit

    digits = []
    for size in ((28, 28), (40, 40), (100, 30)):
        for value in (0.0, 255.0):
            path = tmp_path / f"blank-{size[0]}x{size[1]}-{int(value)}.npy"
            np.save(path, np.full(size, value))
            digits.append(load_digit(path))
    digits = np.stack(digits)
    answers = judge(net, digits, lenetc.forward(net, net.preprocess.apply(digits)), cal)
    assert [a.reason for a in answers] == [digit_shape.TOO_LITTLE_INK] * len(digits)


def test_calibration_cache_round_trip(tmp_path, monkeypatch):
    monkeypatch.setattr(confidence, "cache_root", lambda: tmp_path)
    net = lenetc.load("lenet5-keras")
    first = calibration_for(net)
    files = sorted(tmp_path.iterdir())
    assert [f.suffix for f in files] == [".json", ".npz"]
    again = calibration_for(net)
    assert (again.temperature, again.min_confidence) == (first.temperature, first.min_confidence)
    np.testing.assert_array_equal(again.shape.basis, first.shape.basis)
    files[0].write_text("{not json")  # a damaged cache entry is refitted, not trusted
    refit = calibration_for(net)
    assert refit.temperature == pytest.approx(first.temperature, rel=1e-9)
    assert json.loads(files[0].read_text())["weights"] == net.weights_hash()
    files[1].write_bytes(b"PK\x03\x04 truncated")
    np.testing.assert_array_equal(calibration_for(net).shape.basis, first.shape.basis)


def test_confidence_command_reports_what_the_data_gives(capsys, test_digits):
    assert main(["confidence", "lenet5", "-n", "2000", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    images, labels = test_digits[0][:2000], test_digits[1][:2000]
    net = lenetc.load("lenet5")
    cal = calibration_for(net)
    assert doc["temperature"] == cal.temperature and doc["min_confidence"] == cal.min_confidence
    scores = -lenetc.compile(net)(net.preprocess.apply(images)).astype(np.float64)
    assert doc["test"]["ece"] == pytest.approx(ece_reference(softmax(scores / cal.temperature), labels), abs=1e-9)
    assert doc["test"]["ece_uncalibrated"] == pytest.approx(ece_reference(softmax(scores), labels), abs=1e-9)
    rejected = sum(doc["test"]["rejected_by"].values())
    assert doc["test"]["false_reject_rate"] == pytest.approx(rejected / 2000)
    assert main(["confidence", "lenet5", "-n", "100"]) == 0
    assert "false-reject rate" in capsys.readouterr().out
