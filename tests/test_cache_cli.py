"""``lenetc cache`` and the CLI's answer to an unusable cache or a missing compiler, as a user sees it:
in a subprocess with a modified environment, one line ``lenetc: error: ...`` and exit 2."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: A command that compiles a model (and touches the cache only then).
VERIFY = ["verify", "lenet5-keras", "--weights", "random:1", "-n", "2", "--inputs", "random"]


def lenetc(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lenetc", *args], capture_output=True, text=True, env={**env, "PYTHONPATH": str(ROOT)}
    )


def base_env(**changes: str | None) -> dict[str, str]:
    env = dict(os.environ)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def assert_one_line_error(proc: subprocess.CompletedProcess, *phrases: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lenetc: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for phrase in phrases:
        assert phrase in lines[0], lines[0]


def test_cache_info_and_clear(tmp_path):
    cache = tmp_path / "cache"
    env = base_env(LENETC_CACHE=str(cache))
    info = lenetc("cache", "info", env=env)
    assert info.returncode == 0 and "not created yet" in info.stdout and not cache.exists()
    assert lenetc(*VERIFY, env=env).returncode == 0
    (cache / "keep-me.txt").write_text("not the cache's")
    on_disk = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file()) - len("not the cache's")
    info = lenetc("cache", "info", env=env)
    assert info.returncode == 0, info.stderr
    assert f"cache    {cache}" in info.stdout and "entries  1\n" in info.stdout
    assert f"bytes    {on_disk:,}" in info.stdout
    cleared = lenetc("cache", "clear", env=env)
    assert cleared.returncode == 0 and f"removed 1 entries, {on_disk:,} bytes" in cleared.stdout
    assert sorted(p.name for p in cache.iterdir()) == ["keep-me.txt"]
    assert "entries  0\n" in lenetc("cache", "info", env=env).stdout


def test_missing_cache_directory_is_created(tmp_path):
    cache = tmp_path / "not" / "yet" / "there"
    proc = lenetc(*VERIFY, env=base_env(LENETC_CACHE=str(cache)))
    assert proc.returncode == 0 and "PASS" in proc.stdout, proc.stderr
    assert len([p for p in cache.iterdir() if not p.name.startswith(".")]) == 1


def test_cache_that_is_a_regular_file(tmp_path):
    (tmp_path / "file").write_text("")
    env = base_env(LENETC_CACHE=str(tmp_path / "file"))
    assert_one_line_error(lenetc(*VERIFY, env=env), "is not a directory", str(tmp_path / "file"))
    assert_one_line_error(lenetc("cache", "info", env=env), "is not a directory")


@contextmanager
def read_only_dir(path: Path):
    """A directory nobody can write to: mode 0555, or, for root (who ignores modes), immutable."""
    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(0o755)
        return
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)]).returncode != 0:
        pytest.skip("running as root without chattr +i: no way to make a directory read-only")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.parametrize("where", ["the cache", "its parent"])
def test_read_only_cache(tmp_path, where):
    with read_only_dir(tmp_path / "ro") as ro:
        target = ro if where == "the cache" else ro / "sub"
        proc = lenetc(*VERIFY, env=base_env(LENETC_CACHE=str(target)))
        phrase = "is not writable" if where == "the cache" else "cannot create the build cache"
        assert_one_line_error(proc, str(target), phrase)
        assert list(ro.iterdir()) == []


@pytest.mark.parametrize("home", ["unset", "missing"])
def test_home_unset_or_missing(tmp_path, home):
    env = base_env(LENETC_CACHE=None, XDG_CACHE_HOME=None, HOME=None if home == "unset" else str(tmp_path / "gone"))
    assert_one_line_error(lenetc(*VERIFY, env=env), "HOME", "LENETC_CACHE")
    assert not (tmp_path / "gone").exists()
    # commands that do not compile do not need the cache
    assert lenetc("info", "lenet5", env=env).returncode == 0


def test_no_c_compiler_on_path(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    env = base_env(LENETC_CACHE=str(tmp_path / "cache"), PATH=str(empty), CC=None)
    assert_one_line_error(lenetc(*VERIFY, env=env), "no C compiler found", "install gcc or set CC")
    env["CC"] = "no-such-cc"
    assert_one_line_error(lenetc(*VERIFY, env=env), "'no-such-cc' (from $CC) not found")
