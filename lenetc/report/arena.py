"""The arena of a plan as a picture: which buffer holds which bytes during which op.

The spans are read off the plan the same way the planner placed them (every arena tensor an op
reads, writes or uses as scratch is alive during that op; in-place chains share one buffer), so
the picture shows the placement the generated C uses, not a re-planned one.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from ..codegen.plan import Plan

_PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")


@dataclass(frozen=True)
class ArenaBuffer:
    """One arena buffer: its bytes ``[offset, offset + nbytes)``, alive from op ``first`` to ``last``."""

    label: str
    offset: int
    nbytes: int
    first: int
    last: int


def arena_buffers(plan: Plan) -> list[ArenaBuffer]:
    """The plan's arena buffers in order of first use, each labelled with the op that writes it
    (or ``scratch of`` the op that uses it as working memory)."""
    elem = plan.numeric.elem_bytes
    spans: dict[int, list] = {}
    for k, op in enumerate(plan.ops):
        for tid, role in ((op.src, "in"), (op.dst, "out"), (op.scratch, "scratch")):
            if tid < 0 or plan.tensors[tid].storage != "arena":
                continue
            t = plan.tensors[tid]
            span = spans.setdefault(t.buffer, [k, k, t.offset, 0, ""])
            span[0], span[1] = min(span[0], k), max(span[1], k)
            span[3] = max(span[3], t.nbytes(elem))
            if role == "out" and not span[4]:
                span[4] = f"{op.layer} output"
            elif role == "scratch":
                span[4] = f"scratch of {op.layer}"
    return sorted(
        (ArenaBuffer(label or f"buffer {b}", offset, nbytes, first, last)
         for b, (first, last, offset, nbytes, label) in spans.items()),
        key=lambda a: (a.first, a.offset),
    )  # fmt: skip


def arena_svg(plan: Plan, width: int = 760, height: int = 320) -> str:
    """An inline SVG: ops left to right, arena bytes bottom to top, one rectangle per buffer,
    with the arena size and the liveness lower bound as horizontal lines."""
    buffers = arena_buffers(plan)
    n_ops = max(1, len(plan.ops))
    top = max(plan.arena_bytes, 1)
    left, bottom, pad = 70, 40, 10
    plot_w, plot_h = width - left - pad, height - bottom - pad

    def x(k: float) -> float:
        return left + plot_w * k / n_ops

    def y(b: float) -> float:
        return pad + plot_h * (1 - b / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="arena buffers over time">',
        f'<rect x="{left}" y="{pad}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#999"/>',
    ]
    for i, b in enumerate(buffers):
        color = _PALETTE[i % len(_PALETTE)]
        x0, x1 = x(b.first), x(b.last + 1)
        y0, y1 = y(b.offset + b.nbytes), y(b.offset)
        title = escape(f"{b.label}: bytes {b.offset:,}..{b.offset + b.nbytes - 1:,}, ops {b.first}..{b.last}")
        parts.append(
            f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{max(x1 - x0 - 1, 1):.1f}" height="{max(y1 - y0, 1):.1f}" '
            f'fill="{color}" fill-opacity="0.75" stroke="#333"><title>{title}</title></rect>'
        )
        if y1 - y0 >= 12 and x1 - x0 >= 40:
            parts.append(
                f'<text x="{x0 + 3:.1f}" y="{y0 + 11:.1f}" font-size="10" fill="#000">{escape(b.label)}</text>'
            )
    # the two labels sit at opposite ends of their lines, so they stay readable when the arena meets its bound
    for value, name, dash, at, anchor in (
        (plan.arena_lower_bound, "liveness bound", "4 3", left + 4, "start"),
        (plan.arena_bytes, "arena", "", left + plot_w - 4, "end"),
    ):
        yy = y(value)
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#c00" '
                     f'stroke-dasharray="{dash}"/>')  # fmt: skip
        parts.append(f'<text x="{left - 4}" y="{yy + 4:.1f}" font-size="10" text-anchor="end">{value:,}</text>')
        parts.append(f'<text x="{at}" y="{yy - 3:.1f}" font-size="10" text-anchor="{anchor}" '
                     f'fill="#c00">{name}</text>')  # fmt: skip
    for k, op in enumerate(plan.ops):
        parts.append(
            f'<text x="{x(k + 0.5):.1f}" y="{pad + plot_h + 14}" font-size="10" text-anchor="middle">'
            f"{escape(op.layer)}</text>"
        )
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" font-size="11" text-anchor="middle">'
                 "op (time)</text>")  # fmt: skip
    parts.append(f'<text x="12" y="{pad + plot_h / 2:.1f}" font-size="11" text-anchor="middle" '
                 f'transform="rotate(-90 12 {pad + plot_h / 2:.1f})">arena bytes</text>')  # fmt: skip
    parts.append("</svg>")
    return "\n".join(parts)
