"""``lenetc npu MODEL --accelerator ethos-u55-128 -o DIR``: Vela on an int8 .tflite file, its
estimate per layer, and the optimised file for the user's firmware."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import LenetcError
from ..npu import ACCELERATORS, run_vela


def cmd_npu(args: argparse.Namespace) -> int:
    model = Path(args.model)
    if model.suffix.lower() != ".tflite" or not model.is_file():
        raise LenetcError(
            f"'{args.model}': lenetc npu takes an int8 .tflite file (lenetc cannot yet export its own "
            "networks to TFLite)"
        )
    from ..models import load
    from ..quant.qnetwork import QuantizedNetwork

    if not isinstance(load(model), QuantizedNetwork):  # lenetc's importer checks every operator first
        raise LenetcError(f"'{model}' is a float32 file; Ethos-U NPUs run full-integer int8 files")
    rep = run_vela(model, args.accelerator, Path(args.output))
    print(f"{model.name} on {rep.accelerator}: Vela's estimate (its performance model, not a measurement)")
    print(f"  {'operator':<18} {'on':<4} {'cycles':>9} {'MACs':>9} {'staging bytes':>14}")
    for r in rep.layers:
        print(f"  {r.op:<18} {r.target:<4} {r.cycles:>9,} {r.macs:>9,} {r.staging_bytes:>14,}")
    print(f"  operators on the NPU  {100 * rep.npu_fraction:.1f} % ({sum(r.target == 'NPU' for r in rep.layers)}"
          f" of {len(rep.layers)})")  # fmt: skip
    print(f"  total cycles          {rep.total_cycles:,} (estimate)")
    print(f"  SRAM used             {rep.sram_kib:.2f} KiB (estimate)")
    print(f"  flash used            {rep.flash_kib:.2f} KiB (estimate)")
    print(f"wrote {rep.output}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("npu", help="compile an int8 .tflite file for an Arm Ethos-U NPU with Vela (estimates)")
    p.add_argument("model", metavar="MODEL", help="an int8 .tflite file")
    p.add_argument("--accelerator", default="ethos-u55-128", choices=ACCELERATORS, help="default ethos-u55-128")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="where Vela writes <name>_vela.tflite")
    p.set_defaults(func=cmd_npu)
