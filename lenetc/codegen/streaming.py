"""Execution modes of the plan's stages, and what each costs in RAM.

A *stage* is a convolution followed by a pooling or subsampling whose windows tile its rows.
It runs in one of three modes:

- ``whole``: the convolution writes its whole output map, a separate kernel pools it;
- ``fused`` (the default, fastest): the convolution keeps a band of ``kh`` rows of all its maps
  in scratch and pools each band at once;
- ``window``: the convolution computes the conv outputs of one pooling window at a time and
  folds them into one accumulator per map (``templates/kernels/conv2d/int8_window.c.j2``): no
  band at all. Every conv output belongs to one window (stride = kernel), so nothing is
  recomputed, and the window is reduced in the same order: the same bits as ``fused``.

The window mode exists for the portable int8 convolution kernel (``conv2d/int8``) and the
Cortex-M DSP ones (``conv2d/int8_dsp*``); any other kernel (x86 blocked, or float32) keeps its
band mode, and :func:`stage_modes` says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Lowering, Op

MODES = ("fused", "window", "window-narrow", "whole")

#: The kernel templates that have a window-mode variant, and that variant.
WINDOW_TEMPLATES = {
    "conv2d/int8": "conv2d/int8_window",
    # the Cortex-M DSP kernels (kinds/conv2d_cortexm.py) share one window variant
    "conv2d/int8_dsp": "conv2d/int8_dsp_window",
    "conv2d/int8_dsp2": "conv2d/int8_dsp_window",
    # the Helium kernel (lenetc/helium/int8.py) states its window scratch in its context
    "mve/conv2d_int8": "mve/conv2d_int8_window",
}


@dataclass(frozen=True)
class Stage:
    """One op of the plan as the memory report shows it: its layer(s), mode, the bytes of its
    input, output and scratch, and the MACs it recomputes against the fastest plan (0 in every
    lenetc mode: the pooling windows tile the conv rows, so each conv output is computed once)."""

    layer: str
    mode: str
    in_bytes: int
    out_bytes: int
    scratch_bytes: int
    recompute_macs: int = 0

    @property
    def buffer_bytes(self) -> int:
        """The bytes the stage writes: its output and its scratch (its input is the previous
        stage's output)."""
        return self.out_bytes + self.scratch_bytes

    def to_dict(self) -> dict:
        return {**self.__dict__, "buffer_bytes": self.buffer_bytes}


def supports_window(op: Op) -> bool:
    """Whether ``op`` is a fused convolution whose kernel has a window-mode variant."""
    return op.template in WINDOW_TEMPLATES and bool(op.ctx.get("epilogue"))


def has_wide_window(op: Op) -> bool:
    """Whether the window mode of ``op`` keeps two im2col rows (the DSP 2 maps x 2 pixels
    kernel), so that ``window-narrow`` (one row, 4 maps x 1 pixel) is a smaller alternative."""
    return op.template == "conv2d/int8_dsp2" and op.ctx["epilogue"]["kw"] % 2 == 0


def to_window(lw: Lowering, op: Op, narrow: bool = False) -> None:
    """Turn the fused band kernel ``op`` into its window-mode variant: the scratch keeps the
    im2col row and one accumulator per output map (int8 for max, int32 for sums); the DSP
    2 maps x 2 pixels kernel keeps its two rows unless ``narrow``."""
    c, e = op.ctx, op.ctx["epilogue"]
    acc_bytes = c["oc"] * (1 if e["mode"] == "max" else 4)
    rows = 1
    template = WINDOW_TEMPLATES[op.template]
    if not narrow and has_wide_window(op):
        # both conv outputs of a pair lie in one window row: keep the 2 maps x 2 pixels kernel
        rows, template = 2, "conv2d/int8_dsp2_window"
    t = lw.tensors[op.scratch]
    t.size = c["window_scratch"] if "window_scratch" in c else 2 * rows * c["nseg"] * c["segp"] + acc_bytes
    t.shape = (t.size,)
    op.template = template
    op.doc = f"{op.doc} (window order)"


def stage_mode(op: Op) -> str:
    """The mode an op of a finished plan runs in (``whole`` for every unfused op)."""
    if op.template in WINDOW_TEMPLATES.values() or op.template == "conv2d/int8_dsp2_window":
        return "window"
    return "fused" if op.ctx.get("epilogue") else "whole"
