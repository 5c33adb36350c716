"""Single output files (weights, ONNX, plots): checked before the work that produces them, and
written whole or not at all.

:func:`check_output_file` runs before a long job (training, a 10,000-digit evaluation) so that
a directory given as a file name, a missing or unwritable directory fails in the first second
rather than after the work. It probes by creating a file, since permission bits alone do not
tell (root, read-only mounts, ACLs). :func:`write_file_atomic` writes a temporary file beside
the target, gives it the mode the umask implies (not mkstemp's 0600) and renames it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .errors import LenetcError


def check_output_file(path: str | Path) -> Path:
    """``path`` if a file can be written there now; else a one-line :class:`LenetcError`."""
    path = Path(path)
    if path.is_dir():
        raise LenetcError(f"cannot write '{path}': it is a directory (give a file name)")
    directory = path.parent
    if not directory.is_dir():
        raise LenetcError(f"cannot write '{path}': directory '{directory}' does not exist")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=directory)
    except OSError as exc:
        raise LenetcError(f"cannot write '{path}': directory '{directory}' is not writable ({exc.strerror})") from None
    os.close(fd)
    os.unlink(probe)
    return path


def _umask_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_file_atomic(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(fh)`` on a temporary file beside ``path`` and rename it to ``path`` when it
    returns; on any failure the temporary file is removed and ``path`` is untouched."""
    path = check_output_file(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise LenetcError(f"cannot write '{path}': {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise LenetcError(f"cannot write '{path}': {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
