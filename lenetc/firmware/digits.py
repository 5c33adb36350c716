"""The handful of test digits a firmware example embeds.

By default the first MNIST test images (shipped in :mod:`lenetc.datasets`); deterministic
synthetic digits drawn as thick strokes on a 28x28 canvas serve tests that want chosen shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..datasets import mnist
from ..errors import LenetcError

#: How many digits an example embeds unless told otherwise: enough to cover several
#: classes, few enough that the firmware's constant data stays small.
DEFAULT_COUNT = 4

# Seven-segment style strokes, (y0, x0, y1, x1) in a 28x28 box, for each digit.
_TOP, _MID, _BOT = (6, 9, 6, 19), (14, 9, 14, 19), (22, 9, 22, 19)
_UL, _UR, _LL, _LR = (6, 9, 14, 9), (6, 19, 14, 19), (14, 9, 22, 9), (14, 19, 22, 19)
_STROKES = {
    0: (_TOP, _BOT, _UL, _UR, _LL, _LR),
    1: ((5, 15, 23, 14),),
    2: (_TOP, _UR, _MID, _LL, _BOT),
    3: (_TOP, _UR, _MID, _LR, _BOT),
    4: (_UL, _MID, _UR, _LR),
    5: (_TOP, _UL, _MID, _LR, _BOT),
    6: (_TOP, _UL, _MID, _LL, _LR, _BOT),
    7: (_TOP, (6, 19, 23, 12)),
    8: (_TOP, _MID, _BOT, _UL, _UR, _LL, _LR),
    9: (_TOP, _MID, _UL, _UR, _LR, _BOT),
}


@dataclass(frozen=True)
class Digits:
    """uint8 images (N, 28, 28), their labels (-1 where unknown) and where they came from."""

    images: np.ndarray
    labels: np.ndarray
    source: str


def synthetic_digits(count: int = DEFAULT_COUNT, seed: int = 0) -> Digits:
    """``count`` digit-like 28x28 uint8 images (labels 0, 1, 2, ...), jittered by ``seed``.

    Each is a few thick anti-aliased strokes, shifted and slanted a little at random, so
    they look like handwriting to a LeNet closely enough to exercise every layer with
    non-trivial values, and are the same on every machine.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float64)
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    for n in range(count):
        label = n % 10
        dy, dx = rng.uniform(-1.5, 1.5, size=2)
        slant = rng.uniform(-0.15, 0.15)
        width = rng.uniform(1.3, 1.9)
        ink = np.zeros((28, 28))
        for y0, x0, y1, x1 in _STROKES[label]:
            # distance from every pixel to the segment (y0,x0)-(y1,x1), after slant and shift
            ay, ax = y0 + dy, x0 + dx + slant * (14 - y0)
            by, bx = y1 + dy, x1 + dx + slant * (14 - y1)
            vy, vx = by - ay, bx - ax
            t = np.clip(((yy - ay) * vy + (xx - ax) * vx) / max(vy * vy + vx * vx, 1e-9), 0.0, 1.0)
            dist = np.hypot(yy - (ay + t * vy), xx - (ax + t * vx))
            ink = np.maximum(ink, np.clip(width + 0.5 - dist, 0.0, 1.0))
        images[n] = np.round(ink * 255.0).astype(np.uint8)
    return Digits(images, np.arange(count, dtype=np.int64) % 10, f"synthetic (seed {seed})")


def mnist_digits(count: int = DEFAULT_COUNT) -> Digits:
    """The first ``count`` MNIST test digits (shipped with lenetc)."""
    images, labels = mnist("test")
    return Digits(
        np.asarray(images[:count], dtype=np.uint8), np.asarray(labels[:count], dtype=np.int64), "MNIST test set"
    )


def as_digits(digits, count: int = DEFAULT_COUNT) -> Digits:
    """Normalise the ``digits`` argument of the example writers.

    None picks the first MNIST test digits; a
    :class:`Digits` is used as is; an array (N, 28, 28) of uint8 is taken as unlabelled
    images; a pair ``(images, labels)`` as labelled ones.
    """
    if digits is None:
        return mnist_digits(count)
    if isinstance(digits, Digits):
        result = digits
    elif isinstance(digits, tuple) and len(digits) == 2:
        result = Digits(np.asarray(digits[0]), np.asarray(digits[1], dtype=np.int64).reshape(-1), "given")
    else:
        images = np.asarray(digits)
        result = Digits(images, np.full(len(images), -1, dtype=np.int64), "given")
    if result.images.ndim != 3 or result.images.shape[1:] != (28, 28) or result.images.dtype != np.uint8:
        raise LenetcError(
            "example digits: expected uint8 images of shape (N, 28, 28), "
            f"got {result.images.dtype} {result.images.shape}"
        )
    if not 1 <= len(result.images) <= 64 or len(result.labels) != len(result.images):
        raise LenetcError(
            "example digits: expected 1 to 64 images with one label each, "
            f"got {len(result.images)} images and {len(result.labels)} labels"
        )
    return result
