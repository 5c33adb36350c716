"""``lenetc size``: flash and RAM of a model measured on the cross-compiled object."""

from __future__ import annotations

import argparse
import json
import re

from ..api import generate, prepare
from ..firmware.bundle import supported_dtypes
from ..firmware.size import fit_measured, format_report, measure
from ..firmware.targets import TARGETS, get_target
from .int8 import add_int8_args, quantize_from_args
from .model_args import add_model_args, model_from_args, note_if_guessed


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "size",
        help="flash and RAM of a model on a microcontroller, measured by cross-compiling it",
        description="Compile the model's generated C for TARGET (arm-none-eabi-gcc for Cortex-M) and "
        "report flash (code + weights + data, from `size -A`) and RAM (static arena + data + the "
        "worst-case stack of <prefix>_run from -fstack-usage).",
    )
    add_model_args(p)
    p.add_argument(
        "--dtype", default="float32", choices=supported_dtypes(), help="weight/activation type (default float32)"
    )
    p.add_argument("--target", default="cortex-m4", choices=list(TARGETS), help="default cortex-m4")
    p.add_argument("--prefix", help="C symbol prefix (default: from the model name)")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")
    p.add_argument(
        "--flash", type=byte_count, metavar="BYTES", help="check the model fits this much flash (256K, 1M, 262144)"
    )
    p.add_argument("--ram", type=byte_count, metavar="BYTES", help="check the model fits this much RAM (32K, ...)")
    p.add_argument(
        "--ram-bytes",
        type=byte_count,
        metavar="N",
        help="plan for N bytes of RAM (arena + worst-case stack of <prefix>_run, measured on TARGET): "
        "the fastest stage modes that fit; refused, naming the smallest feasible N, when none does",
    )
    add_int8_args(p)
    p.set_defaults(func=run_size)


_BYTES = re.compile(r"([0-9]+) *([KkMm]i?[Bb]?|[Bb])?")


def byte_count(text: str) -> int:
    """``256K`` / ``256KiB`` / ``1M`` / ``262144`` / ``0x40000`` as bytes (K = 1024)."""
    t = text.strip()
    if t.lower().startswith("0x"):
        try:
            return int(t, 16)
        except ValueError:
            pass
    m = _BYTES.fullmatch(t)
    if not m:
        raise argparse.ArgumentTypeError(f"not a byte count: '{text}' (e.g. 262144, 256K, 1M)")
    unit = (m.group(2) or "b")[0].lower()
    return int(m.group(1)) * {"b": 1, "k": 1024, "m": 1024 * 1024}[unit]


def fit_lines(report, flash: int | None, ram: int | None) -> tuple[bool, list[str]]:
    """Whether the measured model fits the given budgets, and one line per budget."""
    ok, lines = True, []
    for what, used, budget in (("flash", report.flash, flash), ("RAM", report.ram, ram)):
        if budget is None:
            continue
        fits = used <= budget
        ok &= fits
        verdict = "fits" if fits else f"DOES NOT FIT, {used - budget:,} bytes over"
        lines.append(f"  {what:<7} {used:,} of {budget:,} bytes ({100 * used / budget:.1f} %): {verdict}")
    if lines:
        lines.append("  (the model's object only: add your firmware's code, C library and stack)")
    return ok, lines


def run_size(args: argparse.Namespace) -> int:
    net = model_from_args(args)
    note_if_guessed(net)
    target = get_target(args.target)
    model = quantize_from_args(net, args) if args.dtype == "int8" else net
    if args.ram_bytes is not None:
        gen = fit_measured(prepare(model, args.dtype), args.ram_bytes, target, args.prefix)
    else:
        gen = generate(model, prefix=args.prefix, dtype=args.dtype, target=target.dialect)
    report = measure(gen, target=target)
    ok, lines = fit_lines(report, args.flash, args.ram)
    if args.json:
        doc = report.to_dict()
        doc["dialect"] = gen.plan.dialect.name
        # the same memory report as info --json; the stack here is the one measured on TARGET
        doc["memory"] = {"dialect": gen.plan.dialect.name, **gen.memory.to_dict()}
        doc["memory"]["stack_bytes"] = report.stack if report.stack_bounded else None
        if args.flash is not None or args.ram is not None:
            doc["budget"] = {"flash": args.flash, "ram": args.ram, "fits": ok}
        print(json.dumps(doc))
    else:
        print(format_report(report))
        print(stage_lines(gen))
        for line in lines:
            print(line)
    return 0 if ok else 1


def stage_lines(gen) -> str:
    """One line per stage: its mode, bytes and recomputed MACs; then the caller's buffers."""
    mem = gen.memory
    rows = [f"  stage {s.layer:<10} {s.mode:<7} in {s.in_bytes:>6,} out {s.out_bytes:>6,} "
            f"scratch {s.scratch_bytes:>6,} recomputed MACs {s.recompute_macs}" for s in mem.stages]  # fmt: skip
    budget = f", planned for --ram-bytes {mem.ram_budget:,}" if mem.ram_budget is not None else ""
    rows.append(f"  caller's buffers beside RAM: input {mem.input_bytes:,} B, output {mem.output_bytes:,} B{budget}")
    return "\n".join(rows)
