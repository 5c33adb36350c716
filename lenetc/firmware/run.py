"""Build an example bundle for a target with its Makefile, run it, and read what it printed."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LenetcError
from .bundle import Bundle
from .make_args import make_arguments
from .targets import Target, get_target

#: Seconds a single emulated run may take; every example finishes in well under one.
RUN_TIMEOUT = 60

_DIGIT = re.compile(r"^digit (\d+): label (-?\d+) predicted (\d+) reference (\d+) out((?: -?[0-9a-f]+)+)$", re.M)
_TICKS = re.compile(r"^ticks (\d+): (\d+)$", re.M)
_CHECKSUM = re.compile(r"^checksum fnv1a32 ([0-9a-f]{8})$", re.M)
_STACK = re.compile(r"^stack bytes: (\d+)$", re.M)


@dataclass
class RunResult:
    """What one run of the example printed, parsed."""

    target: str
    returncode: int
    stdout: str
    checksum: int | None = None
    predicted: list[int] = field(default_factory=list)
    reference: list[int] = field(default_factory=list)
    outputs: list[list[str]] = field(default_factory=list)  # raw printed words per digit
    ticks: list[int] = field(default_factory=list)
    stack_bytes: int | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.checksum is not None and self.stdout.rstrip().endswith("OK")


def parse_output(target: str, returncode: int, stdout: str) -> RunResult:
    """Parse the example's printout (see templates/firmware/main.c.j2)."""
    result = RunResult(target, returncode, stdout)
    for m in _DIGIT.finditer(stdout):
        result.predicted.append(int(m.group(3)))
        result.reference.append(int(m.group(4)))
        result.outputs.append(m.group(5).split())
    result.ticks = [int(m.group(2)) for m in _TICKS.finditer(stdout)]
    m = _CHECKSUM.search(stdout)
    result.checksum = int(m.group(1), 16) if m else None
    m = _STACK.search(stdout)
    result.stack_bytes = int(m.group(1)) if m else None
    return result


def build(bundle: Bundle, target: str | Target, extra_cflags: str = "-Werror", make_vars: dict | None = None) -> Path:
    """Build ``bundle`` for ``target`` with its Makefile; returns the program. Every variable
    is checked before make sees it (:func:`lenetc.firmware.make_args.make_arguments`)."""
    t = target if isinstance(target, Target) else get_target(target)
    missing = t.missing_tools()
    if missing:
        raise LenetcError(f"target '{t.name}' needs {', '.join(missing)} (Debian packages: {' '.join(t.packages)})")
    variables = {"TARGET": t.name, "EXTRA_CFLAGS": extra_cflags, **(make_vars or {})}
    cmd = ["make", "-s", "-C", str(bundle.directory), *make_arguments(variables)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-12:]
        raise LenetcError(f"building the example for '{t.name}' failed:\n" + "\n".join(tail))
    return bundle.executable(t.name)


def run(exe: str | Path, target: str | Target, icount: bool = False, timeout: float = RUN_TIMEOUT) -> RunResult:
    """Run a built example (natively or under QEMU) with stdin closed and parse its output."""
    t = target if isinstance(target, Target) else get_target(target)
    try:
        proc = subprocess.run(
            t.run_command(str(exe), icount=icount),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise LenetcError(f"the example for '{t.name}' did not finish within {timeout:g} s") from None
    return parse_output(t.name, proc.returncode, proc.stdout)


def build_and_run(bundle: Bundle, target: str | Target, icount: bool = False, **kw) -> RunResult:
    """:func:`build` then :func:`run`."""
    return run(build(bundle, target, **kw), target, icount=icount)
