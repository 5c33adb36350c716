"""RISC-V boards and the riscv-v dialect: the example firmware on rv32imc (portable C), rv32 with
RVV (Zve32f, run at VLEN 128, 256 and 512 from one build: the kernels are vector-length
agnostic) and rv64gcv Linux user mode prints int8 outputs equal to the NumPy integer reference
bit for bit, and float32 output bits equal to the host reference build (-ffp-contract=off, explicit
fmaf in a fixed order); minstret profiles, measured sizes, CMake, and dialect detection."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from firmware_helpers import hex_words, host_outputs, load, need_target

import lenetc
from lenetc import quant
from lenetc.families import dialect_from_macros, predefined_macros
from lenetc.firmware import make_example, output_checksum, write_example
from lenetc.firmware.digits import synthetic_digits
from lenetc.firmware.profile import profile
from lenetc.firmware.run import build, build_and_run, run
from lenetc.firmware.size import measure
from lenetc.firmware.targets import get_target

VLENS = (128, 256, 512)
#: (board, the dialect its bundle is generated for, the vector lengths it runs at)
BOARDS = {
    "riscv32": ("riscv32", (0,)),
    "riscv32-v": ("riscv32-v", VLENS),
    "riscv64-linux": ("riscv64-linux", (128, 512)),
}


def _calibration(n: int = 32, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ink = rng.random((n, 28, 28)) < 0.2
    return np.where(ink, rng.integers(64, 256, (n, 28, 28)), 0).astype(np.uint8)


def _runs(bundle, board: str, vlens) -> list:
    """Build once for ``board``, run at each vector length."""
    need_target(board)
    t = get_target(board)
    exe = build(bundle, t)
    return [(v, run(exe, t.with_vlen(v) if v else t)) for v in vlens]


@pytest.fixture(scope="module")
def int8_bundles(tmp_path_factory):
    made = {}

    def get(model: str, board: str):
        key = (model, board)
        if key not in made:
            qnet = quant.quantize(load(model), _calibration())
            digits = synthetic_digits(2, seed=5)
            bundle = write_example(qnet, tmp_path_factory.mktemp(f"{model}-{board}"), digits=digits, target=board)
            xq = make_example(bundle.generated.plan, digits).inputs
            made[key] = (bundle, quant.forward_int8(qnet, xq))
        return made[key]

    return get


# LeNet-5 (sparse C3, subsampling, tanh tables, RBF) on every board; the dense-C3/ReLU/avg-pool and
# the Caffe nets where their kernels differ (vector and scalar rv32)
INT8 = [*(("lenet5", b) for b in BOARDS), ("lenet-caffe", "riscv32"), ("lenet-caffe", "riscv32-v"),
        ("lenet5-keras", "riscv32-v")]  # fmt: skip


@pytest.mark.parametrize("model, board", INT8, ids=[f"{m}-{b}" for m, b in INT8])
def test_int8_matches_the_integer_reference(int8_bundles, model, board):
    bundle, want = int8_bundles(model, board)
    assert bundle.generated.plan.dialect.name == ("riscv-v" if board != "riscv32" else "scalar-mcu")
    for vlen, result in _runs(bundle, board, BOARDS[board][1]):
        assert result.ok, f"VLEN {vlen}: {result.stdout[-600:]}"
        assert [[int(v) for v in row] for row in result.outputs] == want.reshape(len(want), -1).tolist(), vlen
        assert result.checksum == output_checksum(want)


FLOAT = [*(("lenet5", b) for b in BOARDS), ("lenet-caffe", "riscv32-v")]


@pytest.mark.parametrize("model, board", FLOAT, ids=[f"{m}-{b}" for m, b in FLOAT])
def test_float32_bits_equal_the_host_build(tmp_path, model, board):
    net = load(model)
    digits = synthetic_digits(2, seed=11)
    bundle = write_example(net, tmp_path, digits=digits, target=board)
    want = host_outputs(net, make_example(lenetc.make_plan(net), digits).inputs)
    for vlen, result in _runs(bundle, board, BOARDS[board][1]):
        assert result.ok, f"VLEN {vlen}: {result.stdout[-600:]}"
        assert result.outputs == hex_words(want), vlen
        assert result.checksum == output_checksum(want)


def test_minstret_profile_adds_up():
    need_target("riscv32-v")
    net = load("lenet5")
    prof = profile(quant.quantize(net, _calibration(16)), target="riscv32-v")
    assert prof.macs == net.totals()["macs"]
    assert 0 < prof.probe_instructions <= 3  # csrr + store, inlined: minstret counts each instruction once
    assert sum(r.instructions for r in prof.layers) + prof.outside == pytest.approx(prof.total_instructions, abs=1e-6)
    assert abs(prof.residual) <= 0.02 * prof.total_instructions
    assert all(r.instructions > 0 for r in prof.layers)


@pytest.mark.parametrize("board", ["riscv32", "riscv32-v"])
def test_size_is_measured_on_the_cross_object(board):
    need_target(board)
    net = load("lenet5")
    gen = lenetc.generate(quant.quantize(net, _calibration(16)), target=get_target(board).dialect)
    r = measure(gen, board)
    assert r.weights > 60_000  # int8 weights and tables: .rodata/.srodata
    assert r.bss >= gen.plan.arena_bytes and 0 < r.stack < 4096 and r.code > 1000


def test_cmake_builds_and_runs_the_vector_board(tmp_path):
    need_target("riscv32-v")
    net = load("lenet5")
    write_example(quant.quantize(net, _calibration(16)), tmp_path, digits=synthetic_digits(2), target="riscv32-v")
    cfg = subprocess.run(["cmake", "-S", str(tmp_path), "-B", str(tmp_path / "b")], capture_output=True, text=True)
    assert cfg.returncode == 0, cfg.stderr
    ran = subprocess.run(["cmake", "--build", str(tmp_path / "b"), "--target", "run"], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stdout[-800:] + ran.stderr[-800:]
    assert "OK" in ran.stdout


def test_dialect_detection_on_riscv_vector():
    assert dialect_from_macros(frozenset({"__riscv", "__riscv_vector"})).name == "riscv-v"
    assert dialect_from_macros(frozenset({"__riscv"})).name == "portable"
    need_target("riscv64-linux")
    flags = ("--target=riscv64-unknown-elf", "-mabi=lp64d")
    assert dialect_from_macros(predefined_macros(("clang-19",), (*flags, "-march=rv64gcv"))).name == "riscv-v"
    assert dialect_from_macros(predefined_macros(("clang-19",), (*flags, "-march=rv64gc"))).name == "portable"


@pytest.mark.parametrize("model", ["lenet5", "lenet5-keras"])
def test_portable_branches_of_the_vector_kernels(int8_bundles, tmp_path, model):
    """The riscv-v C built for the host (no __riscv_vector): the kernels' portable branches give
    the integer reference exactly and the float bits of the portable dialect's build."""
    need_target("host")
    bundle, want = int8_bundles(model, "riscv32-v")
    result = build_and_run(bundle, "host")
    assert result.ok, result.stdout[-600:]
    assert [[int(v) for v in row] for row in result.outputs] == want.reshape(len(want), -1).tolist()
    net = load(model)
    digits = synthetic_digits(2, seed=11)
    fbundle = write_example(net, tmp_path, digits=digits, target="riscv32-v")
    assert any(op.variant.endswith("_rvv") for op in fbundle.generated.plan.ops)
    want_f = host_outputs(net, make_example(lenetc.make_plan(net), digits).inputs)
    result = build_and_run(fbundle, "host")
    assert result.ok and result.outputs == hex_words(want_f), result.stdout[-600:]


