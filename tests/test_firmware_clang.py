"""The example firmware built with clang for bare-metal Arm (issue 28 item 6): ``make TARGET=cortex-m4
CC=clang`` and CMake with ``arm-none-eabi-clang.cmake``. clang compiles every object (checked in
its ``.comment``), the board's GCC links with newlib, and the firmware prints the host's
checksum: float32 bits and int8 outputs equal on both compilers."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from firmware_helpers import load, need_program, need_target

from lenetc.firmware.bundle import write_example
from lenetc.firmware.digits import synthetic_digits
from lenetc.firmware.run import parse_output


def _clang() -> str:
    return need_program("clang-19", "clang", package="clang")


def _compiled_by(obj) -> str:
    out = subprocess.run(["arm-none-eabi-readelf", "-p", ".comment", str(obj)], capture_output=True, text=True)
    return out.stdout


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_make_with_clang_prints_the_host_checksum(tmp_path, dtype):
    need_target("host")
    need_target("cortex-m4")
    clang = _clang()
    write_example(load("lenet5-keras"), tmp_path, dtype=dtype, digits=synthetic_digits(2), target="cortex-m4")
    sums = {}
    for target, cc in (("host", None), ("cortex-m4", clang)):
        cmd = ["make", "-s", "-C", str(tmp_path), f"TARGET={target}", "EXTRA_CFLAGS=-Werror", "run"]
        proc = subprocess.run([*cmd, f"CC={cc}"] if cc else cmd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "enums" not in proc.stderr  # newlib's short-enum ABI kept
        result = parse_output(target, 0, proc.stdout)
        assert result.ok, proc.stdout
        sums[target] = result.checksum
    assert sums["host"] is not None and sums["host"] == sums["cortex-m4"]
    for obj in ("main.o", "lenet5_keras.o", "startup.o"):
        assert "clang version" in _compiled_by(tmp_path / "build" / "cortex-m4" / obj)


def test_cmake_with_the_clang_toolchain_file(tmp_path):
    if shutil.which("cmake") is None:
        pytest.skip("cmake is not installed (apt-get install --no-install-recommends cmake)")
    need_target("cortex-m4")
    clang = _clang()
    write_example(load("lenet5-keras"), tmp_path, dtype="int8", digits=synthetic_digits(2), target="cortex-m4")
    build = tmp_path / "build-clang"
    for cmd in (["cmake", "-S", str(tmp_path), "-B", str(build), "-DLENETC_TARGET=cortex-m4",
                 "-DCMAKE_TOOLCHAIN_FILE=arm-none-eabi-clang.cmake", f"-DLENETC_CLANG={clang}"],
                ["cmake", "--build", str(build), "--target", "run"]):  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK" in proc.stdout and "checksum fnv1a32" in proc.stdout
    objects = list(build.rglob("*.c.obj"))
    assert objects and all("clang version" in _compiled_by(o) for o in objects)
