"""The one rule for what an array handed to lenetc means, decided by its dtype.

- ``uint8``: raw 28x28 digits (N, 28, 28) or one (28, 28), pixels 0..255 with 0 the
  background, as MNIST stores them; the model's preprocessing (``x = pixel * scale + offset``,
  then padding) makes them inputs.
- ``float16/32/64``: already preprocessed network inputs (N, C, H, W), (N, H, W) for one
  channel, (C, H, W) or (H, W). 28x28 frames of whole numbers 0..255 with ink (a value of 128
  or more) where the model's preprocessing never gives such values are refused: they are raw
  pixels stored as floats, and taking them as inputs would silently give wrong answers (pass
  ``.astype(np.uint8)``).
- ``int8``: already quantized inputs, for an int8 model only.
- Anything else (other integer widths, bool, complex, objects) is refused: which of the above
  it means cannot be told.

The same rule holds for :func:`lenetc.quantize`'s calibration images, a compiled network's
``__call__`` and :func:`lenetc.forward`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .errors import LenetcError

Kind = Literal["pixels", "inputs", "quantized"]
FRAME = (28, 28)


def input_kind(x: np.ndarray, preprocess, *, int8: bool = False, what: str = "input") -> Kind:
    """What ``x`` is under the module's rule: ``pixels``, ``inputs`` or (``int8`` models only)
    ``quantized``; a :class:`LenetcError` for what the rule refuses. ``preprocess`` is the
    model's :class:`~lenetc.network.Preprocess`."""
    dt = x.dtype
    if dt == np.uint8:
        if x.shape[-2:] != FRAME or x.ndim not in (2, 3):
            raise LenetcError(
                f"{what}: uint8 arrays are raw 28x28 digits (N, 28, 28) or (28, 28), got shape {x.shape} "
                "(pass preprocessed network inputs as float32)"
            )
        return "pixels"
    if dt == np.int8:
        if not int8:
            raise LenetcError(f"{what}: int8 arrays are quantized inputs of an int8 model; this model is float32")
        return "quantized"
    if dt.kind == "f" and dt.itemsize in (2, 4, 8):
        if _looks_like_pixels(x, preprocess):
            raise LenetcError(
                f"{what}: float values are whole numbers 0..{float(x.max()):g}, which the model's preprocessing "
                f"({preprocess.describe()}) never gives: raw pixels? pass them as uint8 (N, 28, 28)"
            )
        return "inputs"
    raise LenetcError(
        f"{what}: dtype {dt} is ambiguous: uint8 means raw 0..255 digits, float32 preprocessed inputs"
        + (", int8 quantized inputs" if int8 else "")
    )


def _looks_like_pixels(x: np.ndarray, preprocess) -> bool:
    """28x28 frames of whole numbers in 0..255 with ink (some value >= 128) reaching more than
    twice the largest input a pixel maps to: MNIST digits stored as floats."""
    if x.size == 0 or x.shape[-2:] != FRAME or x.ndim > 4 or (x.ndim == 4 and x.shape[1] != 1):
        return False
    lo, hi = float(np.min(x)), float(np.max(x))
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0 or hi > 255 or hi < 128:
        return False
    reach = float(np.abs(preprocess.pixel_values(np.array([0, 255], np.uint8))).max())
    return hi > 2.0 * reach and bool(np.all(np.floor(x) == x))