def test_soft_float_fmaf_rounds_once(tmp_path):
    """csrc/lenetc_fmaf.h (compiled where RISC-V has no FPU) against the host C library's fmaf,
    which rounds once: 300,000 triples, a third built to cancel (z = -x*y rounded), a third with
    x*y near a float rounding tie and z far below it (where a double sum rounded again to float
    goes the wrong way), bit for bit."""
    need_target("host")
    from lenetc.codegen.render import csrc_dir

    header = (csrc_dir() / "lenetc_fmaf.h").read_text()
    src = tmp_path / "fmaf_check.c"
    src.write_text(
        "#include <math.h>\n#include <stdint.h>\n#include <stdio.h>\n#include <string.h>\n"
        "static float (*volatile ref)(float, float, float) = fmaf;\n"
        "#define __riscv 1\n" + header + "\n"
        """
static uint32_t s = 12345u;
static uint32_t next(void) { s ^= s << 13; s ^= s >> 17; s ^= s << 5; return s; }
static float any(void)
{
    uint32_t b = (next() & 0x807FFFFFu) | ((100u + next() % 56u) << 23);
    float f;
    memcpy(&f, &b, 4);
    return f;
}
int main(void)
{
    long bad = 0, i;
    for (i = 0; i < 300000; ++i) {
        const float x = any(), y = any();
        float z = any();
        float want, got;
        uint32_t a, b;
        float xs = x, ys = y;
        if (i % 3 == 0) z = -(x * y);
        if (i % 3 == 1) z = z * 1e-7f;
        if (i % 3 == 2) { /* x*y near a float rounding tie, z far below it: double rounding's trap */
            xs = 1.0f + (float)(next() % 4096u) * 0x1p-12f;
            ys = 1.0f + (float)(next() % 4096u) * 0x1p-12f;
            z = ldexpf(next() % 2u ? 1.0f : -1.0f, -40 - (int)(next() % 20u));
        }
        want = ref(xs, ys, z);
        got = lenetc_fmaf(xs, ys, z);
        memcpy(&a, &want, 4);
        memcpy(&b, &got, 4);
        bad += a != b;
    }
    printf("%ld\\n", bad);
    return 0;
}
"""
    )
    exe = tmp_path / "fmaf_check"
    cc = subprocess.run(["cc", "-std=c99", "-O2", "-ffp-contract=off", "-mfma" if _x86() else "-O2", str(src), "-o",
                         str(exe), "-lm"], capture_output=True, text=True)  # fmt: skip
    assert cc.returncode == 0, cc.stderr
    out = subprocess.run([str(exe)], capture_output=True, text=True)
    assert out.stdout.strip() == "0"


def _x86() -> bool:
    import platform

    return platform.machine() in ("x86_64", "AMD64")
