"""Hardening of the generated C: the strict warning set under every cross compiler, clean
under ASan+UBSan for random and extreme inputs, and no reads of uninitialised arena memory
(valgrind memcheck with a workspace from malloc, which valgrind tracks as undefined)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest
from firmware_helpers import load, need_target

import lenetc
from lenetc import generate
from lenetc.codegen.render import render
from lenetc.firmware.digits import synthetic_digits
from lenetc.firmware.targets import TARGETS, WARN_CFLAGS

# lenet-caffe uses the same kernels as lenet-keras (conv, max pool, dense, ReLU, softmax)
# and only makes each compile slower; the four below cover every template the zoo uses.
MODELS = ("lenet5", "lenet5-softmax", "lenet-keras", "lenet5-keras")
#: One cross board per compiler, dialect and float ABI of the board registry.
CROSS = tuple({(t.cc, t.dialect.name, t.has_fpu): n for n, t in reversed(TARGETS.items()) if t.kind != "host"}.values())

# Runs the model through its workspace API on seeded random inputs and on extreme ones
# (huge, tiny, subnormal, signed zeros, alternating signs), printing an FNV-1a of each output
# so that every output bit is used (valgrind reports uses of undefined bits); infinities and
# NaN must be refused with NET_ERR_INPUT.
HARNESS = r"""
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "net.h"

static uint32_t state = 12345u;
static float uniform(float lo, float hi)
{
    state = state * 1664525u + 1013904223u;
    return lo + (hi - lo) * (float)(state >> 8) * (1.0f / 16777216.0f);
}

static const char *fill(float *in, int which)
{
    int i;
    for (i = 0; i < NET_INPUT_SIZE; ++i) {
        switch (which) {
        case 0: in[i] = uniform(-1.0f, 1.0f); break;
        case 1: in[i] = uniform(0.0f, 1.0f); break;
        case 2: in[i] = uniform(-1.0e4f, 1.0e4f); break;
        case 3: in[i] = FLT_MAX; break;
        case 4: in[i] = (i & 1) ? FLT_MAX : -FLT_MAX; break;
        case 5: in[i] = (i & 1) ? FLT_MIN / 4.0f : -FLT_MIN / 8.0f; break;
        case 6: in[i] = (i & 1) ? 0.0f : -0.0f; break;
        case 7: in[i] = uniform(-1.0f, 1.0f) * 1.0e30f; break;
        case 8: in[i] = (i % 3) ? HUGE_VALF : -HUGE_VALF; break;
        default: in[i] = (i == NET_INPUT_SIZE / 2) ? NAN : uniform(-1.0f, 1.0f); break;
        }
    }
    return "ok";
}

