"""Per-layer instruction profile of a model on an emulated Cortex-M or RISC-V core (``lenetc profile``).

The example firmware is built twice: plain (the whole-inference count every goal is read from)
and with the model's probe hook ``<P>_PROBE(i)`` (upper-case prefix) pointed at the target's counter
(SysTick, or ``minstret`` on RISC-V), recording it
before the first op and after each op. Under QEMU ``-icount shift=0`` both runs are
deterministic. The probes' own cost is measured, not guessed: the probed firmware times 64 probes back to
back (each is one volatile load and one store, inlined as in the model), and every op's interval
(which holds one probe) is reduced by it. What the ops do not cover (argument checks, the call
itself) and the small difference the probes make to the compiled code is the row
``(outside ops)``, so the rows add up to the plain count exactly.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..api import Model
from ..errors import LenetcError
from .bundle import write_example
from .make_args import check_opt
from .run import build_and_run
from .targets import Target, get_target

_PROBE = re.compile(r"^probe (\d+) (\d+): (\d+)$", re.M)
_SPAN = re.compile(r"^probe (\d+) span: (\d+) (\d+)$", re.M)
_COST = re.compile(r"^probe cost: (\d+) ticks per 64$", re.M)


@dataclass(frozen=True)
class LayerProfile:
    """One op of the plan (a fused conv+pool is one op) and what it costs."""

    name: str
    doc: str
    macs: int
    instructions: float
    arena_bytes: int  # the arena bytes its input, output and scratch occupy while it runs

    @property
    def per_mac(self) -> float | None:
        return self.instructions / self.macs if self.macs else None


@dataclass
class Profile:
    """The per-layer rows and the whole-inference count of the plain build."""

    model: str
    dtype: str
    target: str
    opt: str
    total_instructions: float
    probe_instructions: float
    layers: list[LayerProfile] = field(default_factory=list)
    outside: float = 0.0
    arena_bytes: int = 0
    stack_bytes: int | None = None
    span: float = 0.0  # measured in the probed build before the first op and after the last

    @property
    def residual(self) -> float:
        """What the probes changed in the compiled code: outside ops minus what was measured there."""
        return self.outside - self.span

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.layers)

    def to_dict(self) -> dict:
        """The profile as JSON: instruction counts are whole instructions (averaged over the
        digits, then rounded); ``stack_painted_bytes`` is the stack measured by painting on the
        target (``size --json``'s ``stack`` is GCC's static bound instead)."""
        doc = asdict(self)
        for row, layer in zip(doc["layers"], self.layers):
            row["instructions"] = round(layer.instructions)
            row["per_mac"] = layer.per_mac
            row["share"] = layer.instructions / self.total_instructions
        for key in ("total_instructions", "probe_instructions", "outside", "span"):
            doc[key] = round(doc[key])
        doc["macs"] = self.macs
        doc["residual"] = round(self.residual)
        doc["stack_painted_bytes"] = doc.pop("stack_bytes")
        return doc


def _rows(plan) -> list[tuple[str, str, int, int]]:
    """(name, doc, MACs, arena bytes) per op; layers without an op of their own (a fused
    pooling, a flatten folded into the next dense) are named with, and counted in, the op
    before them."""
    macs = {r.name: r.macs for r in plan.net.layer_info()}
    elem = plan.numeric.elem_bytes
    rows: list[list] = []
    seen: set[str] = set()
    order = [r.name for r in plan.net.layer_info()]
    for op in plan.ops:
        tensors = [plan.tensors[t] for t in (op.src, op.dst, op.scratch) if t >= 0]
        arena = sum(t.nbytes(elem) for t in tensors if t.storage == "arena")
        layer_macs = 0 if op.layer in seen else macs.get(op.layer, 0)
        seen.add(op.layer)
        rows.append([op.layer, op.doc, layer_macs, arena])
    for name in order:  # layers with no op: into the row of the op before them
        if name in seen:
            continue
        before = [rows_i for rows_i, r in enumerate(rows) if order.index(r[0].split("+")[0]) < order.index(name)]
        if before:
            row = rows[before[-1]]
            row[0], row[2] = f"{row[0]}+{name}", row[2] + macs[name]
    return [tuple(r) for r in rows]


def profile(
    model: Model, dtype: str | None = None, target: str | Target = "cortex-m4", digits=None, opt: str = "-O2"
) -> Profile:
    """Build and run the plain and the probed example for ``target``; one :class:`Profile`."""
    opt = check_opt(opt)
    t = target if isinstance(target, Target) else get_target(target)
    if t.kind != "baremetal" or not t.counter:
        raise LenetcError(f"profiling needs a bare-metal target with an instruction counter, not '{t.name}'")
    with tempfile.TemporaryDirectory(prefix="lenetc-profile-") as tmp:
        bundle = write_example(model, Path(tmp) / "plain", dtype=dtype, digits=digits, target=t.name)
        plain = build_and_run(bundle, t, icount=True, make_vars={"OPT": opt})
        plan = bundle.generated.plan
        n_probes = len(plan.ops) + 1
        probed_bundle = write_example(model, Path(tmp) / "probed", dtype=dtype, digits=digits, target=t.name)
        flags = f"-Werror {t.probe_flags(plan.prefix.upper())} -DLENETC_EXAMPLE_PROFILE={n_probes}"
        probed = build_and_run(probed_bundle, t, icount=True, extra_cflags=flags, make_vars={"OPT": opt})
    for name, result in (("plain", plain), ("probed", probed)):
        if not result.ok or not result.ticks:
            raise LenetcError(f"the {name} example for '{t.name}' failed:\n{result.stdout[-800:]}")
    per_tick = t.instructions_per_tick()
    n_digits = len(plain.ticks)
    total = sum(plain.ticks) / n_digits * per_tick
    cost = _COST.search(probed.stdout)
    if cost is None:
        raise LenetcError("the probed example did not measure its probes")
    probe_cost = int(cost.group(1)) * per_tick / 64
    intervals = [0.0] * len(plan.ops)
    for m in _PROBE.finditer(probed.stdout):
        intervals[int(m.group(2))] += int(m.group(3)) * per_tick / n_digits
    rows = _rows(plan)
    layers = [
        LayerProfile(name, doc, macs, max(0.0, iv - probe_cost), arena)
        for (name, doc, macs, arena), iv in zip(rows, intervals)
    ]
    span = sum(int(m.group(2)) + int(m.group(3)) for m in _SPAN.finditer(probed.stdout)) * per_tick / n_digits
    outside = total - sum(r.instructions for r in layers)
    return Profile(
        plan.net.name, plan.dtype, t.name, opt, total, probe_cost, layers, outside, plan.arena_bytes,
        plain.stack_bytes, span,
    )  # fmt: skip


def format_profile(p: Profile) -> str:
    """The table ``lenetc profile`` prints."""
    lines = [
        f"{p.model} {p.dtype} on {p.target} ({p.opt}, QEMU -icount shift=0): "
        f"{p.total_instructions:,.0f} instructions per inference, {p.total_instructions / p.macs:.2f} per MAC",
        f"{'layer':<14}{'MACs':>11}{'instructions':>14}{'per MAC':>9}{'share':>8}{'arena B':>9}",
    ]
    for r in p.layers:
        per_mac = f"{r.per_mac:.2f}" if r.per_mac is not None else "-"
        lines.append(
            f"{r.name:<14}{r.macs:>11,}{r.instructions:>14,.0f}{per_mac:>9}"
            f"{r.instructions / p.total_instructions:>8.1%}{r.arena_bytes:>9,}"
        )
    lines.append(f"{'(outside ops)':<14}{'':>11}{p.outside:>14,.0f}{'':>9}{p.outside / p.total_instructions:>8.1%}")
    lines.append(
        f"{'total':<14}{p.macs:>11,}{p.total_instructions:>14,.0f}{p.total_instructions / p.macs:>9.2f}{1:>8.1%}"
        f"{p.arena_bytes:>9,}"
    )
    stack = f"{p.stack_bytes} bytes" if p.stack_bytes is not None else "not measured"
    lines.append(
        f"outside ops: {p.span:,.0f} measured before the first op and after the last (argument checks, call), "
        f"{p.residual:,.0f} from the probes' effect on the compiled code"
    )
    lines.append(
        f"arena {p.arena_bytes:,} bytes; stack of the inference {stack}; "
        f"probe cost {p.probe_instructions:.0f} instructions each, measured and taken out"
    )
    return "\n".join(lines)
