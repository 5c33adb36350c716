"""``lenetc profile``: the per-layer counts add up to the plain build's whole-inference count."""

from __future__ import annotations

import json

import numpy as np
import pytest
from firmware_helpers import load, need_target

from lenetc import quant
from lenetc.cli import main
from lenetc.firmware.profile import profile


def _calibration(n: int = 16, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ink = rng.random((n, 28, 28)) < 0.2
    return np.where(ink, rng.integers(64, 256, (n, 28, 28)), 0).astype(np.uint8)


def test_layers_add_up_to_the_whole_inference():
    need_target("cortex-m4")
    net = load("lenet5")
    prof = profile(quant.quantize(net, _calibration()), target="cortex-m4")
    assert prof.macs == net.totals()["macs"]
    assert 0 <= prof.probe_instructions < 10  # one volatile load and one store, inlined
    summed = sum(r.instructions for r in prof.layers)
    # the rest is the call, the argument checks and what the probes change in the compiled code
    assert summed + prof.outside == pytest.approx(prof.total_instructions, abs=1e-6)
    assert prof.span > 0  # the input checks before the first op
    # the probes change GCC's register allocation of the inlined kernels a little (measured
    # 0.4-1.0 % on lenet5 int8 at -O2): printed as the residual, bounded here
    assert abs(prof.residual) <= 0.02 * prof.total_instructions
    assert all(r.instructions > 0 for r in prof.layers)
    # the two convolutions (most MACs) cost the most; which of them is first depends on the kernels
    top2 = {r.name for r in sorted(prof.layers, key=lambda r: r.macs)[-2:]}
    assert top2 == {r.name for r in sorted(prof.layers, key=lambda r: r.instructions)[-2:]}


def test_cli_json(capsys):
    need_target("cortex-m4")
    assert main(["profile", "lenet5", "--target", "cortex-m4", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["dtype"] == "float32" and doc["target"] == "cortex-m4"
    # counts are whole instructions (rounded), so the shares add up to 1 within the rounding
    assert abs(sum(r["share"] for r in doc["layers"]) + doc["outside"] / doc["total_instructions"] - 1) < 1e-5
    counts = [doc["total_instructions"], doc["outside"], doc["residual"], *(r["instructions"] for r in doc["layers"])]
    assert all(isinstance(c, int) for c in counts)
    # the painted stack has a name of its own: size --json's "stack" is the static bound
    assert "stack_bytes" not in doc and doc["stack_painted_bytes"] > 0 and doc["arena_bytes"] > 0
