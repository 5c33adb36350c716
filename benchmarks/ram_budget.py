"""Issue 14's table: RAM (arena + worst-case stack of <P>_run, measured on the Cortex-M4 object)
and flash of each zoo net, fastest plan and at the issue's budget, with the instructions per
inference on the emulated M4 (QEMU -icount) of both plans.

    python benchmarks/ram_budget.py [--no-icount]
"""

from __future__ import annotations

import sys

import lenetc
from lenetc.api import prepare
from lenetc.firmware.icount import count_instructions
from lenetc.firmware.size import fit_measured, measure

GOALS = [("lenet5", "int8", 3072), ("lenet5-keras", "int8", 3072), ("lenet-caffe", "int8", 6144),
         ("lenet-keras", "int8", 8192), ("lenet5", "float32", 8192)]  # fmt: skip


def main() -> None:
    icount = "--no-icount" not in sys.argv
    print("| model | dtype | budget | plan | modes | arena | stack | RAM | flash | recomputed MACs | instr/inference |")
    print("|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|")
    for name, dtype, budget in GOALS:
        model = prepare(lenetc.load(name), dtype)
        rows = [("fastest", lenetc.generate(model, target="cortex-m-dsp"), None),
                ("budget", fit_measured(model, budget, "cortex-m4"), budget)]  # fmt: skip
        base = None
        for label, gen, ram in rows:
            r = measure(gen, "cortex-m4")
            modes = ",".join(f"{s.layer}:{s.mode}" for s in gen.memory.stages if s.mode != "whole") or "-"
            ins = ""
            if icount:
                n = count_instructions(model, target="cortex-m4", ram_bytes=ram).instructions
                base = n if base is None else base
                ins = f"{n:,.0f} ({(n / base - 1) * 100:+.1f} %)"
            print(f"| {name} | {dtype} | {budget:,} | {label} | {modes} | {r.bss:,} | {r.stack:,} | {r.ram:,} | "
                  f"{r.flash:,} | {gen.memory.recompute_macs} | {ins} |")  # fmt: skip


if __name__ == "__main__":
    main()
