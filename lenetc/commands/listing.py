"""``lenetc list``: the zoo networks and whether trained weights ship with each."""

from __future__ import annotations

import argparse
import json

from ..errors import LenetcError
from ..models import load, shipped_weights
from ..zoo import ZOO, architecture


def zoo_rows() -> list[dict]:
    """One row per zoo network: its shape and counts, and the state of its shipped weights
    (loaded and checked, so a damaged file shows up here rather than at first use)."""
    rows = []
    for name in ZOO:
        net = architecture(name)
        path = shipped_weights(name)
        row = {
            "name": name,
            "input_shape": list(net.input_shape),
            "output_kind": net.output_kind,
            "layers": len(net.layers),
            "weights": "none",
            "weights_file": None,
            "weights_sha256": None,
            "params": None,
            "macs": None,
        }
        if path is not None:
            row["weights_file"] = str(path)
            try:
                trained = load(name)
            except LenetcError as exc:
                row["weights"] = f"damaged: {exc}"
            else:
                totals = trained.totals()
                row.update(weights="shipped", weights_sha256=trained.weights_hash(), params=totals["params"])
                row["macs"] = totals["macs"]
        rows.append(row)
    return rows


def cmd_list(args: argparse.Namespace) -> int:
    rows = zoo_rows()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'model':<16} {'input':<9} {'output':<11} {'params':>8} {'MACs':>10}  trained weights")
    for r in rows:
        shape = "x".join(map(str, r["input_shape"]))
        params = f"{r['params']:,}" if r["params"] is not None else "-"
        macs = f"{r['macs']:,}" if r["macs"] is not None else "-"
        if r["weights"] == "shipped":
            state = f"shipped ({r['weights_file']}, sha256 {r['weights_sha256'][:12]})"
        elif r["weights"] == "none":
            state = "not shipped: use --weights FILE.npz or --weights random:SEED"
        else:
            state = r["weights"]
        print(f"{r['name']:<16} {shape:<9} {r['output_kind']:<11} {params:>8} {macs:>10}  {state}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("list", help="the zoo networks and whether their trained weights ship with lenetc")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_list)
