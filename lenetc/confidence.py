"""Calibrated class probabilities and a "not a digit" verdict for ``lenetc predict``.

**Probabilities.** The model's class scores (negative squared distances for LeNet-5's RBF
output, log-probabilities for a softmax output, logits otherwise) are divided by one
temperature T and put through a softmax (temperature scaling, Guo et al. 2017). T is fitted by
minimising the negative log-likelihood on :data:`FIT_DIGITS` MNIST training digits (a fixed
random subset, seed :data:`SPLIT_SEED`), with the compiled C's float32 outputs. Softmax nets
hardly change (T near 1); LeNet-5's distances are tens apart, so without T every answer read
p=1.0000.

**Rejection.** A picture is "not a digit" when it fails one of the picture checks of
:mod:`lenetc.digit_shape` (too little ink, a filled area, unlike any training digit) or when
the calibrated probability of the best class is below ``min_confidence`` ("uncertain"). Every
threshold is chosen on :data:`THRESHOLD_DIGITS` other training digits: each check alone rejects
:data:`SHAPE_QUANTILE` of them, the confidence threshold :data:`CONFIDENCE_QUANTILE`.

The fitted numbers are computed on first use and cached under ``$LENETC_CACHE/confidence``
(keyed by the weights' hash and these settings), each entry with a SHA-256 of its content; an
entry whose checksum, key or values do not hold (damaged or edited) is fitted again, never
used. :func:`fit_calibration` recomputes them.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import datasets
from .api import compile as build
from .cache import cache_dir
from .digit_shape import DigitShapeModel, fit_shape_model, shape_rejections
from .errors import LenetcError
from .fileio import write_file
from .network import Network

CALIBRATION_VERSION = 2
SPLIT_SEED = 0
FIT_DIGITS = 10_000
THRESHOLD_DIGITS = 10_000
SHAPE_QUANTILE = 0.001
CONFIDENCE_QUANTILE = 0.005
ECE_BINS = 15
UNCERTAIN = "uncertain"
#: Search range for log(1/T): T from 0.0025 to 400.
_LOG_BETA_RANGE = (-6.0, 6.0)


def class_scores(net: Network, outputs: np.ndarray) -> np.ndarray:
    """Float64 (N, classes) scores whose softmax is the model's own class distribution."""
    out = np.asarray(outputs, dtype=np.float64).reshape(len(outputs), -1)
    kind = net.output_kind
    if kind == "distance":
        return -out
    if kind == "probability":  # log of the softmax output; underflowed zeros stay finite
        return np.log(np.maximum(out, np.finfo(np.float32).tiny))
    return out


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for any score range."""
    z = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _nll(scores: np.ndarray, labels: np.ndarray, beta: float) -> float:
    z = beta * scores
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return float((log_norm - z[np.arange(len(labels)), labels]).mean())


def fit_temperature(scores: np.ndarray, labels: np.ndarray, iterations: int = 100) -> float:
    """The T minimising the mean negative log-likelihood of softmax(scores / T).

    The NLL is convex in 1/T, hence unimodal in log(1/T): a golden-section search there."""
    labels = np.asarray(labels, dtype=np.int64)
    lo, hi = _LOG_BETA_RANGE
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = _nll(scores, labels, np.exp(a)), _nll(scores, labels, np.exp(b))
    for _ in range(iterations):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = _nll(scores, labels, np.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = _nll(scores, labels, np.exp(b))
    return float(np.exp(-(lo + hi) / 2.0))


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Top-label ECE: over ``bins`` equal-width confidence bins (0, 1/bins], ..., the
    digit-weighted mean of |accuracy - mean confidence|."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    which = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            total += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(total)


def training_subsets() -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training digits that fit T and the subspace, and of the disjoint ones that set the thresholds."""
    order = np.random.default_rng(SPLIT_SEED).permutation(60_000)
    return order[:FIT_DIGITS], order[FIT_DIGITS : FIT_DIGITS + THRESHOLD_DIGITS]


@dataclass(frozen=True)
class Calibration:
    """What :func:`judge` needs for one model (see the module docstring)."""

    model: str
    weights: str
    temperature: float
    min_confidence: float
    shape: DigitShapeModel

    def probabilities(self, net: Network, outputs: np.ndarray) -> np.ndarray:
        """Calibrated (N, classes) probabilities from the model's raw outputs."""
        return softmax(class_scores(net, outputs) / self.temperature)


def _c_outputs(net: Network, digits: np.ndarray) -> np.ndarray:
    return build(net)(net.preprocess.apply(digits))


