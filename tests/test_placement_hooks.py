"""``<P>_WEIGHTS_ATTR`` / ``<P>_ARENA_ATTR``: every constant array and the static arena go where the
user's attribute says, and the example's linker script places them (checked on the linked image)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from firmware_helpers import load, need_target

import lenetc
from lenetc.firmware.bundle import write_example
from lenetc.firmware.digits import synthetic_digits
from lenetc.firmware.run import parse_output
from lenetc.firmware.targets import get_target

CTYPE_BYTES = {"float": 4, "int": 4, "int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4}


def _sections(tool: str, obj) -> dict[str, tuple[int, int]]:
    """``{section: (size, address)}`` from ``size -A``."""
    out = subprocess.run([tool, "-A", str(obj)], capture_output=True, text=True, check=True).stdout
    return {m.group(1): (int(m.group(2)), int(m.group(3))) for m in re.finditer(r"^(\S+)\s+(\d+)\s+(\d+)$", out, re.M)}


def _symbol_bytes(obj, section: str) -> int:
    """Bytes of the objects the compiler put in ``section`` (alignment padding not counted)."""
    out = subprocess.run(["objdump", "-t", str(obj)], capture_output=True, text=True, check=True).stdout
    return sum(int(m.group(1), 16) for m in re.finditer(rf"\s{re.escape(section)}\s+([0-9a-f]+)\s+\w+$", out, re.M))


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_attributes_move_every_constant_and_the_arena(tmp_path, dtype):
    """Compiled with the hooks set, .rodata keeps nothing of the model's and the named sections hold
    exactly the plan's constant bytes and its static arena."""
    model = lenetc.load("lenet5")
    gen = lenetc.generate(model, tmp_path, dtype=dtype)
    pu = gen.symbols.macro
    obj = tmp_path / "m.o"
    flags = [f"-D{pu}_WEIGHTS_ATTR=__attribute__((section(\".qspi_weights\")))",
             f"-D{pu}_ARENA_ATTR=__attribute__((section(\".dtcm_arena\")))"]  # fmt: skip
    cc = shutil.which("gcc") or pytest.skip("gcc is not installed")
    subprocess.run([cc, "-std=c99", "-O2", "-c", *flags, str(tmp_path / gen.symbols.source), "-o", str(obj)],
                   check=True)  # fmt: skip
    sections = _sections("size", obj)
    # every static const array the C declares, sized from its declaration
    declared = re.findall(r"^static const (\w+) \w+\[(\d+)\]", gen.files[gen.symbols.source], re.M)
    assert declared
    assert _symbol_bytes(obj, ".qspi_weights") == sum(CTYPE_BYTES[t] * int(n) for t, n in declared)
    assert _symbol_bytes(obj, ".qspi_weights") >= gen.memory.weight_bytes
    assert sections.get(".rodata", (0, 0))[0] < 1024  # only the kernels' literals stay there
    assert sections[".dtcm_arena"][0] >= gen.memory.arena_bytes
    # without the hooks nothing moves: both macros are empty by default
    subprocess.run([cc, "-std=c99", "-O2", "-c", str(tmp_path / gen.symbols.source), "-o", str(obj)], check=True)
    assert ".qspi_weights" not in _sections("size", obj)


def test_example_places_weights_in_flash_and_arena_in_ram(tmp_path):
    need_target("cortex-m4")
    write_example(load("lenet5-keras"), tmp_path, dtype="int8", digits=synthetic_digits(2), target="cortex-m4")
    proc = subprocess.run(["make", "-s", "-C", str(tmp_path), "TARGET=cortex-m4", "run"], capture_output=True,
                          text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert parse_output("cortex-m4", 0, proc.stdout).ok
    elf = next((tmp_path / "build" / "cortex-m4").glob("*_example"))
    sections = _sections("arm-none-eabi-size", elf)
    board = get_target("cortex-m4")
    flash, ram = board.flash.origin, board.ram.origin
    size, addr = sections[".model_weights"]
    assert size > 60_000 and flash <= addr < ram
    size, addr = sections[".model_arena"]
    assert size > 0 and addr >= ram