int main(void)
{
    float *in = malloc(sizeof(float) * NET_INPUT_SIZE);
    float *out = malloc(sizeof(float) * NET_OUTPUT_SIZE);
    void *workspace = malloc(net_workspace_size() ? net_workspace_size() : 1u);
    int which, k;
    if (in == NULL || out == NULL || workspace == NULL) {
        return 2;
    }
    for (which = 0; which < 10; ++which) {
        uint32_t hash = 2166136261u;
        int status;
        fill(in, which);
        status = net_run_ws(in, out, workspace);
        if (which >= 8) {
            /* infinities and a NaN: refused with a status, the output untouched */
            if (status != NET_ERR_INPUT) {
                printf("case %d: status %d, expected NET_ERR_INPUT\n", which, status);
                return 1;
            }
            continue;
        }
        if (status == NET_ERR_INPUT && (which == 3 || which == 4 || which == 7)) {
            /* finite inputs past the bound the header states (|x| >= 2^k) are refused too */
            printf("case %d: refused past the input bound\n", which);
            continue;
        }
        if (status != NET_OK) {
            printf("case %d: status %d\n", which, status);
            return 1;
        }
        for (k = 0; k < NET_OUTPUT_SIZE; ++k) {
            uint32_t bits;
            memcpy(&bits, &out[k], sizeof bits);
            hash = (hash ^ bits) * 16777619u;
        }
        printf("case %d: class %d hash %08lx\n", which, net_predict(out), (unsigned long)hash);
    }
    free(in);
    free(out);
    free(workspace);
    return 0;
}
"""


def _write(tmp_path: Path, model: str) -> Path:
    generate(load(model), tmp_path, prefix="net")
    (tmp_path / "harness.c").write_text(HARNESS)
    return tmp_path


def _compile(cc: str, flags: list[str], srcs: list[Path], out: Path) -> None:
    proc = subprocess.run([cc, *flags, *map(str, srcs), "-o", str(out), "-lm"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _sources(tmp_path: Path) -> list[Path]:
    """The generated .c of every model in MODELS: float32, and int8 where lenetc.quant exists."""
    srcs = []
    quant = importlib.util.find_spec("lenetc.quant") is not None
    for model in MODELS:
        net = load(model)
        for dtype in ("float32", "int8") if quant else ("float32",):
            prefix = f"{model.replace('-', '_')}_{dtype}"
            qnet = None
            if dtype == "int8":
                from lenetc.quant import quantize

                qnet = quantize(net, synthetic_digits(16, seed=2).images)
            for name, text in render(lenetc.make_plan(qnet if dtype == "int8" else net, prefix)).items():
                (tmp_path / name).write_text(text)
            srcs.append(tmp_path / f"{prefix}.c")
    return srcs


@pytest.mark.parametrize("target", CROSS)
def test_strict_warnings_under_cross_compilers(tmp_path, target):
    """int32_t is long on arm-none-eabi: -Wconversion finds there what x86 does not."""
    need_target(target)
    t = TARGETS[target]
    for src in _sources(tmp_path):
        proc = subprocess.run(
            [t.cc, *t.cflags, *WARN_CFLAGS, "-Werror", "-c", str(src), "-o", str(tmp_path / "x.o")],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, f"{src.name}: {proc.stderr}"


@pytest.mark.parametrize("model", MODELS + ("lenet-caffe",))
def test_asan_ubsan_clean_on_random_and_extreme_inputs(tmp_path, model):
    if shutil.which("clang") is None:
        pytest.skip("clang is not installed (apt-get install --no-install-recommends clang libclang-rt-14-dev)")
    d = _write(tmp_path, model)
    exe = d / "harness"
    flags = ["-std=c99", "-O1", "-g", "-fsanitize=address,undefined,float-cast-overflow", "-fno-sanitize-recover=all"]
    _compile("clang", [*flags, *WARN_CFLAGS, "-Werror"], [d / "net.c", d / "harness.c"], exe)
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "runtime error" not in proc.stderr and proc.stdout.count("hash") + proc.stdout.count("refused") == 8


@pytest.mark.parametrize("model", MODELS)
def test_no_uninitialised_reads_under_valgrind(tmp_path, model):
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind is not installed (apt-get install --no-install-recommends valgrind)")
    d = _write(tmp_path, model)
    exe = d / "harness"
    _compile("gcc", ["-std=c99", "-O1", "-g"], [d / "net.c", d / "harness.c"], exe)
    proc = subprocess.run(
        ["valgrind", "-q", "--error-exitcode=9", "--undef-value-errors=yes", str(exe)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("hash") + proc.stdout.count("refused") == 8


def test_valgrind_check_has_teeth(tmp_path):
    """Negative control: the same valgrind options flag a hash of never-written heap memory."""
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind is not installed (apt-get install --no-install-recommends valgrind)")
    src = tmp_path / "uninit.c"
    src.write_text(
        "#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n"
        "int main(void) {\n    uint32_t *ws = malloc(64), h = 2166136261u;\n    int i;\n"
        "    if (ws == NULL) return 2;\n    ws[0] = 1u;\n"
        "    for (i = 0; i < 16; ++i) h = (h ^ ws[i]) * 16777619u;\n"
        '    printf("%08lx\\n", (unsigned long)h);\n    free(ws);\n    return 0;\n}\n'
    )
    _compile("gcc", ["-std=c99", "-O1", "-g"], [src], tmp_path / "uninit")
    proc = subprocess.run(
        ["valgrind", "-q", "--error-exitcode=9", "--undef-value-errors=yes", str(tmp_path / "uninit")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 9 and "uninitialised" in proc.stderr
