"""RAM plans (issue 14): every stage mode gives the same bits, and the planned arena is checked
against a liveness computation written here from the op list."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from int8_helpers import STRICT, ZOO, int8_inputs, quantized_beyond_zoo, quantized_zoo

from lenetc.build import build
from lenetc.codegen import generated, make_plan
from lenetc.quant import forward_int8


def _fusable(plan) -> list[str]:
    return [s.layer for s in plan.stages if s.mode == "fused"]


def _all_mode_plans(qnet):
    names = _fusable(make_plan(qnet))
    for modes in itertools.product(("fused", "window", "whole"), repeat=len(names)):
        yield dict(zip(names, modes))


@pytest.mark.parametrize("name", ZOO)
def test_every_stage_mode_is_bit_exact(name):
    qnet = quantized_zoo(name)
    x = int8_inputs(qnet.net.input_shape, n=10)
    ref = forward_int8(qnet, x)
    for modes in _all_mode_plans(qnet):
        plan = make_plan(qnet, modes=modes)
        assert [s.mode for s in plan.stages if s.layer in modes] == list(modes.values())
        got = build(generated(plan), ("-O1", *STRICT)).run_int8(x)
        np.testing.assert_array_equal(got, ref, err_msg=str(modes))


@pytest.mark.parametrize("name", ["lenet-caffe", "lenet-keras"])
def test_cortex_m_dsp_window_kernels_are_bit_exact(name):
    """The DSP dialect's window variants (wide: 2 maps x 2 pixels, narrow: 4 maps x 1 pixel),
    built on the host through the DSP header's portable fallbacks (the Arm paths run under QEMU
    in test_ram_firmware.py), against the integer reference."""
    qnet = quantized_zoo(name)
    x = int8_inputs(qnet.net.input_shape, n=6)
    ref = forward_int8(qnet, x)
    names = _fusable(make_plan(qnet, dialect="cortex-m-dsp"))
    templates = set()
    for modes in itertools.product(("fused", "window", "window-narrow"), repeat=len(names)):
        plan = make_plan(qnet, dialect="cortex-m-dsp", modes=dict(zip(names, modes)))
        templates |= {op.template.rsplit("/", 1)[-1] for op in plan.ops}
        got = build(generated(plan), ("-O1", *STRICT)).run_int8(x)
        np.testing.assert_array_equal(got, ref, err_msg=str(modes))
    assert {"int8_dsp2_window.c.j2", "int8_dsp_window.c.j2"} <= templates


def test_window_mode_falls_back_where_no_window_kernel():
    """beyond-zoo's pools overlap or pad: no stage fuses, and asking for window changes nothing."""
    qnet = quantized_beyond_zoo()
    a, b = make_plan(qnet), make_plan(qnet, modes={"c1": "window", "c2": "window", "c3": "window"})
    assert [s.mode for s in a.stages] == [s.mode for s in b.stages]
    assert a.arena_bytes == b.arena_bytes


