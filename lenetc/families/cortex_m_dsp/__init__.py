"""Cortex-M with the DSP extension (Armv7E-M / Armv8-M Mainline: M4, M7, M33).

The int8 linear kernels block output channels so every int16 input load feeds several SMLADs
(``lenetc_dot4_s16s8p``, ``lenetc_dot2x2_s16s8p``, ``lenetc_dotsp2_s16s8p``) and read weights
packed for SXTB16 (``packing.py``). The portable forms of these primitives are in the
portable header, so the C also builds, slower, with any C99 compiler.
"""

from __future__ import annotations

from pathlib import Path

from ...kinds.conv2d import ConvCall, im2col_scratch, pack_im2col
from ...kinds.dense import int8_scratch, pack_int8
from ...variants import Capabilities, Dialect, Family, Variant
from .packing import NOTE, dsp_seg, pack_sxtb16

HERE = Path(__file__).parent
T = f"{HERE.name}/kernels"

DIALECT = Dialect(
    name="cortex-m-dsp",
    description="Cortex-M DSP extension (M4, M7, M33)",
    caps=Capabilities(dot_s16s8=True, smlad=True),
    folder=HERE,
    header="lenetc_arch_cortexm_dsp.h",
    align=4,
    macros=frozenset({"__ARM_FEATURE_DSP"}),
    preference=10,
)


def _dense_conv(call: ConvCall, caps: Capabilities) -> bool:
    """The blocked kernels handle dense (non-sparse, one group) convolutions."""
    return caps.smlad and not call.layer.sparse and call.layer.groups == 1


def _pack_conv(lw, call: ConvCall) -> dict:
    return pack_im2col(lw, call, dsp_seg(call.seg), pack_sxtb16, NOTE)


def _scratch(rows: int, window_rows: dict[str, int] | None = None):
    """Scratch of a kernel keeping ``rows`` im2col rows (``window_rows`` in window modes)."""

    def scratch(call: ConvCall, mode: str):
        n = (window_rows or {}).get(mode, rows)
        return im2col_scratch(call, dsp_seg(call.seg), n, mode)

    return scratch


def _two_by_two_modes(call: ConvCall) -> tuple[str, ...]:
    # the 2 x 2 window kernel needs both conv outputs of a pair in one pooling-window row (an
    # even window width); the narrow one (one row, 4 maps x 1 pixel) always applies
    e = call.epilogue
    wide = ("window",) if e is not None and e["kw"] % 2 == 0 else ()
    return ("whole", "fused", *wide, "window-narrow")


VARIANTS = (
    # 4 output maps x 1 pixel per pass
    Variant("conv2d/int8_dsp", "conv2d", "int8", f"{T}/conv2d/int8_dsp.c.j2", applies=_dense_conv,
            pack=_pack_conv, scratch=_scratch(1), modes=lambda call: ("whole", "fused", "window"),
            mode_templates={"window": f"{T}/conv2d/int8_dsp_window.c.j2"}, rank=10),
    # 2 maps x 2 pixels where both counts are even: every loaded word feeds two SMLADs
    Variant("conv2d/int8_dsp2", "conv2d", "int8", f"{T}/conv2d/int8_dsp2.c.j2",
            applies=lambda call, caps: _dense_conv(call, caps) and call.oc % 2 == 0 and call.ow % 2 == 0,
            pack=_pack_conv, scratch=_scratch(2, {"window-narrow": 1}), modes=_two_by_two_modes,
            mode_templates={"window": f"{T}/conv2d/int8_dsp2_window.c.j2",
                            "window-narrow": f"{T}/conv2d/int8_dsp_window.c.j2"}, rank=20),
    # LeNet-5's sparse connection table: one map x 2 pixels, connected maps only
    Variant("conv2d/int8_dsp_sparse", "conv2d", "int8", f"{T}/conv2d/int8_dsp_sparse.c.j2",
            applies=lambda call, caps: caps.smlad and call.layer.sparse and call.ow % 2 == 0,
            pack=_pack_conv, scratch=_scratch(2), rank=10),
    # four-row SMLAD blocks
    Variant("dense/int8_dsp", "dense", "int8", f"{T}/dense/int8_dsp.c.j2",
            applies=lambda call, caps: caps.smlad, pack=lambda lw, call: pack_int8(lw, call, pack_sxtb16, NOTE),
            scratch=int8_scratch, rank=10),
)  # fmt: skip

FAMILY = Family(DIALECT, VARIANTS)
