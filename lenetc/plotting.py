"""Saving matplotlib figures: the file format follows the file's extension (PNG, SVG or PDF),
and the file is written atomically with the umask's mode."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

from .errors import LenetcError
from .fileio import check_output_file, write_file

MISSING_MATPLOTLIB = "--plot needs matplotlib, which is not installed (pip install matplotlib)"
#: Extensions ``--plot`` accepts, each the matplotlib format of the same name.
PLOT_FORMATS = ("png", "svg", "pdf")


def plot_format(path: str | Path) -> str:
    """The format for ``path`` from its extension; a one-line error for any other extension."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in PLOT_FORMATS:
        supported = ", ".join(f".{ext}" for ext in PLOT_FORMATS)
        got = f"'.{suffix}'" if suffix else "no extension"
        raise LenetcError(f"cannot plot to '{path}': {got} is not a supported format (use {supported})")
    return suffix


def check_plot_path(path: str | Path) -> None:
    """Fail early, before any long computation, if ``path`` has no supported extension or
    cannot be written."""
    check_output_file(path)
    plot_format(path)
    if importlib.util.find_spec("matplotlib") is None:
        raise LenetcError(MISSING_MATPLOTLIB)


def report_written(path: str | Path, to_stderr: bool = False) -> None:
    """Print ``wrote PATH``; on stderr when stdout carries JSON."""
    print(f"wrote {path}", file=sys.stderr if to_stderr else sys.stdout)


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend, or a one-line error if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise LenetcError(MISSING_MATPLOTLIB) from None
    return plt


def save_figure(fig, path: str | Path, dpi: int = 80) -> Path:
    """Render ``fig`` in the format ``path``'s extension names, write it atomically and close the figure."""
    fmt = plot_format(path)
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format=fmt, dpi=dpi)
    finally:
        pyplot().close(fig)
    return write_file(path, buffer.getvalue())
