"""``lenetc npu MODEL --accelerator ethos-u55-128 -o DIR``: Arm's Vela on the int8 TFLite form
of MODEL (an int8 .tflite file as it is, any other model exported by lenetc first), its estimate
per layer, and the optimised file for the user's firmware."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import LenetcError
from ..exporters.tflite_export import save_tflite
from ..npu import ACCELERATORS, run_vela
from .int8 import add_int8_args, quantize_from_args
from .model_args import add_model_args, model_from_args, note_if_guessed


def cmd_npu(args: argparse.Namespace) -> int:
    args.dtype = None
    net = model_from_args(args)
    out_dir = Path(args.output)
    model = Path(args.model)
    if getattr(args, "file_qnet", None) is None:
        if model.suffix.lower() == ".tflite":
            raise LenetcError(f"'{model}' is a float32 file; Ethos-U NPUs run full-integer int8 files")
        note_if_guessed(net)
        qnet = quantize_from_args(net, args)
        model = save_tflite(qnet, out_dir / f"{net.name}_int8.tflite")
        print(f"wrote {model} (lenetc's int8 network, calibrated on {qnet.notes['calibration']})")
    rep = run_vela(model, args.accelerator, out_dir)
    print(f"{model.name} on {rep.accelerator}: Vela's estimate (its performance model, not a measurement)")
    print(f"  {'operator':<18} {'on':<4} {'cycles':>9} {'MACs':>9} {'staging bytes':>14}")
    for r in rep.layers:
        print(f"  {r.op:<18} {r.target:<4} {r.cycles:>9,} {r.macs:>9,} {r.staging_bytes:>14,}")
    on_npu = sum(r.target == "NPU" for r in rep.layers)
    print(f"  operators on the NPU  {100 * rep.npu_fraction:.1f} % ({on_npu} of {len(rep.layers)})")
    print(f"  total cycles          {rep.total_cycles:,} (estimate)")
    print(f"  SRAM used             {rep.sram_kib:.2f} KiB (estimate)")
    print(f"  flash used            {rep.flash_kib:.2f} KiB (estimate)")
    print(f"wrote {rep.output}")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "npu",
        help="compile MODEL for an Arm Ethos-U NPU with Vela and show Vela's estimates",
        description="Run Arm's Vela (pip install 'lenetc[npu]') on MODEL's int8 TFLite form: an int8 .tflite "
        "file as it is, any other model calibrated and exported by lenetc first. Cycles, SRAM and flash are "
        "Vela's estimates; no NPU or simulator runs.",
    )
    add_model_args(p)
    p.add_argument("--accelerator", default="ethos-u55-128", choices=ACCELERATORS, help="default ethos-u55-128")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="where Vela writes <name>_vela.tflite")
    add_int8_args(p)
    p.set_defaults(func=cmd_npu)
