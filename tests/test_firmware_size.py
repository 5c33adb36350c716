"""`lenetc size` (flash/RAM from the cross-compiled object) and instruction counting under
QEMU -icount (calibrated against a loop of known length)."""

from __future__ import annotations

import argparse
import json
import subprocess

import pytest
from firmware_helpers import load, need_target

from lenetc import generate
from lenetc.codegen import Symbols, make_plan
from lenetc.commands import firmware as firmware_cmd
from lenetc.errors import LenetcError
from lenetc.firmware import write_example
from lenetc.firmware.digits import synthetic_digits
from lenetc.firmware.icount import count_instructions
from lenetc.firmware.run import build_and_run, run
from lenetc.firmware.size import measure, stack_usage
from lenetc.firmware.targets import COMMON_CFLAGS, TARGETS


def test_stack_usage_adds_run_run_ws_and_the_deepest_kernel():
    su = (
        "net.c:10:13:net_conv1\t48\tstatic\n"
        "net.c:40:13:net_fc1\t96\tstatic\n"
        "net.c:90:5:net_run_ws\t40\tstatic\n"
        "net.c:99:5:net_run\t8\tstatic\n"
        "net.c:120:5:net_run_batch\t500\tstatic\n"
    )
    assert stack_usage(su, Symbols("net")) == (8 + 40 + 96, True)
    assert stack_usage(su + "net.c:1:1:net_x\t16\tdynamic\n", Symbols("net"))[1] is False
    with pytest.raises(LenetcError, match="run_ws"):
        stack_usage("net.c:1:1:other\t8\tstatic\n", Symbols("net"))


def test_size_of_lenet5_keras_on_cortex_m4():
    need_target("cortex-m4")
    net = load("lenet5-keras")
    r = measure(generate(net), target="cortex-m4")
    # weights: 61,706 float32 parameters (lenet-architectures.md), nothing else read-only
    assert r.weights == 61_706 * 4
    assert r.bss == make_plan(net).arena_bytes  # the static arena of lenet5_keras_run
    assert 500 < r.code < 16_000 and r.data == 0
    assert 0 < r.stack < 2048 and r.stack_bounded
    assert r.flash == r.code + r.weights and r.ram == r.bss + r.stack


def test_size_command_json(capsys):
    need_target("cortex-m4")
    parser = argparse.ArgumentParser()
    firmware_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["size", "lenet5", "--target", "cortex-m4", "--json"])
    assert args.func(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["target"] == "cortex-m4" and report["flash"] > report["weights"] > 60_000 * 4


def test_static_stack_bound_covers_the_measured_stack(tmp_path):
    need_target("cortex-m4")
    net = load("lenet5")
    bundle = write_example(net, tmp_path, digits=synthetic_digits(1))
    measured = build_and_run(bundle, "cortex-m4").stack_bytes
    bound = measure(generate(net), target="cortex-m4").stack
    # the firmware's high-water mark is read from the SP at the call (the callees' stack only):
    # the call-tree bound (libm's floorf counted with EXTERNAL_CALL_BYTES) covers it, tightly
    assert measured is not None and measured <= bound <= measured + 64


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m33", "cortex-m55", "cortex-m0"])
def test_systick_under_icount_counts_instructions(tmp_path, target):
    """A loop of exactly 2 instructions per iteration: ticks * instructions/tick == 2 n."""
    need_target(target)
    t = TARGETS[target]
    write_example(load("lenet5-keras"), tmp_path, digits=synthetic_digits(1))
    (tmp_path / "spin.c").write_text(
        "#include <stdint.h>\n#include <stdio.h>\n"
        "#define CVR (*(volatile uint32_t *)0xE000E018u)\n"
        "int main(void) {\n"
        "    uint32_t n = 200000u, a, b;\n"
        "    *(volatile uint32_t *)0xE000E014u = 0xFFFFFFu; CVR = 0u; *(volatile uint32_t *)0xE000E010u = 5u;\n"
        "    a = CVR;\n"
        '    __asm__ volatile(".syntax unified\\n1: subs %0, %0, #1\\n\\tbne 1b" : "+r"(n));\n'
        "    b = CVR;\n"
        '    printf("ticks 0: %lu\\nchecksum fnv1a32 00000000\\nOK\\n", (unsigned long)((a - b) & 0xFFFFFFu));\n'
        "    return 0;\n}\n"
    )
    exe = tmp_path / "spin.elf"
    cmd = [t.cc, *COMMON_CFLAGS, *t.cpu_flags, "spin.c", "startup.c", "-o", str(exe), *t.ldflags,
           f"-Tlink_{target}.ld", f"-Wl,--defsym=__flash_length={t.flash.length}",
           f"-Wl,--defsym=__ram_length={t.ram.length}"]  # fmt: skip
    subprocess.run(cmd, cwd=tmp_path, check=True)
    ticks = run(exe, target, icount=True).ticks[0]
    assert abs(ticks * t.instructions_per_tick() - 2 * 200000) <= 2 * t.instructions_per_tick()


def test_instruction_counts_are_deterministic():
    need_target("cortex-m4")
    net = load("lenet5-keras")
    a = count_instructions(net, target="cortex-m4", digits=synthetic_digits(2, seed=1))
    b = count_instructions(net, target="cortex-m4", digits=synthetic_digits(2, seed=1))
    assert a.ticks == b.ticks and a.macs == 416_520
    assert 1.0 < a.per_mac < 30.0
