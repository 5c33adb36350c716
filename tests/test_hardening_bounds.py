"""Issue 21, crashes and unbounded memory: model-sized stack arrays in kernels (item 5), pointer
checks in the entry points (item 6), and what small files or large inputs cost (items 16-19)."""

from __future__ import annotations

import json
import resource
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import STRICT_FLAGS

import lenetc
from lenetc.codegen.artifact import generated
from lenetc.codegen.plan import make_plan
from lenetc.reference import forward

# -- item 5: no model-sized arrays on the stack ----------------------------------------------

#: The generated C runs under this stack limit, the Linux default: a kernel row of 3,000,000
#: floats (12 MB) on the stack used to overflow it.
STACK_LIMIT = 8 * 2**20
WIDE = 3_000_000

HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include "wide.h"
int main(int argc, char **argv)
{
    FILE *f = fopen(argv[1], "rb");
    float *in = malloc(sizeof(float) * WIDE_INPUT_SIZE);
    float out[WIDE_OUTPUT_SIZE];
    int i, status;
    (void)argc;
    if (f == NULL || in == NULL || fread(in, sizeof(float), WIDE_INPUT_SIZE, f) != WIDE_INPUT_SIZE) {
        return 3;
    }
    fclose(f);
    status = wide_run(in, out);
    for (i = 0; i < WIDE_OUTPUT_SIZE; ++i) {
        printf("%.9g\n", (double)out[i]);
    }
    free(in);
    return status;
}
"""


def wide_row_net(tmp_path: Path) -> lenetc.Network:
    """Input 1 x 2 x 3,000,000: 1x1 conv, LeNet-5 subsampling, 1x1 conv, max pool to 1x10, dense."""
    arch = {
        "format": 1,
        "name": "wide",
        "input_shape": [1, 2, WIDE],
        "preprocess": {"scale": 1 / 255, "offset": 0.0, "pad": 0},
        "layers": [
            {"kind": "conv2d", "name": "c1", "out_channels": 1, "kernel": [1, 1], "stride": [1, 1],
             "padding": [0, 0, 0, 0], "groups": 1, "act": "relu", "sparse": False},
            {"kind": "subsampling", "name": "s2", "size": 2, "act": "tanh"},
            {"kind": "conv2d", "name": "c3", "out_channels": 1, "kernel": [1, 1], "stride": [1, 1],
             "padding": [0, 0, 0, 0], "groups": 1, "act": None, "sparse": False},
            {"kind": "pool2d", "name": "p4", "mode": "max", "kernel": [1, WIDE // 20], "stride": [1, WIDE // 20],
             "padding": [0, 0, 0, 0], "ceil_mode": False, "count_include_pad": False},
            {"kind": "dense", "name": "fc", "units": 10, "act": None},
        ],
    }  # fmt: skip
    rng = np.random.default_rng(5)
    params = {
        "c1.weight": np.full((1, 1, 1, 1), 0.5, np.float32),
        "c1.bias": np.full(1, 0.1, np.float32),
        "s2.coeff": np.full(1, 0.3, np.float32),
        "s2.bias": np.full(1, -0.2, np.float32),
        "c3.weight": np.full((1, 1, 1, 1), 1.5, np.float32),
        "c3.bias": np.full(1, 0.05, np.float32),
        "fc.weight": rng.normal(0, 0.5, (10, 10)).astype(np.float32),
        "fc.bias": rng.normal(0, 0.1, 10).astype(np.float32),
    }
    path = tmp_path / "wide.npz"
    np.savez(path, __arch__=np.array(json.dumps(arch)), **params)
    return lenetc.load(path)


def _limit_stack() -> None:
    resource.setrlimit(resource.RLIMIT_STACK, (STACK_LIMIT, STACK_LIMIT))


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "whole"])
def test_wide_rows_run_within_the_default_stack(tmp_path, fused):
    """Each conv/subsampling row used to be ``float acc[ow]`` on the stack (SIGSEGV here); it is
    now accumulated in the arena (its output or the planned band). The answer is checked against
    the float64 reference: relative 1e-5 of the largest output (a handful of float32 roundings)."""
    net = wide_row_net(tmp_path)
    modes = None if fused else {"c1": "whole", "c3": "whole"}
    plan = make_plan(net, "wide", modes=modes)
    gen = generated(plan).write(tmp_path)
    assert max(plan.arena_bytes, 0) < 2**31
    src = gen.files["wide.c"]
    assert "float acc[" not in src
    (tmp_path / "main.c").write_text(HARNESS)
    exe = tmp_path / "wide"
    cc = subprocess.run(["gcc", *STRICT_FLAGS, "-O1", "-I", str(tmp_path), str(tmp_path / "main.c"),
                         str(tmp_path / "wide.c"), "-o", str(exe), "-lm"], capture_output=True, text=True)  # fmt: skip
    assert cc.returncode == 0, cc.stderr
    x = np.random.default_rng(0).uniform(-1, 1, (1, 2, WIDE)).astype(np.float32)
    x.tofile(tmp_path / "in.bin")
    run = subprocess.run([str(exe), str(tmp_path / "in.bin")], capture_output=True, text=True,
                         preexec_fn=_limit_stack)  # fmt: skip
    assert run.returncode == 0, f"status {run.returncode}: {run.stderr}"
    got = np.array([float(v) for v in run.stdout.split()])
    want = forward(net, x)
    assert np.max(np.abs(got - want)) <= 1e-5 * np.max(np.abs(want))


# -- item 6: pointers checked before arithmetic, size_t offsets ------------------------------

NULL_HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "m.h"
typedef M_IN_T in_t;
static unsigned char ws_raw[M_ARENA_BYTES + 64];
int main(void)
{
    static in_t in[2 * M_INPUT_SIZE];
    static M_OUT_T out[2 * M_OUTPUT_SIZE], one[2 * M_OUTPUT_SIZE];
    void *ws = ws_raw + (64u - (unsigned)((size_t)ws_raw % 64u)) % 64u;
    int i;
    for (i = 0; i < 2 * M_INPUT_SIZE; ++i) {
        in[i] = (in_t)((i * 37) % 101 - 50) / (in_t)M_DIV;
    }
    printf("predict_null %d\n", m_predict(NULL));
    printf("batch_null_in %d\n", m_run_batch(NULL, out, 1, ws));
    printf("batch_null_out %d\n", m_run_batch(in, NULL, 1, ws));
    printf("batch_null_ws %d\n", m_run_batch(in, out, 1, NULL));
    printf("batch_null_n0 %d\n", m_run_batch(NULL, NULL, 0, NULL));
    printf("batch_negative %d\n", m_run_batch(in, out, -1, ws));
    printf("batch_two %d\n", m_run_batch(in, out, 2, ws));
    printf("ws_0 %d\n", m_run_ws(in, one, ws));
    printf("ws_1 %d\n", m_run_ws(in + M_INPUT_SIZE, one + M_OUTPUT_SIZE, ws));
    printf("same %d\n", memcmp(out, one, sizeof out) == 0);
    printf("predict %d\n", m_predict(out));
    return 0;
}
"""


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_null_pointers_give_err_null_under_ubsan(tmp_path, dtype):
    """``m_predict(NULL)`` used to dereference NULL (SIGSEGV) and ``m_run_batch(NULL, ...)`` to
    offset a null pointer first (UBSan: "applying zero offset to null pointer"); built with clang
    -fsanitize=address,undefined and no recovery, every NULL gives ERR_NULL (-1), nothing else."""
    from int8_helpers import quantized_zoo

    model = lenetc.load("lenet5", "random:1") if dtype == "float32" else quantized_zoo("lenet5")
    gen = lenetc.generate(model, tmp_path, prefix="m")
    assert "(long)" not in gen.files["m.c"]
    in_t, out_t, div = ("float", "float", "50") if dtype == "float32" else ("int8_t", "int8_t", "1")
    out_t = "m_out_t" if dtype == "int8" else out_t
    (tmp_path / "main.c").write_text(
        f"#define M_IN_T {in_t}\n#define M_OUT_T {out_t}\n#define M_DIV {div}\n" + NULL_HARNESS
    )
    exe = tmp_path / "a.out"
    flags = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-O1"]
    cc = subprocess.run(["clang", "-std=c99", *flags, "-I", str(tmp_path), str(tmp_path / "main.c"),
                         str(tmp_path / "m.c"), "-o", str(exe), "-lm"], capture_output=True, text=True)  # fmt: skip
    assert cc.returncode == 0, cc.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True)
    assert run.returncode == 0 and run.stderr == "", run.stderr
    got = dict(line.split() for line in run.stdout.splitlines())
    for key in ("predict_null", "batch_null_in", "batch_null_out", "batch_null_ws", "batch_null_n0"):
        assert got[key] == "-1", (key, run.stdout)
    assert got["batch_negative"] == "-3" and got["batch_two"] == "0" and got["same"] == "1"
    assert 0 <= int(got["predict"]) < 10
