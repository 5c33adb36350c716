"""A :class:`ModelReport` as one self-contained HTML page: inline CSS, inline SVG and PNG data
URIs, no script and nothing fetched from the network, so it opens anywhere, offline."""

from __future__ import annotations

import base64
import io
import math

import jinja2
import numpy as np

from ..paths import templates_dir
from .arena import arena_buffers, arena_svg
from .collect import ModelReport


def png_data_uri(image: np.ndarray, scale: int = 2) -> str:
    """A uint8 (H, W) grey image (0 = background) as a ``data:image/png;base64`` URI, dark ink on white."""
    from PIL import Image

    pixels = 255 - np.asarray(image, dtype=np.uint8)
    picture = Image.fromarray(pixels, mode="L").resize((pixels.shape[1] * scale, pixels.shape[0] * scale))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _shade(count: int, row_total: int, diagonal: bool) -> str:
    """Cell colour of the confusion matrix: blue on the diagonal, red off it, by share of the row."""
    share = count / row_total if row_total else 0.0
    if count == 0:
        return "#ffffff"
    strength = 0.15 + 0.85 * (share if diagonal else min(1.0, 10 * share))
    r, g, b = (66, 133, 244) if diagonal else (219, 68, 55)
    mix = [round(255 - (255 - c) * strength) for c in (r, g, b)]
    return "#{:02x}{:02x}{:02x}".format(*mix)


def _fmt_db(value: float | None) -> str:
    if value is None:
        return ""
    return "inf" if math.isinf(value) else f"{value:.1f}"


def render_html(report: ModelReport) -> str:
    """The page for ``report``."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "report")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["shape"] = lambda s: "×".join(str(v) for v in s)
    env.filters["num"] = lambda v: f"{v:,}"
    env.filters["db"] = _fmt_db
    accuracies = []
    for acc in report.accuracies:
        matrix = acc.confusion
        rows = []
        for true in range(10):
            total = int(matrix[true].sum())
            cells = [(int(v), _shade(int(v), total, true == p)) for p, v in enumerate(matrix[true])]
            rows.append({"digit": true, "cells": cells, "total": total,
                         "acc": 100 * matrix[true, true] / total if total else None})  # fmt: skip
        mistakes = [
            {"uri": png_data_uri(img), "index": int(i), "label": int(acc.labels[i]), "pred": int(acc.predictions[i])}
            for img, i in zip(acc.images, acc.wrong)
        ]
        accuracies.append({"acc": acc, "rows": rows, "mistakes": mistakes})
    buffers = arena_buffers(report.plan)
    return env.get_template("report.html.j2").render(
        r=report,
        net=report.net,
        plan=report.plan,
        accuracies=accuracies,
        arena_svg=arena_svg(report.plan),
        buffers=buffers,
    )
