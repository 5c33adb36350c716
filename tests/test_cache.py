"""The build cache on its own, with stand-in builds: where it lives, publishing, checking, cleaning.

Each stand-in build writes a file of known bytes; the tests corrupt entries the way a crash
or a full disk does and check that the cache notices and rebuilds, and that it never removes
anything it did not create.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lenetc import cache
from lenetc.errors import LenetcError

PAYLOAD = bytes(range(256)) * 64  # 16 KiB stand-in for an extension


class CountingBuild:
    """A build that writes ``ext.so`` (PAYLOAD) and ``src.c``, counting its calls."""

    def __init__(self, delay: float = 0.0, fail: bool = False):
        self.calls, self.delay, self.fail = 0, delay, fail
        self.lock = threading.Lock()

    def __call__(self, directory: Path) -> Path:
        with self.lock:
            self.calls += 1
        (directory / "src.c").write_text("int x;\n")
        time.sleep(self.delay)
        if self.fail:
            raise LenetcError("stand-in build failed")
        (directory / "ext.so").write_bytes(PAYLOAD)
        return directory / "ext.so"


KEY = cache.make_key("test", "entry")


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("LENETC_CACHE", str(tmp_path / "c"))
    return tmp_path / "c"


def test_cache_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("LENETC_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache.cache_dir() == tmp_path / ".cache" / "lenetc"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "lenetc"
    monkeypatch.setenv("LENETC_CACHE", str(tmp_path / "mine"))
    assert cache.cache_dir() == tmp_path / "mine"


@pytest.mark.parametrize("home", [None, "missing"])
def test_unusable_home_is_one_clear_error(tmp_path, monkeypatch, home):
    monkeypatch.delenv("LENETC_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    if home is None:
        monkeypatch.delenv("HOME", raising=False)
    else:
        monkeypatch.setenv("HOME", str(tmp_path / home))
    with pytest.raises(LenetcError, match="HOME.*LENETC_CACHE"):
        cache.ensure_cache_dir()
    assert list(tmp_path.iterdir()) == []  # no home directory invented


def test_missing_cache_dir_is_created_and_a_file_is_refused(root):
    assert cache.ensure_cache_dir() == root and root.is_dir()
    root.rmdir()
    root.write_text("not a directory")
    with pytest.raises(LenetcError, match="is not a directory"):
        cache.ensure_cache_dir()
    with pytest.raises(LenetcError, match="is not a directory"):
        cache.summary()


def test_entry_is_built_once_then_reused(root):
    build = CountingBuild()
    first = cache.extension_path(KEY, build)
    assert first == root / KEY / "ext.so" and first.read_bytes() == PAYLOAD
    manifest = json.loads((root / KEY / cache.MANIFEST).read_text())
    assert manifest["files"] == {"ext.so": len(PAYLOAD), "src.c": 7}
    assert cache.extension_path(KEY, build) == first and build.calls == 1
    assert [p.name for p in root.iterdir() if p.name.startswith(cache.TEMP_PREFIX)] == []


@pytest.mark.parametrize(
    "damage",
    ["truncate", "flip a byte", "delete the extension", "delete the manifest", "delete a source", "bad manifest"],
)
def test_damaged_entry_is_rebuilt(root, damage):
    build = CountingBuild()
    so = cache.extension_path(KEY, build)
    if damage == "truncate":
        os.truncate(so, len(PAYLOAD) // 2)
    elif damage == "flip a byte":
        so.write_bytes(b"\xff" + PAYLOAD[1:])  # same size: only the SHA-256 tells
    elif damage == "delete the extension":
        so.unlink()
    elif damage == "delete the manifest":
        (root / KEY / cache.MANIFEST).unlink()
    elif damage == "delete a source":
        (root / KEY / "src.c").unlink()
    else:
        (root / KEY / cache.MANIFEST).write_text("{not json")
    assert [e.valid for e in cache.summary().entries] == [False]
    assert cache.extension_path(KEY, build).read_bytes() == PAYLOAD
    assert build.calls == 2
    assert [e.valid for e in cache.summary().entries] == [True]


def test_failed_build_leaves_nothing(root):
    with pytest.raises(LenetcError, match="stand-in build failed"):
        cache.extension_path(KEY, CountingBuild(fail=True))
    assert sorted(p.name for p in root.iterdir()) == [cache.LOCK_DIR]


def test_threads_building_one_key_build_it_once(root):
    build = CountingBuild(delay=0.2)
    with ThreadPoolExecutor(8) as pool:
        paths = list(pool.map(lambda _: cache.extension_path(KEY, build), range(8)))
    assert build.calls == 1 and len(set(paths)) == 1 and paths[0].read_bytes() == PAYLOAD


def _temp_dir(root: Path, pid: int, host: str | None = None) -> Path:
    d = root / f"{cache.TEMP_PREFIX}{host or socket.gethostname()}-{pid}-0123abcd"
    d.mkdir(parents=True)
    (d / "half-written.c").write_text("int")
    return d


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temp_dirs_of_dead_builders_are_removed_on_the_next_build(root):
    dead = _temp_dir(root, _dead_pid())
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        running = _temp_dir(root, sleeper.pid)
        other_host = _temp_dir(root, _dead_pid(), host="elsewhere")
        ancient = _temp_dir(root, sleeper.pid, host="elsewhere.too")
        old = time.time() - cache.STALE_AFTER_S - 60
        os.utime(ancient, (old, old))
        cache.extension_path(KEY, CountingBuild())
        assert not dead.exists() and not ancient.exists()
        assert running.exists() and other_host.exists()  # a live build, and one we cannot judge yet
    finally:
        sleeper.kill()
        sleeper.wait()


def test_clear_removes_only_what_the_cache_made(root):
    cache.extension_path(KEY, CountingBuild())
    cache.extension_path(cache.make_key("other"), CountingBuild())
    dead = _temp_dir(root, _dead_pid())
    (root / "notes.txt").write_text("mine")
    (root / "project").mkdir()
    (root / "0123456789abcdef0123extra").mkdir()  # not a key: 26 characters
    found = cache.summary()
    assert len(found.entries) == 2 and found.temp_dirs == [dead]
    assert found.bytes == 2 * (len(PAYLOAD) + 7 + (root / KEY / cache.MANIFEST).stat().st_size) + 3
    removed = cache.clear()
    assert len(removed.entries) == 2 and removed.temp_dirs == [dead]
    assert sorted(p.name for p in root.iterdir()) == ["0123456789abcdef0123extra", "notes.txt", "project"]
    assert cache.summary().entries == []


def test_the_suite_never_uses_the_users_cache():
    """conftest points every worker at one temporary cache (or LENETC_TEST_CACHE), not ~/.cache."""
    used = Path(os.environ["LENETC_CACHE"]).resolve()
    assert os.environ.get("LENETC_TEST_CACHE") or used.is_relative_to(Path(tempfile.gettempdir()).resolve())
    assert not used.is_relative_to(Path.home() / ".cache")


def test_disk_errors_during_a_build_are_one_clear_error(root):
    def full_disk(directory: Path) -> Path:
        raise OSError(28, "No space left on device")

    with pytest.raises(LenetcError, match="No space left on device"):
        cache.extension_path(KEY, full_disk)
    assert sorted(p.name for p in root.iterdir()) == [cache.LOCK_DIR]
