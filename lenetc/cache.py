"""The on-disk build cache: one directory per content key, published whole, checked before use.

An entry ``<cache>/<key>/`` holds a compiled extension, the sources it came from and a
``manifest.json`` written at publish time (every file's size, the extension's SHA-256).
Builds happen in a private ``.tmp-<host>-<pid>-<random>`` directory that is renamed into
place only when complete, so readers see a whole entry or none. An entry whose files do not
match its manifest (a truncated ``.so`` would crash the process that loads it) is removed
and rebuilt. Builders of one key wait for each other through a lock file (``flock``, which
the kernel releases when a builder dies), and temporary directories left by killed builds
are removed once their process is gone.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import LenetcError

ENV_VAR = "LENETC_CACHE"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
#: An entry's directory name: the first 20 hex digits of a SHA-256.
KEY_RE = re.compile(r"[0-9a-f]{20}")
TEMP_PREFIX = ".tmp-"
LOCK_DIR = ".locks"
#: A temporary directory this old is abandoned even if its pid looks alive (pid reuse, other hosts).
STALE_AFTER_S = 24 * 3600


@dataclass(frozen=True)
class CacheEntry:
    """One published build: its key, directory, total bytes and whether it matches its manifest."""

    key: str
    path: Path
    bytes: int
    valid: bool


@dataclass(frozen=True)
class CacheSummary:
    """What ``lenetc cache info`` reports."""

    path: Path
    entries: list[CacheEntry]
    temp_dirs: list[Path]

    @property
    def bytes(self) -> int:
        return sum(e.bytes for e in self.entries) + sum(_tree_bytes(p) for p in self.temp_dirs)


def make_key(*parts: str) -> str:
    """The cache key of a build whose inputs are ``parts`` (sources, flags, compiler, ABI...)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:20]


def cache_dir() -> Path:
    """``$LENETC_CACHE``, else ``$XDG_CACHE_HOME/lenetc`` (absolute paths only, as the XDG spec
    says; a relative one is ignored), else ``$HOME/.cache/lenetc``.

    Only locates the directory (see :func:`ensure_cache_dir`). Raises :class:`LenetcError`
    when neither variable is set and ``HOME`` is unset or names no directory: lenetc never
    invents a home directory.
    """
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):  # the XDG spec: a relative path is invalid and ignored
        return Path(xdg) / "lenetc"
    home = os.environ.get("HOME")
    if not home:
        raise LenetcError(f"cannot locate the build cache: HOME is not set (set {ENV_VAR} to a directory)")
    if not Path(home).is_dir():
        raise LenetcError(f"cannot locate the build cache: HOME '{home}' is not a directory (set {ENV_VAR})")
    return Path(home) / ".cache" / "lenetc"


def ensure_cache_dir() -> Path:
    """:func:`cache_dir`, created if missing; :class:`LenetcError` if it is not a writable directory."""
    root = cache_dir()
    if root.exists() and not root.is_dir():
        raise LenetcError(f"build cache '{root}' is not a directory (set {ENV_VAR} to a directory)")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LenetcError(f"cannot create the build cache '{root}': {exc.strerror} (set {ENV_VAR})") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise LenetcError(f"build cache '{root}' is not writable (set {ENV_VAR} to a writable directory)")
    return root


def extension_path(key: str, build: Callable[[Path], Path]) -> Path:
    """The path of a complete, checked extension for ``key``, built first if missing or corrupt.

    ``build(directory)`` writes everything the entry holds into the empty private
    ``directory`` and returns the path of the extension inside it. Safe to call from several
    threads and processes at once: one builds, the others wait and then use its result.
    """
    if not KEY_RE.fullmatch(key):
        raise ValueError(f"cache key must be 20 hex digits (make_key), got {key!r}")
    root = ensure_cache_dir()
    entry = root / key
    so = _checked_extension(entry)
    if so is not None:
        return so
    with _build_lock(root, key):
        so = _checked_extension(entry)  # another builder may have published while we waited
        if so is not None:
            return so
        if entry.exists():
            _discard(entry)
        remove_stale_temp_dirs(root)
        tmp = _make_temp_dir(root)
        try:
            built = build(tmp)
            _write_manifest(tmp, built.name)
        except OSError as exc:  # a full disk, say: the build's own failures are LenetcErrors
            raise LenetcError(f"writing a build into the cache '{root}' failed: {exc.strerror}") from None
        else:
            try:
                tmp.rename(entry)
            except OSError:
                pass  # published by a builder that does not take the lock; checked below
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    so = _checked_extension(entry)
    if so is None:
        raise LenetcError(f"the build cache entry '{entry}' is incomplete right after publishing it")
    return so


