"""Cortex-M DSP lowering of the int8 linear kinds (conv2d, dense): which layers get the SMLAD
kernels (``templates/kernels/<kind>/int8_dsp.c.j2``) and the weight packing they read.

The kernels block four output channels per pass so every int16 input load feeds four SMLADs,
and read weights packed at generation time for SXTB16: in each group of four the bytes
(w0, w1, w2, w3) are stored as (w0, w2, w1, w3), so SXTB16 of the word gives the pair (w0, w1)
and SXTB16 of the word rotated by 8 gives (w2, w3), each matching two int16 inputs as they lie
in memory. The primitives and their portable fallback are in ``csrc/lenetc_arch_cortexm_dsp.h``.
"""

from __future__ import annotations

import numpy as np

#: The dialect whose int8 linear kernels this module supplies.
DSP = "cortex-m-dsp"
#: Stored position -> source column within each group of four.
_ORDER = np.array([0, 2, 1, 3])


def dsp_dialect(lw) -> bool:
    """True when the plan is for the Cortex-M DSP family."""
    return getattr(lw.dialect, "name", None) == DSP


def conv_ok(lw, sparse: bool, groups: int) -> bool:
    """The blocked DSP conv kernel handles dense (non-sparse, one group) int8 convolutions; the
    sparse connection table and grouped convolutions keep the existing kernel."""
    return dsp_dialect(lw) and not sparse and groups == 1


#: The sparse-table kernel: one output map x 2 output pixels per pass, connected maps only.
SPARSE = "conv2d/int8_dsp_sparse"


def sparse_ok(lw, sparse: bool, ow: int) -> bool:
    """The sparse DSP kernel handles a sparse connection table with an even output width."""
    return dsp_dialect(lw) and sparse and ow % 2 == 0


def dsp_seg(seg: int) -> int:
    """Segment length of the DSP conv kernels: the taps zero-padded to a multiple of 4 (one SXTB16
    word), not of 16: a 5x5 window costs 28 multiply-adds instead of 32."""
    return -(-seg // 4) * 4


#: The kernel computing 2 output maps x 2 output pixels per pass (two im2col rows in scratch).
TWO_PIXELS = "conv2d/int8_dsp2"


def conv_template(oc: int, ow: int) -> str:
    """2 maps x 2 pixels where both counts are even (every loaded word feeds two SMLADs),
    else 4 maps x 1 pixel."""
    return TWO_PIXELS if oc % 2 == 0 and ow % 2 == 0 else "conv2d/int8_dsp"


def pack_sxtb16(w: np.ndarray) -> np.ndarray:
    """Rows of ``w`` (columns a multiple of 4) with each group of four reordered for SXTB16."""
    rows, cols = w.shape
    if cols % 4:
        raise ValueError(f"packed rows need a multiple of 4 columns, not {cols}")
    return np.ascontiguousarray(w.reshape(rows, cols // 4, 4)[:, :, _ORDER].reshape(rows, cols))
