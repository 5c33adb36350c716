"""Sliding windows over (N, C, H, W) arrays: the gather every windowed kind's reference and
trainer use, its adjoint (scatter) for gradients, and padding/cropping."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def pad(x: np.ndarray, padding: tuple[int, int, int, int], value: float = 0.0) -> np.ndarray:
    """``x`` padded by (top, left, bottom, right) with ``value``."""
    pt, pl, pb, pr = padding
    if not any(padding):
        return x
    return np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=value)


def crop(dxp: np.ndarray, padding, hw) -> np.ndarray:
    """The inverse of :func:`pad` (for gradients)."""
    pt, pl = padding[0], padding[1]
    return dxp[:, :, pt : pt + hw[0], pl : pl + hw[1]]


def windows(x: np.ndarray, kernel, stride, out_hw) -> np.ndarray:
    """(N, C, OH, OW, KH, KW) view of the windows of ``x`` (already padded)."""
    win = sliding_window_view(x, kernel, axis=(2, 3))[:, :, :: stride[0], :: stride[1]]
    return win[:, :, : out_hw[0], : out_hw[1]]


def scatter(dwin: np.ndarray, padded_hw, stride) -> np.ndarray:
    """Adjoint of :func:`windows`: add (N, C, OH, OW, KH, KW) window gradients into the padded input."""
    n, c, oh, ow, kh, kw = dwin.shape
    sh, sw = stride
    dxp = np.zeros((n, c, *padded_hw), dtype=dwin.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw] += dwin[:, :, :, :, i, j]
    return dxp
