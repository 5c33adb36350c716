"""Execution modes of the plan's stages, and what each costs in RAM.

A *stage* is a convolution followed by a pooling or subsampling whose windows tile its rows.
It runs in one of three modes:

- ``whole``: the convolution writes its whole output map, a separate kernel pools it;
- ``fused`` (the default, fastest): the convolution keeps a band of ``kh`` rows of all its maps
  in scratch and pools each band at once;
- ``window``: the convolution computes the conv outputs of one pooling window at a time and
  folds them into one accumulator per map (``templates/kernels/conv2d/int8.c.j2`` in window order): no
  band at all. Every conv output belongs to one window (stride = kernel), so nothing is
  recomputed, and the window is reduced in the same order: the same bits as ``fused``.

Which modes a kernel has, and the scratch it needs in each, is stated by its kernel variant
(:class:`lenetc.variants.Variant`: ``modes``, ``scratch``); the lowering applies the mode the
plan asks for (``Lowering.emit_variant``), and a kernel without a window mode keeps its band.
Each op records its mode and the modes its kernel has (``Op.mode``, ``Op.modes``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Op
from ..variants import MODES

__all__ = ["MODES", "Stage", "stage_mode", "window_choices"]


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


def window_choices(op: Op) -> tuple[str, ...]:
    """The window modes a RAM budget may try for ``op`` (none: it keeps its band): both where
    its kernel has a wide (two im2col rows) and a narrow window, else ``window``, which runs
    whichever one it has."""
    have = [m for m in op.modes if m.startswith("window")]
    return ("window", "window-narrow") if len(have) == 2 else ("window",) if have else ()


def stage_mode(op: Op) -> str:
    """The mode an op of a finished plan runs in, as the memory report names it (both window
    modes are ``window``)."""
    return "window" if op.mode.startswith("window") else op.mode
