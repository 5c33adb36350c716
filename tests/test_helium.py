"""The Helium (MVE) kernels of the Cortex-M55 (lenetc/families/cortex_m_mve/): int8 bit-exact with the NumPy
integer reference under every requantization rule, float32 with the same bits as the host, on
the M55 under QEMU (the MVE path) and on the host (the portable fallback of the same C).

A small net exercises what the zoo does not: an odd number of maps and an odd width (the
duplicate pixel, the overlapping last float vector), a sparse table whose runs wrap, a
convolution with no pooling, subsampling and max pooling epilogues, dense layers whose sizes
are not multiples of 16 or 4. The requantization routines are also checked one by one on tie
cases against lenetc's three rules in NumPy (lenetc.fixedpoint, lenetc.fixedpoint_tflm)."""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest
from firmware_helpers import hex_words, host_outputs, load, need_target
from int8_helpers import STRICT

import lenetc
from lenetc import Act, Conv2D, Dense, Flatten, Network, Pool2D, Subsampling, fixedpoint, fixedpoint_tflm, quant
from lenetc.codegen import generated
from lenetc.codegen.budget import candidate_plans
from lenetc.families import DIALECTS
from lenetc.firmware import make_example, output_checksum, write_example
from lenetc.firmware.digits import synthetic_digits
from lenetc.firmware.run import build, build_and_run
from lenetc.firmware.size import measure
from lenetc.firmware.targets import get_target
from lenetc.network import Preprocess
from lenetc.quant.requant_mode import with_requant
from lenetc.zoo import random_params

M55 = "cortex-m55"