def fit_shape(data: str | Path | None = None) -> DigitShapeModel:
    """The picture checks fitted on the training subsets (the same for every model)."""
    images, _ = datasets.mnist("train", data)
    fit, held = training_subsets()
    return fit_shape_model(images[fit], images[held], SHAPE_QUANTILE)


def fit_calibration(net: Network, data: str | Path | None = None, shape: DigitShapeModel | None = None) -> Calibration:
    """Fit T and the confidence threshold for ``net`` on MNIST training digits (no cache)."""
    if net.output_shape != (10,):
        raise LenetcError(f"model '{net.name}' has output shape {net.output_shape}; calibration needs 10 digit classes")
    images, labels = datasets.mnist("train", data)
    fit, held = training_subsets()
    temperature = fit_temperature(class_scores(net, _c_outputs(net, images[fit])), labels[fit])
    held_probs = softmax(class_scores(net, _c_outputs(net, images[held])) / temperature)
    min_confidence = float(np.quantile(held_probs.max(axis=1), CONFIDENCE_QUANTILE))
    return Calibration(net.name, net.weights_hash(), temperature, min_confidence, shape or fit_shape(data))


def _settings() -> dict:
    return {
        "version": CALIBRATION_VERSION,
        "seed": SPLIT_SEED,
        "fit": FIT_DIGITS,
        "thresholds": THRESHOLD_DIGITS,
        "shape_quantile": SHAPE_QUANTILE,
        "confidence_quantile": CONFIDENCE_QUANTILE,
    }


def cache_root() -> Path:
    """Where fitted calibrations are cached: ``confidence/`` under lenetc's build cache."""
    return cache_dir() / "confidence"


def _cache_path(kind: str, key: dict, suffix: str) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    return cache_root() / f"{kind}-{digest}{suffix}"


def _store(path: Path, content: bytes | str) -> None:
    """Best effort: a read-only cache only costs a recomputation next time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file(path, content)
    except (OSError, LenetcError):
        pass


_SHAPE_FIELDS = ("mean", "basis", "min_ink", "max_solid", "max_residual")


def _digest(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over each field's name, dtype, shape and bytes (the cache entries' checksum)."""
    h = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _valid_shape(arrays: dict[str, np.ndarray]) -> DigitShapeModel | None:
    """The cached picture checks if every field is there, float64, finite and of the fitted
    shapes; None (fit again) otherwise."""
    if set(arrays) != set(_SHAPE_FIELDS) or any(a.dtype != np.float64 for a in arrays.values()):
        return None
    if not all(np.isfinite(a).all() for a in arrays.values()):
        return None
    mean, basis = arrays["mean"], arrays["basis"]
    if mean.shape != (784,) or basis.ndim != 2 or basis.shape[0] != 784 or not 1 <= basis.shape[1] <= 784:
        return None
    scalars = {k: arrays[k] for k in _SHAPE_FIELDS[2:]}
    if any(v.shape != () or float(v) < 0 for v in scalars.values()):
        return None
    return DigitShapeModel(mean=mean, basis=basis, **{k: float(v) for k, v in scalars.items()})


def _cached_shape() -> DigitShapeModel:
    path = _cache_path("shape", _settings(), ".npz")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.array(data[k]) for k in data.files if k != "sha256"}
            stored = str(data["sha256"])
        shape = _valid_shape(arrays) if stored == _digest(arrays) else None
        if shape is not None:
            return shape
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile):
        pass  # absent or damaged: fit again
    shape = fit_shape()
    arrays = {key: np.asarray(value, dtype=np.float64) for key, value in asdict(shape).items()}
    buffer = io.BytesIO()
    np.savez(buffer, sha256=np.array(_digest(arrays)), **arrays)
    _store(path, buffer.getvalue())
    return shape


def _model_doc(temperature: float, min_confidence: float, key: dict) -> dict:
    doc = {"temperature": temperature, "min_confidence": min_confidence, **key}
    return {**doc, "sha256": hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()}


def _valid_fit(doc: object, key: dict) -> tuple[float, float] | None:
    """(temperature, min_confidence) from a cached fit whose checksum, key and values hold:
    T a float inside the searched range, the threshold a probability; None otherwise."""
    if not isinstance(doc, dict):
        return None
    t, m = doc.get("temperature"), doc.get("min_confidence")
    if doc != _model_doc(t, m, key):  # damaged, edited, or another model's or version's fit
        return None
    lo, hi = np.exp(-_LOG_BETA_RANGE[1]), np.exp(-_LOG_BETA_RANGE[0])
    if not all(isinstance(v, float) for v in (t, m)) or not (lo <= t <= hi and 0.0 <= m <= 1.0):
        return None
    return t, m


