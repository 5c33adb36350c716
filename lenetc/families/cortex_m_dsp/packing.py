"""The weight packing of the Cortex-M DSP kernels.

The kernels read weights packed at generation time for SXTB16: in each group of four the bytes
(w0, w1, w2, w3) are stored as (w0, w2, w1, w3), so SXTB16 of the word gives the pair (w0, w1)
and SXTB16 of the word rotated by 8 gives (w2, w3), each matching two int16 inputs as they lie
in memory. Segments are padded to a multiple of 4 taps (one SXTB16 word), not 16: a 5x5 window
costs 28 multiply-adds instead of 32.
"""

from __future__ import annotations

import numpy as np

#: Stored position -> source column within each group of four.
_ORDER = np.array([0, 2, 1, 3])
NOTE = "SXTB16-packed"


def dsp_seg(seg: int) -> int:
    """Segment length of the DSP conv kernels: the taps zero-padded to a multiple of 4."""
    return -(-seg // 4) * 4


def pack_sxtb16(w: np.ndarray) -> np.ndarray:
    """Rows of ``w`` (columns a multiple of 4) with each group of four reordered for SXTB16."""
    rows, cols = w.shape
    if cols % 4:
        raise ValueError(f"packed rows need a multiple of 4 columns, not {cols}")
    return np.ascontiguousarray(w.reshape(rows, cols // 4, 4)[:, :, _ORDER].reshape(rows, cols))
