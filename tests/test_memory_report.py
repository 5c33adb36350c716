"""The plan's memory report in ``info --json`` and ``size --json`` (issue 14): the arena equals
the one the generated header declares and an independent liveness computation, and each stage
reports its mode, buffer bytes and recomputed MACs."""

from __future__ import annotations

import json
import re

import pytest
from int8_helpers import quantized_zoo
from test_ram_plan import independent_peak

import lenetc
from lenetc.cli import main
from lenetc.codegen import make_plan
from lenetc.codegen.budget import STACK_RESERVE, candidate_plans

CASES = [("lenet5", "int8"), ("lenet-caffe", "int8"), ("lenet5", "float32")]
STAGE_KEYS = {"layer", "mode", "in_bytes", "out_bytes", "scratch_bytes", "buffer_bytes", "recompute_macs"}
MODEL_ARGS = ["--weights", "random:1", "--calib", "16"]


def _run(capsys, argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def _declared_arena(out_dir) -> int:
    """``<P>_ARENA_BYTES`` as the generated header defines it, read from the written files."""
    found = set()
    for path in out_dir.iterdir():
        found |= {int(v) for v in re.findall(r"#define\s+\w+_ARENA_BYTES\s+(\d+)", path.read_text())}
    assert len(found) == 1
    return found.pop()


def _model(name: str, dtype: str):
    """The model the CLI plans (the plan depends on shapes only, not on the calibration)."""
    return lenetc.load(name, "random:1") if dtype == "float32" else quantized_zoo(name)


def _conv_outputs(op) -> int:
    """Conv outputs (per map) a fused stage's kernel computes: the window kernel one per window
    position, the band kernel every column of the pooled rows."""
    e = op.ctx["epilogue"]
    if op.mode.startswith("window"):
        return e["ph"] * e["kh"] * e["pw"] * e["kw"]
    return e["ph"] * e["kh"] * op.ctx["ow"]


def _independent_recompute(plan, fastest) -> dict[str, int]:
    """MACs a plan's stages compute beyond the fastest plan's: extra conv outputs times the MACs
    of one output of all maps (the fastest plan's MACs per output, from the model's layer table)."""
    macs = {r.name: r.macs for r in plan.net.layer_info()}
    base = {op.layer: op for op in fastest.ops if op.ctx.get("epilogue")}
    out = {}
    for op in plan.ops:
        if op.layer in base and op.ctx.get("epilogue"):
            c = base[op.layer].ctx
            per_output = macs[op.layer] // (c["oh"] * c["ow"])
            out[op.layer] = max(0, _conv_outputs(op) - _conv_outputs(base[op.layer])) * per_output
        else:
            out[op.layer] = 0
    return out


@pytest.mark.parametrize("name,dtype", CASES)
def test_info_json_reports_the_plan_memory(tmp_path, capsys, name, dtype):
    model = _model(name, dtype)
    fastest = make_plan(model)
    # the tightest budget a plan meets, with the reserved stack (window modes where int8 has them)
    smallest = min(candidate_plans(model, None, "portable"), key=lambda p: p.arena_bytes)
    for budget, plan in ((None, fastest), (smallest.arena_bytes + STACK_RESERVE, smallest)):
        extra = ["--ram-bytes", str(budget)] if budget is not None else []
        doc = _run(capsys, ["info", name, *MODEL_ARGS, "--dtype", dtype, "--json", *extra])
        mem = doc["memory"]
        assert {"arena_bytes", "arena_lower_bound", "stages", "stack_bytes", "ram_budget", "recompute_macs"} <= set(mem)
        assert mem["ram_budget"] == budget
        assert mem["stack_bytes"] == (STACK_RESERVE if budget is not None else None)
        assert all(set(s) == STAGE_KEYS for s in mem["stages"])
        assert [s["mode"] for s in mem["stages"]] == [s.mode for s in plan.stages]
        for s in mem["stages"]:
            assert s["buffer_bytes"] == s["out_bytes"] + s["scratch_bytes"]
        # the arena: the generated header's, and an independent liveness peak
        gen_dir = tmp_path / f"gen-{budget}"
        assert main(["generate", name, *MODEL_ARGS, "--dtype", dtype, "-o", str(gen_dir), *extra]) == 0
        capsys.readouterr()
        assert mem["arena_bytes"] == _declared_arena(gen_dir)
        assert mem["arena_lower_bound"] == independent_peak(plan) <= mem["arena_bytes"]
        # recomputed MACs: counted here from the kernels' loops against the fastest plan
        recompute = _independent_recompute(plan, fastest)
        assert {s["layer"]: s["recompute_macs"] for s in mem["stages"]} == recompute
        assert mem["recompute_macs"] == sum(recompute.values())
    if dtype == "int8":
        assert "window" in [s.mode for s in smallest.stages] and smallest.arena_bytes < fastest.arena_bytes


@pytest.mark.parametrize("budget", [None, 3072])
def test_size_json_reports_the_same_memory_as_info(capsys, budget):
    extra = ["--ram-bytes", str(budget)] if budget is not None else []
    info = _run(capsys, ["info", "lenet5", *MODEL_ARGS, "--dtype", "int8", "--json", *extra])["memory"]
    size = _run(capsys, ["size", "lenet5", *MODEL_ARGS, "--dtype", "int8", "--target", "cortex-m4", "--json", *extra])
    mem = size["memory"]
    assert set(mem) == set(info)
    assert mem["arena_bytes"] == size["bss"] and mem["stack_bytes"] == size["stack"]
    assert [s["mode"] for s in mem["stages"]] == [s["mode"] for s in info["stages"]]
