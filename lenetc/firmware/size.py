"""Flash and RAM of a model, measured on the cross-compiled object, not estimated.

The model's generated .c is compiled for the target with the example's flags plus
``-ffunction-sections -fdata-sections -fstack-usage``; the per-section sizes come from the
target's ``size -A`` and the stack from GCC's ``.su`` file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..codegen import Generated, Plan, Symbols, generated
from ..codegen.budget import fit
from ..errors import LenetcError
from .libstack import UNBOUNDED, library_stack
from .targets import Target, get_target

_SU_LINE = re.compile(r"^[^\t]*:(\w+)\t(\d+)\t(\w+(?:,\w+)*)$")
_CI_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "[^"]*?(?:\\n(\d+) bytes \((\w+(?:,\w+)*)\))?"')
_CI_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')

#: Stack allowed for each call into a function the object does not define (the C library's
#: memset, fmaf, expf: leaves of a few pushes in newlib); the painted-stack test checks it.
EXTERNAL_CALL_BYTES = 32


@dataclass(frozen=True)
class SizeReport:
    """Bytes of one model on one target. ``flash = code + weights + data``;
    ``ram = data + bss + stack`` (bss is the static arena of ``<prefix>_run``)."""

    model: str
    dtype: str
    target: str
    code: int
    weights: int
    data: int
    bss: int
    stack: int
    stack_bounded: bool  # False when GCC reports a dynamically sized frame

    @property
    def flash(self) -> int:
        return self.code + self.weights + self.data

    @property
    def ram(self) -> int:
        return self.data + self.bss + self.stack

    def to_dict(self) -> dict:
        return {**self.__dict__, "flash": self.flash, "ram": self.ram}


def section_sizes(size_tool: str, obj: Path) -> dict[str, int]:
    """``{section: bytes}`` from ``size -A`` (System V format)."""
    proc = subprocess.run([size_tool, "-A", str(obj)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise LenetcError(f"{size_tool} failed on {obj.name}: {proc.stderr.strip()}")
    sizes = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


def stack_usage(su_text: str, symbols: Symbols) -> tuple[int, bool]:
    """Worst-case stack of ``<prefix>_run`` from a ``-fstack-usage`` report.

    ``_run`` calls ``_run_ws``, which calls the layer kernels one after another (GCC
    usually inlines them into ``_run_ws``); so the bound is run + run_ws + the largest
    frame of any other non-API function. Leaf C-library calls (``floorf``) are not counted.
    """
    frames: dict[str, int] = {}
    bounded = True
    for line in su_text.splitlines():
        m = _SU_LINE.match(line.strip())
        if not m:
            continue
        frames[m.group(1)] = int(m.group(2))
        bounded &= "dynamic" not in m.group(3) or "bounded" in m.group(3)
    if symbols.run_ws not in frames:
        raise LenetcError(f"no stack-usage entry for {symbols.run_ws}")
    kernels = max((v for k, v in frames.items() if k not in symbols.api), default=0)
    return frames.get(symbols.run, 0) + frames[symbols.run_ws] + kernels, bounded


def call_tree_stack(ci_text: str, root: str, external: Callable[[str], int | None] | None = None) -> tuple[int, bool]:
    """Worst-case stack of ``root`` and everything it calls, from GCC's ``-fcallgraph-info=su``
    report: the deepest path of the static call graph, each function counted with its frame,
    each external callee with ``external(name)`` (its library chain, :mod:`.libstack`) or,
    where that is None, :data:`EXTERNAL_CALL_BYTES`. False when a frame is dynamic or the graph
    has a cycle (the bound is then not a bound)."""
    frames: dict[str, int] = {}
    bounded = True
    for m in _CI_NODE.finditer(ci_text):
        if m.group(2) is not None:
            frames[m.group(1)] = int(m.group(2))
            bounded &= "dynamic" not in m.group(3) or "bounded" in m.group(3)
    calls: dict[str, set[str]] = {}
    for m in _CI_EDGE.finditer(ci_text):
        calls.setdefault(m.group(1), set()).add(m.group(2))
    if root not in frames:
        raise LenetcError(f"no call-graph entry for {root}")

    def deepest(fn: str, path: tuple[str, ...]) -> int:
        nonlocal bounded
        if fn in path:
            bounded = False
            return 0
        if fn in frames:
            own = frames[fn]
        else:
            lib = external(fn) if external is not None else None
            if lib == UNBOUNDED:
                bounded = False
            own = EXTERNAL_CALL_BYTES if lib is None or lib == UNBOUNDED else max(lib, EXTERNAL_CALL_BYTES)
        return own + max((deepest(c, (*path, fn)) for c in calls.get(fn, ())), default=0)

    return deepest(root, ()), bounded


def measure(gen: Generated, target: str | Target = "cortex-m4") -> SizeReport:
    """Compile the generated C of ``gen`` for ``target`` and measure its flash and RAM."""
    t = target if isinstance(target, Target) else get_target(target)
    for tool in (t.cc, t.size_tool):
        if shutil.which(tool) is None:
            raise LenetcError(f"measuring size for '{t.name}' needs {tool} (Debian packages: {' '.join(t.packages)})")
    symbols = gen.symbols
    with tempfile.TemporaryDirectory(prefix="lenetc-size-") as tmp:
        d = Path(tmp)
        for name, text in gen.files.items():
            (d / name).write_text(text)
        src, obj = d / symbols.source, d / f"{symbols.prefix}.o"
        flags = [*t.cflags, "-ffunction-sections", "-fdata-sections", "-fstack-usage"]
        flags += ["-fcallgraph-info=su"] if t.callgraph_info else []
        proc = subprocess.run([t.cc, *flags, "-c", str(src), "-o", str(obj)], capture_output=True, text=True, cwd=d)
        if proc.returncode != 0:
            raise LenetcError(f"compiling {src.name} for '{t.name}' failed: {proc.stderr.strip()[:500]}")
        sections = section_sizes(t.size_tool, obj)
        if t.callgraph_info:
            ci = (d / f"{symbols.prefix}.ci").read_text()
            stack, bounded = call_tree_stack(ci, symbols.run, lambda fn: library_stack(t.cc, tuple(t.cflags), fn))
        else:  # clang writes frames (.su) but no call graph: run + run_ws + the largest kernel frame
            stack, bounded = stack_usage((d / f"{symbols.prefix}.su").read_text(), symbols)
        if t.vlen and gen.plan.dialect.caps.vla:
            # RVV register spills live in VLEN-scaled stack slots that -fstack-usage leaves out
            # (measured: 128 B reported, 2,808 B painted for lenet-caffe int8 at VLEN 128)
            bounded = False

    def total(*prefixes: str) -> int:
        return sum(v for k, v in sections.items() if any(k == p or k.startswith(p + ".") for p in prefixes))

    return SizeReport(
        model=gen.plan.net.name,
        dtype=gen.plan.dtype,
        target=t.name,
        code=total(".text"),
        weights=total(".rodata", ".srodata"),  # RISC-V puts small constants in .srodata/.sdata/.sbss
        data=total(".data", ".sdata"),
        bss=total(".bss", ".sbss"),
        stack=stack,
        stack_bounded=bounded,
    )


def format_report(r: SizeReport) -> str:
    """The human-readable report ``lenetc size`` prints."""
    kib = lambda n: f"{n:>9,} B  ({n / 1024:8.1f} KiB)"  # noqa: E731
    how = "compiled" if r.target == "host" else "cross-compiled"
    lines = [
        f"{r.model} ({r.dtype}) on {r.target}, measured from the {how} object:",
        f"  flash   {kib(r.flash)}  = code {r.code:,} + weights {r.weights:,} + data {r.data:,}",
        f"  RAM     {kib(r.ram)}  = arena (bss) {r.bss:,} + data {r.data:,} + stack {r.stack:,}"
        + ("" if r.stack_bounded else " (a frame is dynamically sized: stack is a lower bound)"),
    ]
    return "\n".join(lines)


def fit_measured(model, ram_bytes: int, target: str | Target = "cortex-m4", prefix: str | None = None) -> Generated:
    """The fastest plan of ``model`` (a Network or QuantizedNetwork) whose arena plus the
    stack of ``<P>_run`` measured on ``target``'s compiled object fits ``ram_bytes``."""
    t = target if isinstance(target, Target) else get_target(target)

    def stack_of(plan: Plan) -> int:
        return measure(generated(plan), t).stack

    plan, stack = fit(model, ram_bytes, prefix, t.dialect, stack_of)
    return generated(plan, stack, ram_bytes)
