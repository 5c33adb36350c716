"""The NPU route: Arm's Vela compiler (``ethos-u-vela``, an optional extra) on an int8 ``.tflite``
file, for the Ethos-U55/65/85. Vela writes the optimised ``<name>_vela.tflite`` that TFLM runs
on the NPU, and CSV files with its *estimate* of cycles, SRAM and flash per layer (no Ethos-U
simulator is involved: these are Vela's performance-model numbers, not measurements).
"""

from __future__ import annotations

import csv
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import LenetcError

ACCELERATORS = (
    "ethos-u55-32", "ethos-u55-64", "ethos-u55-128", "ethos-u55-256", "ethos-u65-256", "ethos-u65-512",
    "ethos-u85-128", "ethos-u85-256", "ethos-u85-512", "ethos-u85-1024", "ethos-u85-2048",
)  # fmt: skip
VELA_TIMEOUT_S = 600


@dataclass(frozen=True)
class VelaLayer:
    """One row of Vela's per-layer estimate."""

    op: str
    target: str  # NPU or CPU
    cycles: int
    macs: int
    staging_bytes: int
    name: str


@dataclass(frozen=True)
class VelaReport:
    accelerator: str
    output: Path
    layers: list[VelaLayer]
    total_cycles: int
    sram_kib: float
    flash_kib: float
    clock_hz: float

    @property
    def npu_fraction(self) -> float:
        return sum(r.target == "NPU" for r in self.layers) / max(len(self.layers), 1)


def run_vela(model: Path, accelerator: str, out_dir: Path) -> VelaReport:
    """Compile ``model`` (an int8 .tflite file) with Vela for ``accelerator`` into ``out_dir``."""
    if accelerator not in ACCELERATORS:
        raise LenetcError(f"unknown accelerator '{accelerator}' (choose {', '.join(ACCELERATORS)})")
    try:
        import ethosu.vela  # noqa: F401
    except ImportError:
        raise LenetcError("lenetc npu needs Arm's Vela compiler: pip install 'lenetc[npu]'") from None
    out_dir.mkdir(parents=True, exist_ok=True)
    launch = "import sys; from ethosu.vela.vela import main; sys.exit(main(sys.argv[1:]))"
    # absolute: a file name starting with '-' must not read as one of Vela's options
    cmd = [sys.executable, "-c", launch, str(model.absolute()), "--accelerator-config", accelerator,
           "--output-dir", str(out_dir), "--verbose-performance"]  # fmt: skip
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=VELA_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise LenetcError(f"Vela did not finish within {VELA_TIMEOUT_S} s") from None
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip() or "no message").splitlines()[-1]
        raise LenetcError(f"Vela refused '{model}': {last}")
    stem = model.stem
    per_layer = out_dir / f"{stem}_per-layer.csv"
    summaries = sorted(out_dir.glob(f"{stem}_summary_*.csv"))
    if not per_layer.is_file() or not summaries:
        raise LenetcError(f"Vela wrote no performance estimate into '{out_dir}'")
    with per_layer.open(newline="") as f:
        layers = [VelaLayer(r["Original Operator"], r["Target"], int(float(r["Op Cycles"] or 0)),
                            int(float(r["MAC Count"] or 0)), int(float(r["Staging Usage"] or 0)), r["Name"])
                  for r in csv.DictReader(f)]  # fmt: skip
    with summaries[0].open(newline="") as f:
        s = next(csv.DictReader(f))
    return VelaReport(accelerator, out_dir / f"{stem}_vela.tflite", layers, int(float(s["cycles_total"])),
                      float(s["sram_memory_used"]), float(s["off_chip_flash_memory_used"]) +
                      float(s["on_chip_flash_memory_used"]), float(s.get("core_clock", 0) or 0))  # fmt: skip
