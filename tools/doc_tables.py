"""The deterministic figures of README.md and docs/, computed here and nowhere typed by hand.

    PYTHONPATH=. python tools/doc_tables.py            # rewrite every table in place
    PYTHONPATH=. python tools/doc_tables.py --check    # exit 1, printing the differences, if one is stale
    PYTHONPATH=. python tools/doc_tables.py --only icount accuracy

A table lives between ``<!-- table:NAME -->`` and ``<!-- /table:NAME -->`` in any Markdown file of
README.md and docs/. Every figure here is deterministic on the project's toolchain (Debian 12's
GCC 12 and QEMU 7.2): flash, RAM, arena and stack bound from the cross-compiled object,
instructions per MAC under QEMU ``-icount shift=0``, accuracies of the compiled C on all 10,000
MNIST test digits, the confidence fits. Host timings are noisy and are not here: the tables that
carry them say the machine and the date they were measured on. tests/test_doc_tables.py runs
``--check``.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import lenetc  # noqa: E402
from lenetc import datasets  # noqa: E402
from lenetc.api import prepare  # noqa: E402
from lenetc.firmware.digits import synthetic_digits  # noqa: E402
from lenetc.firmware.icount import count_instructions  # noqa: E402
from lenetc.firmware.size import fit_measured, measure  # noqa: E402
from lenetc.reference import predict_classes  # noqa: E402

ZOO4 = ("lenet5", "lenet-caffe", "lenet-keras", "lenet5-keras")
ZOO5 = ("lenet5", "lenet5-softmax", "lenet-caffe", "lenet-keras", "lenet5-keras")
DTYPES = ("float32", "int8")
#: Boards whose instruction counts the README shows (bare metal, counted under -icount).
ICOUNT_TARGETS = ("cortex-m4", "cortex-m55", "riscv32-v")
#: ARM's CMSIS-NN int8 kernels, instructions per MAC, measured by the project with the same method
#: (shared notes: GCC 12 -O2, one inference); "lenet5-keras" is CMSIS-NN's LeNet-5 with a dense C3.
CMSIS_NN = {"lenet-caffe": "2.41 / 0.53", "lenet5-keras": "5.23 / 1.99"}
#: The RAM budgets of the planner's table (issue 14's goals).
RAM_GOALS = (("lenet5", "int8", 3072), ("lenet5-keras", "int8", 3072), ("lenet-caffe", "int8", 6144),
             ("lenet-keras", "int8", 8192), ("lenet5", "float32", 8192))  # fmt: skip

_MARK = re.compile(r"(<!-- table:([\w-]+) -->\n)(.*?)(<!-- /table:\2 -->)", re.S)


def _models(names) -> dict[str, dict[str, object]]:
    """Each zoo net as float32 Network and int8 QuantizedNetwork (calibrated as the CLI does)."""
    out = {}
    for name in names:
        net = lenetc.load(name)
        out[name] = {"float32": net, "int8": prepare(net, "int8")}
    return out


def accuracy() -> list[str]:
    rows = ["| model | float32 C | int8 C | drop (points) |", "|---|---:|---:|---:|"]
    for name, models in _models(ZOO5).items():
        net = models["float32"]
        x, labels = datasets.mnist_inputs(net, None, "test")
        correct = {dt: int((predict_classes(net, lenetc.compile(m)(x)) == labels).sum()) for dt, m in models.items()}
        drop = (correct["float32"] - correct["int8"]) / len(labels) * 100
        rows.append(f"| {name} | {correct['float32'] / 100:.2f} % | {correct['int8'] / 100:.2f} % | {drop:+.2f} |")
    return rows


def firmware_size() -> list[str]:
    rows = [
        "| model | dtype | flash | code | weights | RAM | arena | stack |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    models = _models(ZOO4)
    for dtype in DTYPES:
        for name in ZOO4:
            r = measure(lenetc.generate(models[name][dtype], target="cortex-m-dsp"), "cortex-m4")
            rows.append(f"| {name} | {dtype} | {r.flash:,} | {r.code:,} | {r.weights:,} | {r.ram:,} | {r.bss:,} | "
                        f"{r.stack:,} |")  # fmt: skip
    return rows


def icount() -> list[str]:
    digits = synthetic_digits(1, seed=5)
    head = " | ".join(f"{t} -O2" for t in ICOUNT_TARGETS)
    rows = [f"| model | MACs | dtype | {head} | CMSIS-NN int8 M4 / M55 |",
            "|---|---:|---|" + "---:|" * len(ICOUNT_TARGETS) + "---:|"]  # fmt: skip
    models = _models(ZOO4)
    for dtype in DTYPES:
        for name in ZOO4:
            counts = [count_instructions(models[name][dtype], target=t, digits=digits) for t in ICOUNT_TARGETS]
            cells = " | ".join(f"{c.per_mac:.2f}" for c in counts)
            cmsis = CMSIS_NN.get(name, "") if dtype == "int8" else ""
            rows.append(f"| {name} | {counts[0].macs:,} | {dtype} | {cells} | {cmsis} |")
    return rows


def ram_budget() -> list[str]:
    rows = ["| model | dtype | budget | modes at the budget | arena | stack | RAM | instructions vs fastest |",
            "|---|---|---:|---|---:|---:|---:|---:|"]  # fmt: skip
    digits = synthetic_digits(1, seed=5)
    for name, dtype, budget in RAM_GOALS:
        model = prepare(lenetc.load(name), dtype)
        gen = fit_measured(model, budget, "cortex-m4")
        r = measure(gen, "cortex-m4")
        modes = ", ".join(s.mode.replace("-narrow", " (narrow)") for s in gen.memory.stages if s.mode != "whole")
        fast = count_instructions(model, target="cortex-m4", digits=digits).instructions
        planned = count_instructions(model, target="cortex-m4", digits=digits, ram_bytes=budget).instructions
        rows.append(f"| {name} | {dtype} | {budget:,} | {modes} | {r.bss:,} | {r.stack:,} | {r.ram:,} | "
                    f"{round((planned / fast - 1) * 100, 1) + 0.0:+.1f} % |")  # fmt: skip
    return rows


def confidence() -> list[str]:
    from lenetc.confidence import calibration_for, measure_on_test

    rows = ["| model | T | reject if p < | ECE, T = 1 | ECE, calibrated | false-reject rate on test digits | "
            "accuracy: all / accepted |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name in ZOO5:
        net = lenetc.load(name)
        cal = calibration_for(net)
        m = measure_on_test(net, cal, None)
        why = ", ".join(f"{k} {v}" for k, v in sorted(m.rejected_by.items())) or "none"
        rows.append(f"| {name} | {cal.temperature:.3f} | {cal.min_confidence:.3f} | {m.ece_uncalibrated:.4f} | "
                    f"{m.ece:.4f} | {100 * m.false_reject_rate:.2f} % ({why}) | "
                    f"{100 * m.accuracy:.2f} % / {100 * m.accepted_accuracy:.2f} % |")  # fmt: skip
    return rows


def int8_memory() -> list[str]:
    rows = ["| model | flash float32 | flash int8 | arena float32 | arena int8 | int8 liveness bound |",
            "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, models in _models(ZOO5).items():
        f, q = (lenetc.generate(models[dt]).memory for dt in DTYPES)
        rows.append(f"| {name} | {f.weight_bytes:,} | {q.weight_bytes:,} | {f.arena_bytes:,} | {q.arena_bytes:,} | "
                    f"{q.arena_lower_bound:,} |")  # fmt: skip
    return rows


TABLES: dict[str, Callable[[], list[str]]] = {
    "accuracy": accuracy,
    "int8-memory": int8_memory,
    "firmware-size": firmware_size,
    "icount": icount,
    "ram-budget": ram_budget,
    "confidence": confidence,
}


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def render(only: set[str] | None = None) -> dict[Path, tuple[str, str]]:
    """{file: (text now, text with its tables recomputed)} for the files that hold tables."""
    computed: dict[str, str] = {}
    out = {}
    for path in documents():
        text = path.read_text(encoding="utf-8")

        def table(m: re.Match, where: str = path.name) -> str:
            name = m.group(2)
            if name not in TABLES:
                raise SystemExit(f"{where}: unknown table '{name}' (known: {', '.join(TABLES)})")
            if only is not None and name not in only:
                return m.group(0)
            if name not in computed:
                computed[name] = "\n".join(TABLES[name]()) + "\n"
            return m.group(1) + computed[name] + m.group(4)

        new = _MARK.sub(table, text)
        if _MARK.search(text):
            out[path] = (text, new)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if a table is stale")
    parser.add_argument("--only", nargs="+", choices=list(TABLES), help="these tables only")
    args = parser.parse_args(argv)
    stale = 0
    for path, (old, new) in render(set(args.only) if args.only else None).items():
        if old == new:
            continue
        stale += 1
        if args.check:
            rel = path.relative_to(ROOT)
            sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True), str(rel), str(rel)))
        else:
            path.write_text(new, encoding="utf-8")
            print(f"updated {path.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
