"""What one generation produces, as one object: the plan, the rendered files, the C symbols
and the memory report. Build, size, the firmware bundle, info and verify all consume it, so
nothing re-plans a model or re-derives a name from a string."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .plan import Plan
from .render import cdef, render, write_output
from .streaming import Stage


@dataclass(frozen=True)
class Symbols:
    """The C names of one generated model (every one carries the prefix)."""

    prefix: str

    @property
    def macro(self) -> str:
        """The upper-case prefix of the header's macros."""
        return self.prefix.upper()

    def fn(self, name: str) -> str:
        """The exported function ``<prefix>_<name>``."""
        return f"{self.prefix}_{name}"

    @property
    def run(self) -> str:
        return self.fn("run")

    @property
    def run_ws(self) -> str:
        return self.fn("run_ws")

    @property
    def run_batch(self) -> str:
        return self.fn("run_batch")

    @property
    def run_tiled(self) -> str:
        """The tiled batch entry (host dialects with ``batch_tile``)."""
        return self.fn("run_tiled")

    @property
    def tiled_workspace_size(self) -> str:
        return self.fn("tiled_workspace_size")

    @property
    def predict(self) -> str:
        return self.fn("predict")

    @property
    def workspace_size(self) -> str:
        return self.fn("workspace_size")

    @property
    def preprocess(self) -> str:
        """The frame preprocessing helper (present when the input is one padded 28x28 frame)."""
        return self.fn("preprocess")

    @property
    def quantize_input(self) -> str:
        """The int8 header's static inline float -> int8 input quantization."""
        return self.fn("quantize_input")

    @property
    def api(self) -> tuple[str, ...]:
        """Every exported function."""
        return (self.run, self.run_ws, self.run_batch, self.predict, self.workspace_size, self.preprocess)

    @property
    def source(self) -> str:
        return f"{self.prefix}.c"

    @property
    def header(self) -> str:
        return f"{self.prefix}.h"


@dataclass(frozen=True)
class MemoryReport:
    """Bytes the plan needs, known at generation time: the arena (and its liveness lower
    bound), the constants that go to flash, the caller's input and output buffers (beside the
    RAM budget, not in it), each stage's mode, bytes and recomputed MACs, and the stack of
    ``<P>_run`` when it was measured or reserved for a budget (None otherwise)."""

    arena_bytes: int
    arena_lower_bound: int
    weight_bytes: int
    input_bytes: int = 0
    output_bytes: int = 0
    stages: tuple[Stage, ...] = ()
    stack_bytes: int | None = None
    ram_budget: int | None = None

    @property
    def recompute_macs(self) -> int:
        return sum(s.recompute_macs for s in self.stages)

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["stages"] = [s.to_dict() for s in self.stages]
        d["recompute_macs"] = self.recompute_macs
        return d


@dataclass
class Generated:
    """The C of one model: ``files`` (name -> text), its ``symbols`` and ``memory``, and
    ``paths`` once written. Iterating over it yields the written paths."""

    plan: Plan
    files: dict[str, str]
    declarations: str
    symbols: Symbols
    memory: MemoryReport
    paths: list[Path] = field(default_factory=list)

    def __iter__(self) -> Iterator[Path]:
        return iter(self.paths)

    def to_dict(self) -> dict:
        """What was generated, for ``generate --json``: the files written (or rendered) with their
        sizes, the exported functions and macros the header defines, and the memory report."""
        header = self.files.get(self.symbols.header, "")
        macros = sorted(set(re.findall(rf"^#define ({re.escape(self.symbols.macro)}_\w+)", header, re.M)))
        functions = [f for f in self.symbols.api if re.search(rf"\b{re.escape(f)}\(", header)]
        written = {p.name: p for p in self.paths}
        files = [
            {"name": name, "path": str(written[name]) if name in written else None, "bytes": len(text.encode())}
            for name, text in self.files.items()
        ]
        files += [{"name": p.name, "path": str(p), "bytes": p.stat().st_size} for p in self.paths
                  if p.name not in self.files and p.is_file()]  # fmt: skip
        p = self.plan
        return {
            "model": p.net.name, "prefix": p.prefix, "dtype": p.dtype, "dialect": p.dialect.name,
            "files": files, "functions": functions, "macros": macros,
            "memory": {"dialect": p.dialect.name, **self.memory.to_dict()},
        }  # fmt: skip

    def __repr__(self) -> str:
        # the C source runs to megabytes: name it and its size instead
        p = self.plan
        files = ", ".join(f"{name} ({len(text):,} chars)" for name, text in self.files.items())
        return (f"Generated(model={p.net.name!r}, prefix={p.prefix!r}, dtype={p.dtype!r}, dialect={p.dialect.name!r}, "
                f"arena_bytes={self.memory.arena_bytes}, weight_bytes={self.memory.weight_bytes}, files=[{files}], "
                f"paths={[str(x) for x in self.paths]})")  # fmt: skip

    def write(self, out_dir: str | Path, extra: dict[str, str] | None = None) -> Generated:
        """Write the model's files (and ``extra`` ones) into ``out_dir`` atomically."""
        self.paths = write_output(out_dir, {**self.files, **(extra or {})})
        return self


def generated(plan: Plan, stack_bytes: int | None = None, ram_budget: int | None = None) -> Generated:
    """Render ``plan`` into a :class:`Generated` (nothing is written yet); ``stack_bytes`` and
    ``ram_budget`` go into its memory report when a budget chose the plan."""
    out_bytes = plan.output_size * (4 if plan.out_ctype in ("float", "int32_t") else 1)
    memory = MemoryReport(plan.arena_bytes, plan.arena_lower_bound, plan.weight_bytes(),
                          plan.input_size * plan.numeric.elem_bytes, out_bytes, tuple(plan.stages),
                          stack_bytes, ram_budget)  # fmt: skip
    return Generated(plan, render(plan), cdef(plan), Symbols(plan.prefix), memory)