def calibration_for(net: Network) -> Calibration:
    """``net``'s calibration, from the cache or fitted now (a few seconds) and cached."""
    shape = _cached_shape()
    key = {**_settings(), "weights": net.weights_hash()}
    path = _cache_path("model", key, ".json")
    try:
        fitted = _valid_fit(json.loads(path.read_text()), key)
        if fitted is not None:
            return Calibration(net.name, key["weights"], fitted[0], fitted[1], shape)
    except (OSError, ValueError, RecursionError):
        pass  # absent, unreadable or invalid: fit again
    cal = fit_calibration(net, shape=shape)
    _store(path, json.dumps(_model_doc(cal.temperature, cal.min_confidence, key)))
    return cal


@dataclass(frozen=True)
class Prediction:
    """One picture's answer: the best class, its calibrated probability, and why it is not a
    digit (``reason``) or None."""

    best_guess: int
    probability: float
    probabilities: np.ndarray
    reason: str | None

    @property
    def digit(self) -> int | None:
        return None if self.reason else self.best_guess

    def to_json(self) -> dict:
        return {
            "digit": self.digit,
            "rejected": self.reason is not None,
            "reason": self.reason,
            "best_guess": self.best_guess,
            "probability": self.probability,
            "probabilities": [float(p) for p in self.probabilities],
        }

    def describe(self) -> str:
        # Four decimals, but a calibrated probability that is not 1 never reads "1.0000".
        p = "p>0.9999" if 0.99995 <= self.probability < 1.0 else f"p={self.probability:.4f}"
        shown = " ".join(f"{v:.3f}" for v in self.probabilities)
        if self.reason is None:
            return f"{self.best_guess}  ({p})  [{shown}]"
        return f"not a digit ({self.reason}); best guess {self.best_guess} ({p})  [{shown}]"


def judge(
    net: Network, digits: np.ndarray, outputs: np.ndarray, calibration: Calibration | None = None
) -> list[Prediction]:
    """Calibrated answers for ``digits`` (uint8 (N, 28, 28), as loaded) given the model's ``outputs`` on them."""
    cal = calibration or calibration_for(net)
    probs = cal.probabilities(net, outputs)
    answers = []
    for p, reason in zip(probs, shape_rejections(cal.shape, digits)):
        best = int(p.argmax())
        if reason is None and p[best] < cal.min_confidence:
            reason = UNCERTAIN
        answers.append(Prediction(best, float(p[best]), p, reason))
    return answers


@dataclass(frozen=True)
class TestMeasurement:
    """Calibration measured on MNIST test digits (never used for fitting)."""

    digits: int
    ece_uncalibrated: float  # softmax of the raw scores (T = 1)
    ece: float  # with the fitted temperature
    false_reject_rate: float  # share of test digits called "not a digit"
    rejected_by: dict[str, int]
    accuracy: float  # on all test digits
    accepted_accuracy: float  # on the digits that are not rejected


def measure_on_test(
    net: Network, calibration: Calibration, n: int | None = None, data: str | Path | None = None
) -> TestMeasurement:
    """ECE and false-reject rate of ``calibration`` on the first ``n`` (default all) test digits."""
    if n is not None and n < 1:
        raise LenetcError(f"number of test digits must be at least 1, got {n}")
    images, labels = datasets.mnist("test", data)
    images, labels = images[:n], labels[:n].astype(np.int64)
    outputs = _c_outputs(net, images)
    answers = judge(net, images, outputs, calibration)
    rejected = np.array([a.reason is not None for a in answers])
    guesses = np.array([a.best_guess for a in answers])
    reasons: dict[str, int] = {}
    for a in answers:
        if a.reason:
            reasons[a.reason] = reasons.get(a.reason, 0) + 1
    return TestMeasurement(
        digits=len(labels),
        ece_uncalibrated=expected_calibration_error(softmax(class_scores(net, outputs)), labels),
        ece=expected_calibration_error(calibration.probabilities(net, outputs), labels),
        false_reject_rate=float(rejected.mean()),
        rejected_by=reasons,
        accuracy=float((guesses == labels).mean()),
        accepted_accuracy=float((guesses[~rejected] == labels[~rejected]).mean()) if (~rejected).any() else 0.0,
    )