def _calibration(n: int = 24, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ink = rng.random((n, 28, 28)) < 0.2
    return np.where(ink, rng.integers(64, 256, (n, 28, 28)), 0).astype(np.uint8)


def small_net() -> Network:
    """1x28x28 -> conv 4x4 x7 (25 wide, no pooling) -> sparse conv 4x4 x6 -> subsampling ->
    conv 2x2 x8 -> max pool -> dense 200->21 -> dense 21->10."""
    table = np.zeros((6, 7), np.float32)
    for o, maps in enumerate([(0, 1, 2), (5, 6, 0), (1, 3, 5), (2, 3, 4, 5), (6,), range(7)]):
        table[o, list(maps)] = 1
    net = Network("hsmall", (1, 28, 28), [
        Conv2D("c1", out_channels=7, kernel=4, act=Act("relu")),
        Conv2D("c2", out_channels=6, kernel=4, sparse=True, act=Act("scaled_tanh")),
        Subsampling("s2", size=2, act=Act("scaled_tanh")),
        Conv2D("c3", out_channels=8, kernel=2, act=Act("relu")),
        Pool2D("p3", mode="max", kernel=2),
        Flatten("f"),
        Dense("d1", units=21, act=Act("tanh")),
        Dense("d2", units=10),
    ])  # fmt: skip
    net.params = {**random_params(net, 7), "c2.table": table}
    return net.validate().with_preprocess(Preprocess(1 / 255, 0.0, 0))


@pytest.fixture(scope="module")
def int8_bundles(tmp_path_factory):
    made = {}

    def get(model: str, rule: str = "int"):
        if (model, rule) not in made:
            net = small_net() if model == "small" else load(model)
            qnet = quant.quantize(net, _calibration())
            qnet = qnet if rule == "int" else with_requant(qnet, rule)
            digits = synthetic_digits(2, seed=9)
            out = tmp_path_factory.mktemp(f"{model}-{rule}-mve")
            bundle = write_example(qnet, out, digits=digits, target=M55)
            xq = make_example(bundle.generated.plan, digits).inputs
            made[model, rule] = (bundle, quant.forward_int8(qnet, xq))
        return made[model, rule]

    return get


def _code(bundle) -> str:
    return "\n".join(p.read_text() for p in bundle.directory.glob("*.c"))


def test_the_helium_int8_kernels_are_used(int8_bundles):
    code = _code(int8_bundles("small")[0])
    for routine in ("lenetc_dot2x2_s8(", "lenetc_dot2x1_s8(", "lenetc_gather_s8(", "lenetc_dot4_s8(",
                    "lenetc_rqmax2x2_i(", "lenetc_sub2x2_i(", "lenetc_rqrow_i(", "lenetc_rqvec_i("):  # fmt: skip
        assert routine in code, routine
    assert "as runs of consecutive input maps" in code  # the sparse table kept sparse
    assert "odd width: the last pass computes its pixel twice" in code


INT8_CASES = [("small", r, t) for r in ("int", "tflm", "float") for t in (M55, "host")] + [
    (m, "int", M55) for m in ("lenet5", "lenet-caffe", "lenet-keras", "lenet5-keras")
] + [("lenet5", "tflm", M55), ("lenet5-keras", "float", M55)]  # fmt: skip


@pytest.mark.parametrize("model, rule, target", INT8_CASES, ids=["-".join(c) for c in INT8_CASES])
def test_helium_int8_matches_the_integer_reference(int8_bundles, model, rule, target):
    need_target(target)
    bundle, want = int8_bundles(model, rule)
    result = build_and_run(bundle, target)
    assert result.ok, result.stdout
    assert [[int(v) for v in row] for row in result.outputs] == want.reshape(len(want), -1).tolist()
    assert result.checksum == output_checksum(want)


@pytest.fixture(scope="module")
def window_bundle(tmp_path_factory):
    """The small net planned for the least RAM it fits: its stages in window order."""
    qnet = quant.quantize(small_net(), _calibration())
    digits = synthetic_digits(2, seed=9)
    # the least RAM among the Helium family's own plans (the budget tries those before the portable
    # ones, which may need even less): there the plan is the Helium window-order kernel's
    least = min(p.arena_bytes + measure(generated(p), M55).stack for p in candidate_plans(qnet, None, "cortex-m-mve"))
    bundle = write_example(qnet, tmp_path_factory.mktemp("window-mve"), digits=digits, target=M55, ram_bytes=least)
    return bundle, quant.forward_int8(qnet, make_example(bundle.generated.plan, digits).inputs)


@pytest.mark.parametrize("target", [M55, "host"])
def test_helium_int8_window_order_matches_the_reference(window_bundle, target):
    """The RAM budget's window mode has a Helium kernel too (two patches and one accumulator
    per map instead of a band of int32 rows)."""
    need_target(target)
    bundle, want = window_bundle
    assert [s.mode for s in bundle.generated.plan.stages if s.mode != "whole"] == ["window", "window"]
    modes = [op.mode for op in bundle.generated.plan.ops if op.variant == "conv2d/int8_mve"]
    assert modes == ["whole", "window", "window"]
    result = build_and_run(bundle, target)
    assert result.ok, result.stdout
    assert [[int(v) for v in row] for row in result.outputs] == want.reshape(len(want), -1).tolist()


@pytest.fixture(scope="module")
def float_bundles(tmp_path_factory):
    made = {}

    def get(model: str, scale: float | None = None):
        if (model, scale) not in made:
            net = small_net() if model == "small" else load(model)
            if scale is not None:  # tiny inputs, and no bias in the first layer to lift its sums
                net = net.with_preprocess(Preprocess(scale, 0.0, net.preprocess.pad))
                net.params["c1.bias"] = np.zeros_like(net.params["c1.bias"])
            digits = synthetic_digits(2, seed=9)
            bundle = write_example(net, tmp_path_factory.mktemp(f"{model}-f32-mve"), digits=digits, target=M55)
            want = host_outputs(net, make_example(lenetc.make_plan(net), digits).inputs)
            made[model, scale] = (bundle, hex_words(want), output_checksum(want))
        return made[model, scale]

    return get


FLOAT_CASES = [("small", M55), ("small", "host"), ("lenet5", M55)]


@pytest.mark.parametrize("model, target", FLOAT_CASES, ids=["-".join(c) for c in FLOAT_CASES])
def test_helium_float32_prints_the_host_bits(float_bundles, model, target):
    need_target(target)
    bundle, words, checksum = float_bundles(model)
    code = _code(bundle)
    assert "_mve(" in code and "vfmaq_n_f32(" in code
    result = build_and_run(bundle, target)
    assert result.ok, result.stdout
    assert result.outputs == words
    assert result.checksum == checksum


def test_float32_subnormals_take_the_scalar_path(float_bundles):
    """MVE flushes subnormals to zero: an input of subnormals (pixel * 1e-39), and a normal input
    whose products underflow (pixel * 1.2e-38 times weights below 1, summed without a bias),
    must still give the host's bits; the scalar path that makes it so costs more instructions
    than the vector path on normal inputs."""
    need_target(M55)
    counts = {}
    for scale in (1 / 255, 1.2e-38, 1e-39):
        bundle, words, checksum = float_bundles("small", scale)
        result = build_and_run(bundle, M55, icount=True)
        assert result.ok, result.stdout
        assert result.outputs == words and result.checksum == checksum
        counts[scale] = sum(result.ticks)
    assert counts[1e-39] > counts[1 / 255] and counts[1.2e-38] > counts[1 / 255]


# ---- the requantization routines one by one ------------------------------------------------------

RULES = ("i", "t", "f")
NO_LUT = "(const int8_t *)0"


def _cases(rule: str) -> list[tuple[int, int, float]]:
    """(mult, shift, float scale) per channel, ties included: M = 2^30 makes acc * M / 2^n an
    exact binary fraction."""
    if rule == "f":
        return [(0, 0, s) for s in (0.5, 0.25, 1.5, 3.0517578125e-05, 0.0013, 0.75)]
    if rule == "i":
        return [(1 << 30, 32, 0), (1 << 30, 40, 0), (1 << 30, 62, 0), (1518500250, 37, 0), (0, 1, 0),
                (2**31 - 1, 33, 0)]  # fmt: skip
    return [(1 << 30, 32, 0), (1 << 30, 40, 0), (1 << 30, 31, 0), (1 << 30, 28, 0), (1518500250, 37, 0), (0, 31, 0)]


def _accs(rule: str, mult: int, shift: int, scale: float, rng) -> np.ndarray:
    """Ties of the rule's rounding steps, random values, the extremes; a length that is not a
    multiple of 4 (the predicated tail)."""
    k = np.arange(-40, 41)
    if rule == "f":
        ties = np.round((k + 0.5) / scale).astype(np.int64)
    elif rule == "i" and mult == 1 << 30:
        ties = (2 * k + 1) << (shift - 31)
    elif rule == "t":  # the doubling high multiply's ties, then the divide-by-power-of-two's
        ties = np.r_[2 * k + 1, ((2 * k + 1) << max(shift - 30, 0)) if shift > 31 else 2 * k + 1]
    else:
        ties = k * 977
    limit = (1 << 31) - 1 if not (rule == "t" and shift < 31) else (1 << shift) - 1  # acc << (31 - shift) fits
    acc = np.r_[ties, rng.integers(-limit, limit, 120), -limit, limit, 0].astype(np.int64)
    return np.clip(acc, -limit, limit)[: 4 * (len(acc) // 4) - 3]


def _reference(rule, acc, mult, shift, scale, zp, lo, hi):
    if rule == "i":
        return fixedpoint.requantize(acc, mult, shift, zp, lo, hi).astype(np.int64)
    if rule == "t":
        return fixedpoint_tflm.requantize(acc, mult, shift, zp, lo, hi).astype(np.int64)
    return fixedpoint.requantize_float(acc, np.float32(scale), zp, lo, hi).astype(np.int64)


def _c_array(name: str, ctype: str, values) -> str:
    if ctype == "float":
        body = ", ".join(f"{np.float32(v).item()!r}f" for v in values)  # repr reads back the same float32
    else:
        body = ", ".join(str(int(v)) for v in values)
    return f"static const {ctype} {name}[{len(values)}] = {{{body}}};\n"


HARNESS = r"""
static int8_t o8[512];
static int32_t a32[512];
static void show(const int8_t *v, int n)
{
    int i;
    for (i = 0; i < n; ++i) {
        printf("%d ", v[i]);
    }
    printf("\n");
}
static void show32(const int32_t *v, int n)
{
    int i;
    for (i = 0; i < n; ++i) {
        printf("%ld ", (long)v[i]);
    }
    printf("\n");
}
int main(void)
{
"""


def _requant_program(rng) -> tuple[str, list[np.ndarray]]:
    """C calling every routine of every rule, and what each printed line must be."""
    lut = rng.integers(-128, 128, 256).astype(np.int8)
    src = ["#include <stdint.h>\n#include <stdio.h>\n#include <string.h>\n"]
    src += [f"#define LENETC_USE_{n}_{r.upper()} 1\n" for n in ("RQROW", "RQROW32", "RQMAX2X2", "SUB2X2", "RQVEC")
            for r in RULES]  # fmt: skip
    src += [DIALECTS["cortex-m-mve"].headers(False)[0].read_text(), _c_array("lut", "int8_t", lut)]
    body, want = [], []

    def check(call: str, ref: np.ndarray, n: int, wide: bool = False) -> None:
        body.append(f"    {call};\n    {'show32(a32' if wide else 'show(o8'}, {n});\n")
        want.append(ref)

    for r in RULES:
        for c, (mult, shift, scale) in enumerate(_cases(r)):
            acc = _accs(r, mult, shift, scale, rng)
            n, m, tag = len(acc), len(acc) // 4, f"{r}{c}"
            zp, lo, hi = (int(rng.integers(-20, 20)), -128, 127) if c % 2 else (-5, -5, 127)
            rq = f"{np.float32(scale).item()!r}f" if r == "f" else f"{mult}, {shift}"
            tail = f"{rq}, {zp}, {lo}, {hi}"
            table = "lut" if c % 3 == 1 else NO_LUT
            src.append(_c_array(f"acc_{tag}", "int32_t", acc))
            ref = _reference(r, acc, mult, shift, scale, zp, lo, hi)
            ref = lut[ref + 128].astype(np.int64) if table == "lut" else ref
            check(f"lenetc_rqrow_{r}(o8, acc_{tag}, {n}, {tail}, {table})", ref, n)
            check(f"memcpy(a32, acc_{tag}, sizeof acc_{tag});\n    lenetc_rqrow32_{r}(a32, {n}, {tail}, {table})",
                  ref, n, wide=True)  # fmt: skip
            r0, r1 = acc[: 2 * m], acc[2 * m : 4 * m]  # two rows of 2m values: the 2x2 max
            mx = np.maximum(np.maximum(r0[0::2], r0[1::2]), np.maximum(r1[0::2], r1[1::2]))
            check(f"lenetc_rqmax2x2_{r}(o8, acc_{tag}, acc_{tag} + {2 * m}, {m}, {tail}, {NO_LUT})",
                  _reference(r, mx, mult, shift, scale, zp, lo, hi), m)  # fmt: skip
            vals = rng.integers(-128, 128, 4 * m)  # int8 values held as int32: the subsampling
            coeff, bias = int(rng.integers(-127, 128)), int(rng.integers(-5000, 5000))
            s0, s1 = vals[: 2 * m], vals[2 * m :]
            ssum = s0[0::2] + s0[1::2] + s1[0::2] + s1[1::2]
            src.append(_c_array(f"val_{tag}", "int32_t", vals))
            check(f"lenetc_sub2x2_{r}(o8, val_{tag}, val_{tag} + {2 * m}, {m}, {coeff}, {bias}, {tail}, {NO_LUT})",
                  _reference(r, ssum * coeff + bias, mult, shift, scale, zp, lo, hi), m)  # fmt: skip
        # per-channel parameters (a dense layer): seven accumulators of each case's channel
        cases = _cases(r)
        acc = np.concatenate([_accs(r, *cs, rng)[:7] for cs in cases])
        chans = [cases[i // 7] for i in range(len(acc))]
        ref = np.concatenate([_reference(r, acc[i : i + 1], *chans[i], 3, -128, 127) for i in range(len(acc))])
        src.append(_c_array(f"vacc_{r}", "int32_t", acc))
        if r == "f":
            src.append(_c_array("vscale", "float", [ch[2] for ch in chans]))
            params = "vscale"
        else:
            src.append(_c_array(f"vmult_{r}", "int32_t", [ch[0] for ch in chans]))
            src.append(_c_array(f"vshift_{r}", "int8_t", [ch[1] for ch in chans]))
            params = f"vmult_{r}, vshift_{r}"
        check(f"lenetc_rqvec_{r}(o8, vacc_{r}, {len(acc)}, {params}, 3, -128, 127, {NO_LUT})", ref, len(acc))
    return "".join(src) + HARNESS + "".join(body) + "    return 0;\n}\n", want


def test_requantization_routines_are_exact_on_the_m55(tmp_path):
    """Every row routine of every rule against NumPy, on ties and random accumulators, with and
    without a table, clamped to a ReLU range in some cases."""
    need_target(M55)
    program, want = _requant_program(np.random.default_rng(1))
    bundle = write_example(small_net(), tmp_path, digits=synthetic_digits(1), target=M55)
    (tmp_path / "main.c").write_text(program)  # the example's startup and link script, this main
    exe = build(bundle, M55, extra_cflags="-Wno-unused-function")
    proc = subprocess.run(get_target(M55).run_command(str(exe)), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0 and len(lines) == len(want), proc.stdout[-2000:]
    for i, (line, ref) in enumerate(zip(lines, want)):
        assert [int(v) for v in line.split()] == ref.tolist(), f"check {i}"


@pytest.mark.parametrize("rule", ["int", "tflm", "float", "float32"])
def test_helium_c_is_strict_clean_under_clang_for_the_m55(tmp_path, rule):
    """clang (which warns of unused static functions, and has its own arm_mve.h) builds the
    Helium C for the M55 under the strict warnings as errors, for every rule and dtype."""
    if shutil.which("clang-19") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("clang-19 is missing")
        pytest.skip("no clang-19")
    net = small_net()
    model = net if rule == "float32" else quant.quantize(net, _calibration())
    model = model if rule in ("int", "float32") else with_requant(model, rule)
    gen = lenetc.generate(model, tmp_path, target="cortex-m-mve")
    src = tmp_path / gen.symbols.source
    target = ["--target=arm-none-eabi", "-mcpu=cortex-m55", "-mfloat-abi=hard"]
    target += ["-isystem", "/usr/lib/arm-none-eabi/include"]  # newlib's headers
    cmd = ["clang-19", *target, *STRICT, "-O2", "-ffp-contract=off", "-c", str(src), "-o", os.devnull]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
