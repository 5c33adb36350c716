"""The example's build files (issue 11 items 1 and 5): the link depends on the memory sizes,
and CMake has a `run` target, aarch64-linux, the bundle's default target, and a working
alternative toolchain line."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from firmware_helpers import load, need_target

from lenetc.firmware import write_example
from lenetc.firmware.digits import synthetic_digits
from lenetc.firmware.run import parse_output


def _make(d, *args):
    return subprocess.run(["make", "-C", str(d), *args], capture_output=True, text=True)


def test_make_relinks_when_memory_sizes_change(tmp_path):
    """The README's order: `make TARGET=cortex-m4 run`, then the same with a part's sizes. It used
    to say "Nothing to be done" (exit 0, a false "it fits"); now it relinks and the link fails."""
    need_target("cortex-m4")
    write_example(load("lenet5"), tmp_path, digits=synthetic_digits(2))
    assert _make(tmp_path, "TARGET=cortex-m4", "run").returncode == 0
    small = _make(tmp_path, "TARGET=cortex-m4", "FLASH_LENGTH=262144", "RAM_LENGTH=32768")
    assert small.returncode != 0
    assert "overflowed" in small.stderr, small.stdout + small.stderr
    assert _make(tmp_path, "TARGET=cortex-m4", "FLASH_LENGTH=262144", "RAM_LENGTH=32768").returncode != 0
    again = _make(tmp_path, "TARGET=cortex-m4")  # back to the board's sizes: links again
    assert again.returncode == 0 and "arm-none-eabi-gcc" in again.stdout, again.stderr
    same = _make(tmp_path, "TARGET=cortex-m4")
    assert same.returncode == 0 and "Nothing to be done" in same.stdout  # nothing changed: no relink
    # another OPT: each of the three sources compiled once, the image linked once
    rebuilt = _make(tmp_path, "TARGET=cortex-m4", "OPT=-O3").stdout.splitlines()
    assert sum(" -c " in line for line in rebuilt) == 3
    assert sum("-o build/cortex-m4/lenet5_example" in line for line in rebuilt) == 1


def _cmake(src, build, *defs):
    for cmd in (
        ["cmake", "-S", str(src), "-B", str(build), *defs],
        ["cmake", "--build", str(build), "--target", "run"],
    ):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            return proc
    return proc


@pytest.fixture
def cmake_bundle(tmp_path):
    if shutil.which("cmake") is None:
        pytest.skip("cmake is not installed (apt-get install --no-install-recommends cmake)")
    write_example(load("lenet5-keras"), tmp_path, digits=synthetic_digits(2), target="cortex-m55")
    return tmp_path


def _checksum(target: str, stdout: str) -> str | None:
    return parse_output(target, 0, stdout).checksum


def test_cmake_run_target_default_and_every_kind_of_target(cmake_bundle):
    need_target("cortex-m55")
    need_target("aarch64-linux")
    d = cmake_bundle
    text = (d / "CMakeLists.txt").read_text()
    assert 'set(LENETC_TARGET "cortex-m55"' in text
    sums = {}
    # no -D at all: the bundle's target, its toolchain file picked automatically, run under QEMU
    default = _cmake(d, d / "b-default")
    assert default.returncode == 0, default.stdout + default.stderr
    assert "OK" in default.stdout
    sums["default"] = _checksum("cortex-m55", default.stdout)
    for target in ("host", "aarch64-linux", "cortex-m4"):
        proc = _cmake(d, d / f"b-{target}", f"-DLENETC_TARGET={target}")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        sums[target] = _checksum(target, proc.stdout)
    assert len(set(sums.values())) == 1 and None not in sums.values(), sums


def test_cmake_alternative_toolchain_line_works(cmake_bundle):
    need_target("cortex-m4")
    d = cmake_bundle
    line = next(li for li in (d / "CMakeLists.txt").read_text().splitlines() if "-DCMAKE_C_COMPILER=" in li)
    command = line.lstrip("#").strip()
    assert command.startswith("cmake -S . -B build-m4 ")
    proc = subprocess.run(command, shell=True, capture_output=True, text=True, cwd=d)  # exactly as documented
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = subprocess.run(["cmake", "--build", str(d / "build-m4"), "--target", "run"], capture_output=True, text=True)
    assert run.returncode == 0 and "OK" in run.stdout, run.stdout + run.stderr


def test_cmake_relinks_when_memory_sizes_change(cmake_bundle):
    need_target("cortex-m4")
    d = cmake_bundle
    ok = _cmake(d, d / "b", "-DLENETC_TARGET=cortex-m4")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    small = _cmake(d, d / "b", "-DFLASH_LENGTH=65536", "-DRAM_LENGTH=32768")
    assert small.returncode != 0 and re.search("overflowed", small.stdout + small.stderr)
