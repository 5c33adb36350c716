"""The training loop: initialisation, shuffling, shift augmentation, progress bars, evaluation."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from .. import zoo
from ..errors import LenetcError
from ..kinds import kind_of
from ..network import Network
from .backprop import backward, forward, loss_and_grad, predict, trainable_keys, training_head
from .optim import Optimizer, cosine_lr


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one run; the same config and seed give the same weights."""

    epochs: int = 15
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    seed: int = 0
    shift: int = 2  # augmentation: random translation of up to this many pixels (0: none)
    limit: int | None = None  # train on the first ``limit`` training digits only (tests)
    dtype: str = "float32"
    rbf_j: float | None = None  # None: softmax over -distance; else the paper's MAP constant j
    rbf_temperature: float = 1.0  # distances are divided by this before the softmax
    eval_test: bool = True  # report test accuracy after each epoch

    def __post_init__(self) -> None:
        for name, low in (("seed", 0), ("batch_size", 1), ("epochs", 0), ("shift", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise LenetcError(f"training {name} must be a whole number of at least {low}, got {value!r}")
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit < 1):
            raise LenetcError(f"training limit must be at least 1 digit, got {self.limit!r}")


#: Per-model defaults for ``lenetc train`` (the recorded runs of lenetc/weights/README.md).
MODEL_DEFAULTS: dict[str, TrainConfig] = {
    # LeNet-5's squared distances are large (tens to hundreds): dividing them by 10 before the
    # softmax keeps it from saturating; measured on 10k digits x 2 epochs: 84.9 % (T=1) -> 92.3 %.
    "lenet5": TrainConfig(epochs=8, lr=2e-3, rbf_temperature=10.0),
    "lenet5-softmax": TrainConfig(epochs=8, lr=2e-3),
    "lenet-caffe": TrainConfig(epochs=6),
    "lenet-keras": TrainConfig(epochs=6),
    "lenet5-keras": TrainConfig(epochs=10),
}


def default_config(model: str, **overrides) -> TrainConfig:
    """The recorded defaults for ``model`` with ``overrides`` (None values are ignored)."""
    base = MODEL_DEFAULTS.get(model, TrainConfig())
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


@dataclass
class EpochStats:
    epoch: int
    loss: float
    train_accuracy: float
    test_accuracy: float | None
    seconds: float


@dataclass
class TrainResult:
    net: Network
    history: list[EpochStats] = field(default_factory=list)
    seconds: float = 0.0


def init_params(net: Network, seed: int) -> dict[str, np.ndarray]:
    """Initial float32 weights: fixed tables and ±1 RBF prototypes from :func:`zoo.random_params`;
    weights uniform with variance 2/fan_in before ReLU (He) and 1/fan_in otherwise (LeCun),
    zero biases, subsampling coefficients near 1/window (an average)."""
    params = zoo.random_params(net, seed)
    rng = np.random.default_rng([seed, 1])
    for layer, in_shape in zip(net.layers, net.shapes()[:-1], strict=True):
        init = kind_of(layer).init_params  # each kind's rule (kinds/<kind>.py)
        if init is not None:
            params.update(init(layer, in_shape, params, rng))
    return params


def shift_images(images: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Translate each uint8 (N, 28, 28) digit by a random whole number of pixels in [-max_shift, max_shift]."""
    if max_shift <= 0:
        return images
    n, h, w = images.shape
    s = max_shift
    padded = np.pad(images, ((0, 0), (s, s), (s, s)))
    dy, dx = rng.integers(0, 2 * s + 1, size=(2, n))
    rows = dy[:, None] + np.arange(h)[None, :]
    cols = dx[:, None] + np.arange(w)[None, :]
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def _inputs(net: Network, images: np.ndarray, dtype) -> np.ndarray:
    return net.preprocess.apply(images).astype(dtype, copy=False)


def train(
    net: Network,
    config: TrainConfig,
    train_data: tuple[np.ndarray, np.ndarray],
    test_data: tuple[np.ndarray, np.ndarray] | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train ``net``'s architecture from scratch on uint8 digits ``train_data`` = (images (N,28,28), labels)."""
    from tqdm import tqdm

    if config.epochs < 1 or config.batch_size < 1:
        raise LenetcError("epochs and batch size must be at least 1")
    dtype = np.dtype(config.dtype)
    images, labels = train_data
    if config.limit is not None:
        images, labels = images[: config.limit], labels[: config.limit]
    labels = np.asarray(labels, dtype=np.int64)
    n = images.shape[0]
    if n < 1:
        raise LenetcError("no training digits (check --limit)")
    rng = np.random.default_rng(config.seed)
    keys = trainable_keys(net)
    # Trainable arrays in the working dtype; connection tables and RBF prototypes stay as they are.
    params = {k: (v.astype(dtype) if k in keys else v) for k, v in init_params(net, config.seed).items()}
    head = training_head(net)
    opt = Optimizer(config.optimizer, momentum=config.momentum, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(n / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    test_x = _inputs(net, test_data[0], dtype) if (test_data is not None and config.eval_test) else None
    result = TrainResult(net)
    start = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        t0 = time.perf_counter()
        order = rng.permutation(n)
        loss_sum, correct, seen = 0.0, 0, 0
        bar = tqdm(
            range(steps_per_epoch),
            desc=f"{net.name} epoch {epoch}/{config.epochs}",
            disable=not progress,
            leave=True,
            unit="batch",
        )
        for b in bar:
            idx = order[b * config.batch_size : (b + 1) * config.batch_size]
            x = _inputs(net, shift_images(images[idx], config.shift, rng), dtype)
            y = labels[idx]
            out, caches = forward(head.layers, x, params)
            loss, dout, pred = loss_and_grad(head.kind, out, y, config.rbf_j, config.rbf_temperature)
            if not math.isfinite(loss):
                raise LenetcError(f"training diverged at epoch {epoch} (loss {loss}); try a smaller --lr")
            grads = backward(head.layers, dout, caches, params)
            opt.step(params, grads, keys, cosine_lr(config.lr, opt.step_count, total_steps))
            loss_sum += loss * len(idx)
            correct += int((pred == y).sum())
            seen += len(idx)
            if b % 20 == 0 or b == steps_per_epoch - 1:
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{100 * correct / seen:.2f}%")
        bar.close()
        test_acc = None
        if test_x is not None:
            test_acc = float((predict(net, test_x, params) == test_data[1]).mean())
        stats = EpochStats(epoch, loss_sum / seen, correct / seen, test_acc, time.perf_counter() - t0)
        result.history.append(stats)
        if log is not None:
            extra = f", test {100 * test_acc:.2f}%" if test_acc is not None else ""
            log(
                f"epoch {epoch}: loss {stats.loss:.4f}, train acc {100 * stats.train_accuracy:.2f}%{extra}, "
                f"{stats.seconds:.1f} s"
            )
    result.seconds = time.perf_counter() - start
    final = {k: np.asarray(v, dtype=np.float32) if k in keys else v for k, v in params.items()}
    result.net = net.with_params(final)
    return result