def independent_peak(plan) -> int:
    """The most arena bytes alive at once, from the ops alone: a buffer is alive from the op
    that first touches it to the last one (in-place ops share their input's bytes)."""
    elem = plan.numeric.elem_bytes
    align = plan.dialect.align
    owner: dict[int, int] = {}
    for op in plan.ops:
        owner.setdefault(op.src, op.src)
        owner[op.dst] = owner[op.src] if op.inplace else op.dst
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    size: dict[int, int] = {}
    for k, op in enumerate(plan.ops):
        for tid in (op.src, op.dst, op.scratch):
            if tid < 0 or plan.tensors[tid].storage != "arena":
                continue
            b = owner.get(tid, tid)
            first.setdefault(b, k)
            last[b] = k
            size[b] = max(size.get(b, 0), -(-plan.tensors[tid].nbytes(elem) // align) * align)
    return max(sum(size[b] for b in size if first[b] <= k <= last[b]) for k in range(len(plan.ops)))


@pytest.mark.parametrize("name", ZOO)
def test_arena_matches_independent_liveness(name):
    qnet = quantized_zoo(name)
    for modes in _all_mode_plans(qnet):
        plan = make_plan(qnet, modes=modes)
        peak = independent_peak(plan)
        assert plan.arena_lower_bound == peak
        assert peak <= plan.arena_bytes
        # no two buffers alive together overlap in the arena
        spans = {}
        for k, op in enumerate(plan.ops):
            for tid in (op.src, op.dst, op.scratch):
                if tid >= 0 and plan.tensors[tid].storage == "arena":
                    t = plan.tensors[tid]
                    lo, hi, a, z = spans.get(t.buffer, (t.offset, t.offset + t.nbytes(1 if plan.qnet else 4), k, k))
                    spans[t.buffer] = (lo, max(hi, t.offset + t.nbytes(1 if plan.qnet else 4)), min(a, k), max(z, k))
        for (lo1, hi1, a1, z1), (lo2, hi2, a2, z2) in itertools.combinations(spans.values(), 2):
            if a1 <= z2 and a2 <= z1:
                assert hi1 <= lo2 or hi2 <= lo1


def test_call_tree_stack_takes_the_deepest_path():
    from lenetc.firmware.size import EXTERNAL_CALL_BYTES, call_tree_stack

    ci = "\n".join([
        'node: { title: "net_run" label: "net_run\\nnet.c:1:1\\n8 bytes (static)" }',
        'node: { title: "net_run_ws" label: "net_run_ws\\nnet.c:2:1\\n40 bytes (static)" }',
        'node: { title: "net_k" label: "net_k\\nnet.c:3:1\\n96 bytes (static)" }',
        'node: { title: "memset" label: "__builtin_memset\\n<built-in>" shape : ellipse }',
        'edge: { sourcename: "net_run" targetname: "net_run_ws" }',
        'edge: { sourcename: "net_run_ws" targetname: "net_k" }',
        'edge: { sourcename: "net_run_ws" targetname: "memset" }',
        'edge: { sourcename: "net_k" targetname: "memset" }',
    ])  # fmt: skip
    assert call_tree_stack(ci, "net_run") == (8 + 40 + 96 + EXTERNAL_CALL_BYTES, True)
    cyclic = ci + '\nedge: { sourcename: "net_k" targetname: "net_run_ws" }'
    assert call_tree_stack(cyclic, "net_run")[1] is False
    # a file-local (static, out-of-line) callee is titled "file.c:name" by GCC: still followed
    local = ci + "\n".join([
        '',
        'node: { title: "net.c:net_dot4" label: "net_dot4\\nnet.c:9:1\\n56 bytes (static)" }',
        'edge: { sourcename: "net_k" targetname: "net.c:net_dot4" }',
    ])  # fmt: skip
    assert call_tree_stack(local, "net_run") == (8 + 40 + 96 + 56, True)


def test_budget_picks_fastest_fitting_plan_and_refuses_naming_the_smallest():
    import lenetc
    from lenetc.codegen.budget import STACK_RESERVE, fit
    from lenetc.errors import LenetcError

    qnet = quantized_zoo("lenet-keras")
    fastest = make_plan(qnet)
    plan, stack = fit(qnet, fastest.arena_bytes + STACK_RESERVE)
    assert stack == STACK_RESERVE and [s.mode for s in plan.stages] == [s.mode for s in fastest.stages]
    plan, _ = fit(qnet, 8192)
    assert plan.arena_bytes + STACK_RESERVE <= 8192 < fastest.arena_bytes + STACK_RESERVE
    assert [s.mode for s in plan.stages][:2] == ["fused", "window"]  # one stage moved, the one that helps
    smallest = make_plan(qnet, modes={"conv1": "window", "conv2": "window"}).arena_bytes + STACK_RESERVE
    with pytest.raises(LenetcError, match=f"smallest plan needs {smallest:,}.*--ram-bytes {smallest} "):
        fit(qnet, smallest - 1)
    gen = lenetc.generate(qnet, ram_bytes=smallest)
    assert gen.memory.ram_budget == smallest and gen.memory.stack_bytes == STACK_RESERVE


def test_cli_ram_bytes(tmp_path, capsys):
    import json

    from lenetc.cli import main

    assert main(["generate", "lenet-keras", "--weights", "random:1", "--dtype", "int8", "--calib", "16",
                 "--ram-bytes", "100", "-o", str(tmp_path)]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lenetc: error: lenet-keras (int8) does not fit 100 bytes")
    assert main(["size", "lenet-keras", "--weights", "random:1", "--dtype", "int8", "--calib", "16",
                 "--ram-bytes", "8192", "--json"]) == 0  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    mem = doc["memory"]
    assert mem["ram_budget"] == 8192 and mem["arena_bytes"] + mem["stack_bytes"] <= 8192
    assert doc["stack"] == mem["stack_bytes"] and doc["bss"] == mem["arena_bytes"]
    assert [s["mode"] for s in mem["stages"]][:2] == ["fused", "window"] and mem["recompute_macs"] == 0


@pytest.mark.parametrize("name", ["lenet5", "lenet-keras"])
def test_float32_stage_modes_give_the_same_bits(name):
    """float32 has the band (fused) and whole-map modes (no window kernel: asking for it keeps the
    band); every plan gives bit-identical outputs, and they follow the float64 reference
    (tolerance 1e-4 relative: float32 rounding of sums of a few thousand terms)."""
    import lenetc
    from lenetc.reference import forward

    net = lenetc.load(name, "random:1")
    rng = np.random.default_rng(11)
    x = rng.random((6, *net.input_shape)).astype(np.float32)
    names = _fusable(make_plan(net))
    outs = []
    for modes in itertools.product(("fused", "window", "whole"), repeat=len(names)):
        plan = make_plan(net, modes=dict(zip(names, modes)))
        assert "window" not in [s.mode for s in plan.stages]
        outs.append(build(generated(plan), ("-O1", "-ffp-contract=off", *STRICT))(x))
    for got in outs[1:]:
        np.testing.assert_array_equal(got, outs[0])
    want = forward(net, x.astype(np.float64))
    np.testing.assert_allclose(outs[0], want, rtol=1e-4, atol=1e-4)
