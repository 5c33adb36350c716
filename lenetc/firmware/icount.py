"""Deterministic instruction counts per inference on emulated Cortex-M and RISC-V cores.

The example firmware reads SysTick around each ``<prefix>_run``. Under QEMU with
``-icount shift=0`` every guest instruction advances virtual time by exactly 1 ns, and
SysTick runs at the board's core clock, so one tick is ``1e9 / clock`` instructions
(40 on the 25 MHz MPS2 boards, 31.25 on the 32 MHz AN547). On RISC-V it reads ``minstret``,
which then counts exactly one per instruction. Counts are the same on every run and every
host; the resolution is one tick.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..api import Model
from ..errors import LenetcError
from .bundle import write_example
from .make_args import check_opt
from .run import build_and_run
from .targets import Target, get_target


@dataclass(frozen=True)
class InstructionCount:
    """Instructions per inference of one model on one emulated core."""

    model: str
    dtype: str
    target: str
    opt: str
    macs: int
    ticks: tuple[int, ...]  # one per embedded digit
    instructions_per_tick: float

    @property
    def instructions(self) -> float:
        """Mean over the digits (the dense kernels skip zero inputs, so counts vary a little)."""
        return sum(self.ticks) / len(self.ticks) * self.instructions_per_tick

    @property
    def per_mac(self) -> float:
        return self.instructions / self.macs


def count_instructions(
    model: Model,
    dtype: str | None = None,
    target: str | Target = "cortex-m4",
    digits=None,
    opt: str = "-O2",
    calibration=None,
    work_dir=None,
    ram_bytes: int | None = None,
) -> InstructionCount:
    """Build the example for ``target`` with optimisation ``opt`` (the Makefile's OPT), run it
    under ``-icount shift=0`` and count; ``ram_bytes`` plans the model for that RAM budget."""
    opt = check_opt(opt)
    t = target if isinstance(target, Target) else get_target(target)
    if t.kind != "baremetal" or not t.counter:
        raise LenetcError(f"instruction counting needs a bare-metal target with a counter, not '{t.name}'")
    with tempfile.TemporaryDirectory(prefix="lenetc-icount-", dir=work_dir) as tmp:
        bundle = write_example(model, Path(tmp), dtype=dtype, digits=digits, target=t.name, calibration=calibration,
                                ram_bytes=ram_bytes)  # fmt: skip
        result = build_and_run(bundle, t, icount=True, make_vars={"OPT": opt})
    if not result.ok or not result.ticks:
        raise LenetcError(f"the example for '{t.name}' failed (status {result.returncode}):\n{result.stdout[-800:]}")
    net = bundle.generated.plan.net
    macs = net.totals()["macs"]
    return InstructionCount(
        net.name, bundle.generated.plan.dtype, t.name, opt, macs, tuple(result.ticks), t.instructions_per_tick()
    )
