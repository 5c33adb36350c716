"""Worst-case stack of the C-library routines a model's object calls (fmaf, memset, expf and,
on a soft-float CPU, the ``__aeabi_*`` helpers they call), read from the target's own libraries.

The libraries are not built with ``-fstack-usage``, so their disassembly is read instead: each
routine's frame is what its instructions push or subtract from ``sp`` (every push counted, on
whatever path: an upper bound), and its callees are its branches to other routines, including a
fall-through into the next routine of its section. A routine whose ``sp`` moves by a register
amount has no bound. The hand-written soft-float helpers jump into each other's middles to
share tails (never recursing), so a routine met again on a chain adds nothing. ``size`` adds
the deepest chain below each external call to the model's own call tree (Cortex-M3's
soft-float ``fmaf`` calls ``__aeabi_dadd`` and friends, deeper than the fixed allowance the
bound used before).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import lru_cache

#: Libraries the generated C can reach: the maths, the C library's mem* routines, the compiler's helpers.
LIBRARIES = ("libm.a", "libc.a", "libgcc.a")

_LABEL = re.compile(r"^[0-9a-f]+ <([^>]+)>:$")
_INSN = re.compile(r"^\s+[0-9a-f]+:\s+(\S+)\s*(.*)$")
_SECTION = re.compile(r"^Disassembly of section (\S+):$")
_TARGET = re.compile(r"<([^>+]+)(?:\+0x[0-9a-f]+)?>")
_REGS = re.compile(r"\{([^}]*)\}")
_IMM = re.compile(r"#(\d+)")
_BRANCH = re.compile(r"^(bl|blx|b|cbn?z|b[a-z]{2})(\.[nw])?$")
_ENDS = ("bx", "pop", "pop.w", "ldmia.w", "b", "b.n", "b.w")

UNBOUNDED = -1


def _count_regs(text: str) -> int:
    """Bytes of a register list such as ``{r4-r7, lr}`` or ``{d8-d9}``."""
    m = _REGS.search(text)
    if not m:
        return 0
    total = 0
    for part in (p.strip() for p in m.group(1).split(",")):
        lo, _, hi = part.partition("-")
        size = 8 if lo.startswith("d") else 4
        if hi:
            total += size * (int(hi[1:]) - int(lo[1:]) + 1)
        elif part:
            total += size
    return total


def _frame(op: str, args: str) -> int | None:
    """Bytes an instruction takes from the stack, 0 if none, None if a register amount."""
    base = op.split(".")[0]
    if base in ("push", "vpush") or (base == "stmdb" and args.startswith("sp!")):
        return _count_regs(args)
    if base in ("sub", "subw") and re.match(r"sp,\s*(sp,\s*)?", args):
        imm = _IMM.search(args)
        return int(imm.group(1)) if imm else None
    if base.startswith("str") and re.search(r"\[sp, #-(\d+)\]!", args):
        return int(re.search(r"\[sp, #-(\d+)\]!", args).group(1))  # type: ignore[union-attr]
    return 0


def parse(disassembly: str) -> tuple[dict[str, int], dict[str, set[str]]]:
    """Per routine: its frame bytes (:data:`UNBOUNDED` if dynamic) and the routines it branches to."""
    frames: dict[str, int] = {}
    calls: dict[str, set[str]] = {}
    current: str | None = None
    last_op = ""
    for line in disassembly.splitlines():
        if _SECTION.match(line) or line.startswith("In archive") or line.endswith("file format elf32-littlearm"):
            current, last_op = None, ""
            continue
        label = _LABEL.match(line)
        if label:
            name = label.group(1)
            if current is not None and last_op not in _ENDS:
                calls.setdefault(current, set()).add(name)  # falls through into the next routine
            current, last_op = name, ""
            frames.setdefault(name, 0)
            calls.setdefault(name, set())
            continue
        insn = _INSN.match(line)
        if not insn or current is None:
            continue
        op, args = insn.group(1), insn.group(2)
        last_op = op if not (op.startswith("pop") and "pc" not in args) else ""
        grow = _frame(op, args)
        if grow is None or frames[current] == UNBOUNDED:
            frames[current] = UNBOUNDED
        else:
            frames[current] += grow
        if _BRANCH.match(op):
            target = _TARGET.search(args)
            if target and target.group(1) != current:
                calls[current].add(target.group(1))
    return frames, calls


@lru_cache(maxsize=8)
def _library_graph(cc: str, cflags: tuple[str, ...]) -> tuple[dict[str, int], dict[str, set[str]]]:
    objdump = cc.replace("gcc", "objdump") if cc.endswith("gcc") else None
    frames: dict[str, int] = {}
    calls: dict[str, set[str]] = {}
    if objdump is None or shutil.which(objdump) is None:
        return frames, calls
    for lib in LIBRARIES:
        try:
            path = subprocess.run([cc, *cflags, f"-print-file-name={lib}"], capture_output=True, text=True,
                                  timeout=60).stdout.strip()  # fmt: skip
            if not path or "/" not in path:
                continue
            # every name of an address (__aeabi_dadd is __adddf3): an alias falls through to its twin
            text = subprocess.run([objdump, "-d", "--no-show-raw-insn", "--show-all-symbols", path],
                                  capture_output=True, text=True, timeout=120).stdout  # fmt: skip
        except (OSError, subprocess.TimeoutExpired):
            continue
        f, c = parse(text)
        for name, size in f.items():  # a name defined in several members: the largest frame
            old = frames.get(name, 0)
            frames[name] = UNBOUNDED if UNBOUNDED in (old, size) else max(old, size)
            calls.setdefault(name, set()).update(c.get(name, ()))
    return frames, calls


def library_stack(cc: str, cflags: tuple[str, ...], name: str) -> int | None:
    """Worst-case stack of library routine ``name`` and everything it calls, in bytes;
    :data:`UNBOUNDED` if a frame is dynamic; None if the target's
    libraries do not define it (or cannot be read)."""
    frames, calls = _library_graph(cc, cflags)
    if name not in frames:
        return None
    memo: dict[str, int] = {}

    def deepest(fn: str, path: tuple[str, ...]) -> int:
        if fn in path:  # a jump back into a routine already on the chain: shared tails, not recursion
            return 0
        if fn in memo:
            return memo[fn]
        own = frames.get(fn, 0)
        below = [deepest(c, (*path, fn)) for c in calls.get(fn, ()) if c in frames]
        if own == UNBOUNDED or UNBOUNDED in below:
            memo[fn] = UNBOUNDED
        else:
            memo[fn] = own + max(below, default=0)
        return memo[fn]

    return deepest(name, ())
