"""Kernel ops that several kinds (and the planner) emit and that differ only in element type:
padding, a plain copy and the H,W,C transpose of a flatten."""

from __future__ import annotations

from .base import Shape


def emit_pad(lw, layer: str, src: int, in_shape: Shape, padding, value: float, doc: str) -> int:
    """Pad a C,H,W tensor by (top, left, bottom, right) with ``value`` (real 0 in the element type)."""
    c, h, w = in_shape
    pt, pl, pb, pr = padding
    padded = (c, h + pt + pb, w + pl + pr)
    ctx = {"c": c, "h": h, "w": w, "pt": pt, "pl": pl, "ph": padded[1], "pw": padded[2], "value": value}
    return lw.emit("common/pad", layer, src, padded, ctx, doc=doc, fn=lw.fn_name(layer, "pad"))


def emit_copy(lw, src: int, shape: Shape, size: int) -> int:
    return lw.emit("common/copy", "output", src, shape, {"n": size}, doc="copy")


def emit_transpose_hwc(lw, layer: str, src: int, in_shape: Shape, out_shape: Shape) -> int:
    c, h, w = in_shape
    return lw.emit("common/transpose_hwc", layer, src, out_shape, {"c": c, "hw": h * w}, doc="flatten H,W,C")
