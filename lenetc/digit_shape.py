"""Does a picture look like an MNIST digit at all? Three checks on the uint8 28x28 digit that
:func:`lenetc.images.load_digit` returns, whatever the picture's original size, so they do not
depend on whether it went through the resize path. Each threshold is a quantile of the same
statistic over MNIST training digits:

- **ink**: the number of pixels at or above half intensity. Fewer than (almost) any training digit
  has means a blank or nearly blank picture (an all-black or all-white image has none).
- **solid**: the share of the ink (pixels >= 64) lying at the centre of a 7x7 square that is all
  ink. Digits are drawn with strokes a few pixels wide; a filled area is not a digit. This catches
  large noise images, which the resize path averages into a smooth grey block.
- **residual**: the share of the picture's energy outside the first 40 principal components of
  training digits. Pixel noise, hatching and other textures are far from that subspace.

These look only at the picture; the model's own doubt is the calibrated probability
(:mod:`lenetc.confidence`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import LenetcError

#: Grey level (of 255) from which a pixel counts as ink for the ink count.
INK_LEVEL = 128
#: Lower grey level for the solid check, so that a noisy grey block counts as one filled area.
SOLID_LEVEL = 64
#: Half-width of the all-ink square whose centre counts as solid (7x7).
SOLID_RADIUS = 3
#: Principal components of training digits kept for the residual.
COMPONENTS = 40

TOO_LITTLE_INK = "too little ink"
SOLID = "a filled area, not strokes"
ATYPICAL = "unlike any training digit"


@dataclass(frozen=True)
class DigitShapeModel:
    """The subspace of training digits and the three thresholds (see the module docstring)."""

    mean: np.ndarray  # (784,) mean training digit, grey levels in [0, 1]
    basis: np.ndarray  # (784, COMPONENTS) orthonormal principal directions
    min_ink: float
    max_solid: float
    max_residual: float


def _as_digits(digits: np.ndarray) -> np.ndarray:
    digits = np.asarray(digits)
    if digits.ndim == 2:
        digits = digits[None]
    if digits.ndim != 3 or digits.shape[1:] != (28, 28):
        raise LenetcError(f"digit checks need 28x28 pictures, got shape {digits.shape}")
    return digits


def ink_pixels(digits: np.ndarray) -> np.ndarray:
    """Per digit, the number of pixels at or above :data:`INK_LEVEL`."""
    return (_as_digits(digits) >= INK_LEVEL).sum(axis=(1, 2))


def solid_fraction(digits: np.ndarray) -> np.ndarray:
    """Per digit, the share of ink pixels (>= :data:`SOLID_LEVEL`) that survive an erosion by a
    (2 r + 1) square, r = :data:`SOLID_RADIUS`: 0 for strokes, large for filled areas."""
    ink = _as_digits(digits) >= SOLID_LEVEL
    r = SOLID_RADIUS
    padded = np.pad(ink, ((0, 0), (r, r), (r, r)))
    core = ink.copy()
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            core &= padded[:, dy : dy + 28, dx : dx + 28]
    return core.sum(axis=(1, 2)) / np.maximum(ink.sum(axis=(1, 2)), 1)


def fit_subspace(digits: np.ndarray, components: int = COMPONENTS) -> tuple[np.ndarray, np.ndarray]:
    """Mean and the leading principal directions of ``digits`` (uint8 (N, 28, 28))."""
    x = _as_digits(digits).reshape(-1, 784) / 255.0
    mean = x.mean(axis=0)
    centred = x - mean
    eigenvalues, vectors = np.linalg.eigh(centred.T @ centred)
    order = np.argsort(eigenvalues)[::-1][:components]
    return mean, np.ascontiguousarray(vectors[:, order])


def residual_fraction(digits: np.ndarray, mean: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Per digit, |x - mean - projection|^2 / |x|^2 with x in [0, 1]; 0 for a blank picture
    (which the ink check rejects)."""
    x = _as_digits(digits).reshape(-1, 784) / 255.0
    centred = x - mean
    rest = centred - (centred @ basis) @ basis.T
    energy = (x**2).sum(axis=1)
    return np.where(energy > 0, (rest**2).sum(axis=1) / np.maximum(energy, 1e-12), 0.0)


def fit_shape_model(fit_digits: np.ndarray, threshold_digits: np.ndarray, quantile: float) -> DigitShapeModel:
    """The subspace from ``fit_digits``; each threshold passes all but ``quantile`` of
    ``threshold_digits`` (digits the subspace was not fitted on, so the residual is not optimistic)."""
    mean, basis = fit_subspace(fit_digits)
    return DigitShapeModel(
        mean=mean,
        basis=basis,
        min_ink=float(np.quantile(ink_pixels(threshold_digits), quantile, method="lower")),
        max_solid=float(np.quantile(solid_fraction(threshold_digits), 1.0 - quantile)),
        max_residual=float(np.quantile(residual_fraction(threshold_digits, mean, basis), 1.0 - quantile)),
    )


def shape_rejections(model: DigitShapeModel, digits: np.ndarray) -> list[str | None]:
    """Per digit, why it does not look like a digit (the first failing check), or None."""
    ink = ink_pixels(digits)
    solid = solid_fraction(digits)
    residual = residual_fraction(digits, model.mean, model.basis)
    reasons: list[str | None] = []
    for n, s, r in zip(ink, solid, residual):
        if n < model.min_ink:
            reasons.append(TOO_LITTLE_INK)
        elif s > model.max_solid:
            reasons.append(SOLID)
        elif r > model.max_residual:
            reasons.append(ATYPICAL)
        else:
            reasons.append(None)
    return reasons