def summary() -> CacheSummary:
    """Every entry and temporary directory of the cache (which need not exist yet)."""
    root = cache_dir()
    if root.exists() and not root.is_dir():
        raise LenetcError(f"build cache '{root}' is not a directory (set {ENV_VAR} to a directory)")
    entries = [CacheEntry(p.name, p, _tree_bytes(p), _checked_extension(p) is not None) for p in _entry_dirs(root)]
    return CacheSummary(root, entries, sorted(_temp_dirs(root)))


def clear() -> CacheSummary:
    """Remove every entry, lock and abandoned temporary directory; returns what was removed.

    Only names lenetc creates are touched, so a cache variable pointing at the wrong
    directory loses nothing else. Temporary directories of builds still running are kept.
    """
    before = summary()
    for entry in before.entries:
        _discard(entry.path)
    removed_temps = remove_stale_temp_dirs(before.path)
    shutil.rmtree(before.path / LOCK_DIR, ignore_errors=True)
    kept = [e.path for e in before.entries if e.path.exists()] + [t for t in removed_temps if t.exists()]
    if kept:  # a read-only cache, say: say so instead of reporting entries removed
        raise LenetcError(
            f"cannot clear the build cache '{before.path}': {len(kept)} of its entries could not be removed "
            f"(is it writable?), e.g. '{kept[0].name}'"
        )
    return CacheSummary(before.path, before.entries, removed_temps)


def remove_stale_temp_dirs(root: Path) -> list[Path]:
    """Remove temporary directories whose builder is gone (dead pid on this host, or old)."""
    removed = []
    for tmp in _temp_dirs(root):
        if _abandoned(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    return removed


def _checked_extension(entry: Path) -> Path | None:
    """The entry's extension if every file matches the manifest, else None."""
    try:
        manifest = json.loads((entry / MANIFEST).read_text())
        if manifest.get("format") != MANIFEST_FORMAT:
            return None
        for name, size in manifest["files"].items():
            if (entry / name).stat().st_size != size:
                return None
        so = entry / manifest["extension"]
        if _sha256(so) != manifest["sha256"]:
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return so


def _write_manifest(directory: Path, extension: str) -> None:
    files = {p.name: p.stat().st_size for p in sorted(directory.iterdir()) if p.is_file()}
    manifest = {
        "format": MANIFEST_FORMAT,
        "extension": extension,
        "sha256": _sha256(directory / extension),
        "files": files,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _discard(path: Path) -> None:
    """Remove an entry: first renamed out of the way (atomic), so no reader sees it half deleted."""
    trash = path.parent / f"{_temp_prefix()}{secrets.token_hex(4)}"
    try:
        path.rename(trash)
    except OSError:
        return  # already moved away by someone else
    if trash.is_dir() and not trash.is_symlink():
        shutil.rmtree(trash, ignore_errors=True)
    else:  # an entry name held by a regular file (or a link): no stray .tmp- file left behind
        trash.unlink(missing_ok=True)


@contextmanager
def _build_lock(root: Path, key: str) -> Iterator[None]:
    locks = root / LOCK_DIR
    try:
        locks.mkdir(exist_ok=True)
        fd = os.open(locks / key, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise LenetcError(f"cannot write to the build cache '{root}': {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _temp_prefix() -> str:
    return f"{TEMP_PREFIX}{socket.gethostname()}-{os.getpid()}-"


def _make_temp_dir(root: Path) -> Path:
    tmp = root / f"{_temp_prefix()}{secrets.token_hex(4)}"
    try:
        tmp.mkdir()
    except OSError as exc:
        raise LenetcError(f"cannot write to the build cache '{root}': {exc.strerror}") from None
    return tmp


def _abandoned(tmp: Path) -> bool:
    """Made on this host by a process that has exited, or older than :data:`STALE_AFTER_S`."""
    try:
        host, pid_text, _ = tmp.name[len(TEMP_PREFIX) :].rsplit("-", 2)
        pid, age = int(pid_text), time.time() - tmp.stat().st_mtime
    except (ValueError, OSError):
        return False
    if age > STALE_AFTER_S:
        return True
    return host == socket.gethostname() and pid != os.getpid() and not _pid_alive(pid)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


def _entry_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if KEY_RE.fullmatch(p.name) and p.is_dir())


def _temp_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return [p for p in root.iterdir() if p.name.startswith(TEMP_PREFIX) and p.is_dir()]


def _tree_bytes(path: Path) -> int:
    total = 0
    for dirpath, _, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total
