"""File output: checked before the work that produces it, written whole or not at all.

:func:`check_output_file` runs before a long job (training, a 10,000-digit evaluation) so that
a directory given as a file name, or a missing or unwritable directory, fails in the first
second rather than after the work; it probes by creating a file, since permission bits alone
do not tell (root, read-only mounts, ACLs). Every file lenetc hands to the user is written
under a temporary name in its target directory, flushed to disk and renamed into place, so a
failure leaves either the old file or nothing, never half a file.

The temporary file is created with ``os.open(..., 0o666)``, so the kernel applies the umask (and
any default ACL of the directory) exactly as for a plain ``open(path, "w")``; ``tempfile.mkstemp``
would make it 0600 whatever the umask.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from .errors import LenetcError

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_NAME_ATTEMPTS = 100


def _open_temp(directory: Path, name: str) -> tuple[int, Path]:
    """A new, empty file beside ``directory / name`` with the umask's mode; returns (fd, path)."""
    for _ in range(_NAME_ATTEMPTS):
        tmp = directory / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, _CREATE_FLAGS, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name for '{name}' in '{directory}'")


def _sync_directory(directory: Path) -> None:
    """Make the renames durable; some systems cannot open or fsync a directory, which is harmless."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_files_atomic(directory: str | Path, files: Mapping[str, bytes | str]) -> list[Path]:
    """Write ``files`` (name -> bytes, or text written as UTF-8) into the existing ``directory``.

    All of them are written and fsynced under temporary names first and renamed only then, so an
    error (disk full, permissions) leaves none of them half-written and no temporary file behind.
    OS errors propagate as :class:`OSError`.
    """
    directory = Path(directory)
    for name in files:  # a directory in the way fails the rename: find it before anything is replaced
        if (directory / name).is_dir():
            raise IsADirectoryError(errno.EISDIR, "it is a directory", str(directory / name))
    temps: list[tuple[str, Path]] = []
    try:
        for name, content in files.items():
            fd, tmp = _open_temp(directory, name)
            temps.append((name, tmp))
            with os.fdopen(fd, "wb") as fh:
                fh.write(content.encode("utf-8") if isinstance(content, str) else content)
                fh.flush()
                os.fsync(fh.fileno())
        paths = []
        for name, tmp in temps:
            os.replace(tmp, directory / name)
            paths.append(directory / name)
    except BaseException:
        for _, tmp in temps:
            tmp.unlink(missing_ok=True)
        raise
    _sync_directory(directory)
    return paths


def check_output_file(path: str | Path) -> Path:
    """``path`` if a file can be written there now; else a one-line :class:`LenetcError`."""
    if not str(path):  # Path("") is "."
        raise LenetcError("output file name is empty")
    path = Path(path)
    if path.is_dir():
        raise LenetcError(f"cannot write '{path}': it is a directory (give a file name)")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise LenetcError(f"cannot write '{path}': directory '{directory}' does not exist")
    try:
        fd, probe = _open_temp(directory, path.name)
    except OSError as exc:
        raise LenetcError(f"cannot write '{path}': directory '{directory}' is not writable ({exc.strerror})") from None
    os.close(fd)
    probe.unlink()
    return path


def write_file(path: str | Path, content: bytes | str) -> Path:
    """Write one file atomically (see :func:`write_files_atomic`) after :func:`check_output_file`;
    an OS error becomes a one-line :class:`LenetcError` naming ``path``."""
    path = check_output_file(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        write_files_atomic(directory, {path.name: content})
    except OSError as exc:
        raise LenetcError(f"cannot write '{path}': {exc.strerror or exc}") from None
    return path
