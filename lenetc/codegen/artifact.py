"""What one generation produces, as one object: the plan, the rendered files, the C symbols
and the memory report. Build, size, the firmware bundle, info and verify all consume it, so
nothing re-plans a model or re-derives a name from a string."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .plan import Plan
from .render import cdef, render, write_output


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
    bound) and the constants that go to flash."""

    arena_bytes: int
    arena_lower_bound: int
    weight_bytes: int

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


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

    def write(self, out_dir: str | Path, extra: dict[str, str] | None = None) -> Generated:
        """Write the model's files (and ``extra`` ones) into ``out_dir`` atomically."""
        self.paths = write_output(out_dir, {**self.files, **(extra or {})})
        return self


def generated(plan: Plan) -> Generated:
    """Render ``plan`` into a :class:`Generated` (nothing is written yet)."""
    memory = MemoryReport(plan.arena_bytes, plan.arena_lower_bound, plan.weight_bytes())
    return Generated(plan, render(plan), cdef(plan), Symbols(plan.prefix), memory)
