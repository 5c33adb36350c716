"""Properties of the generated C: strict compiles, no heap, read-only weights, prefixes that
let two models link together, sanitizer-clean runs, deterministic output, a minimal arena."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

import lenetc
from lenetc.codegen.render import render
from tests.conftest import STRICT_FLAGS, ZOO_NAMES, compilers

pytestmark = pytest.mark.skipif(not compilers(), reason="needs gcc or clang")


@pytest.fixture(scope="module")
def generated(tmp_path_factory, zoo_nets):
    out = tmp_path_factory.mktemp("gen")
    for name in ZOO_NAMES:
        lenetc.generate(zoo_nets[name], out, prefix=name.replace("-", "_"))
    return out


@pytest.mark.parametrize("cc", compilers())
@pytest.mark.parametrize("name", ZOO_NAMES)
def test_strict_compile_no_heap_readonly_weights(cc, name, generated):
    prefix = name.replace("-", "_")
    obj = generated / f"{prefix}.{cc}.o"
    proc = subprocess.run(
        [cc, *STRICT_FLAGS, "-O2", "-c", str(generated / f"{prefix}.c"), "-o", str(obj)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    symbols = subprocess.run(["nm", str(obj)], capture_output=True, text=True).stdout
    for fn in ("malloc", "calloc", "realloc", "free"):
        assert not re.search(rf"\bU {fn}\b", symbols), f"{fn} referenced"
    table = subprocess.run(["objdump", "-t", str(obj)], capture_output=True, text=True).stdout
    weight_rows = [line for line in table.splitlines() if "_weight" in line and " O " in line]
    assert weight_rows and all(".rodata" in line for line in weight_rows), weight_rows
    exported = {m.group(1) for m in re.finditer(r" T (\w+)", symbols)}
    assert exported and all(sym.startswith(prefix + "_") for sym in exported), exported


def test_header_comment_names_tool_model_and_hash(zoo_nets):
    net = zoo_nets["lenet5"]
    files = render(lenetc.make_plan(net, "m"))
    for text in files.values():
        head = text[:600]
        assert f"lenetc {lenetc.__version__}" in head and "lenet5" in head and net.weights_hash() in head
    assert 'extern "C"' in files["m.h"]
    assert re.search(r"#include <(?!math|stdint|string)", files["m.c"]) is None


def test_generation_is_deterministic(zoo_nets):
    net = zoo_nets["lenet-caffe"]
    assert render(lenetc.make_plan(net)) == render(lenetc.make_plan(lenetc.load("lenet-caffe", "random:1")))


@pytest.mark.parametrize("dialect", ["portable", "x86"])
@pytest.mark.parametrize("name", ZOO_NAMES)
def test_arena_meets_liveness_bound(name, dialect, zoo_nets):
    """The arena is no larger than the most bytes alive during any one layer (a chain net keeps
    only a layer's input, output and scratch alive), each rounded up to the dialect's alignment."""
    plan = lenetc.make_plan(zoo_nets[name], dialect=dialect)
    align = {"portable": 4, "x86": 64}[dialect]
    assert plan.dialect.align == align and plan.arena_bytes == plan.arena_lower_bound
    sizes = []
    for op in plan.ops:
        live = [plan.tensors[t] for t in {op.src, op.dst, op.scratch} - {-1} if plan.tensors[t].storage == "arena"]
        sizes.append(sum(-(-t.size * (t.elem_bytes or 4) // align) * align for t in live))
    assert plan.arena_bytes == max(sizes)


HARNESS = r"""
#include <stdio.h>
#include <stdint.h>
#include "a.h"
#include "b.h"
static float in_a[A_INPUT_SIZE], in_b[B_INPUT_SIZE], out_a[A_OUTPUT_SIZE], out_b[B_OUTPUT_SIZE];
static float ws[(A_ARENA_BYTES + 3) / 4];
static float next_value(uint32_t s) { return (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f; }
int main(void)
{
    uint32_t s = 12345u;
    int i, r;
    for (i = 0; i < A_INPUT_SIZE; ++i) { s = s * 1103515245u + 12345u; in_a[i] = next_value(s); }
    for (i = 0; i < B_INPUT_SIZE; ++i) { s = s * 1103515245u + 12345u; in_b[i] = next_value(s); }
    r = a_run(in_a, out_a) | b_run(in_b, out_b) | a_run_ws(in_a, out_a, ws);
    if (a_run_ws(in_a, out_a, (void *)((char *)ws + 1)) != A_ERR_ALIGN || a_run(NULL, out_a) != A_ERR_NULL) return 3;
    for (i = 0; i < A_OUTPUT_SIZE; ++i) printf("%.9g ", (double)out_a[i]);
    printf("| %d %d\n", a_predict(out_a), b_predict(out_b));
    return r;
}
"""


@pytest.mark.parametrize("cc", compilers())
def test_two_models_link_into_one_program_under_sanitizers(cc, tmp_path, zoo_nets):
    """lenet5 and lenet-caffe with prefixes a and b in one binary, ASan+UBSan, no recovery."""
    lenetc.generate(zoo_nets["lenet5"], tmp_path, prefix="a")
    lenetc.generate(zoo_nets["lenet-caffe"], tmp_path, prefix="b")
    (tmp_path / "main.c").write_text(HARNESS)
    exe = tmp_path / "prog"
    flags = ["-std=c99", "-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
    srcs = [str(tmp_path / f) for f in ("main.c", "a.c", "b.c")]
    proc = subprocess.run([cc, *flags, *srcs, "-o", str(exe), "-lm"], capture_output=True, text=True)
    if proc.returncode != 0 and "sanitizer" in proc.stderr.lower():
        pytest.skip(f"{cc} has no sanitizer runtime (Debian: libclang-rt-14-dev)")
    assert proc.returncode == 0, proc.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    values = np.array(run.stdout.split("|")[0].split(), dtype=np.float64)
    # the same input through the reference: the harness's LCG, reproduced here
    s, xs = 12345, []
    for _ in range(1024):
        s = (s * 1103515245 + 12345) & 0xFFFFFFFF
        xs.append(np.float32(((s >> 8) & 0xFFFF) / 32768.0 - 1.0))
    ref = lenetc.forward(zoo_nets["lenet5"], np.array(xs, np.float32).reshape(1, 32, 32))
    assert np.abs(values - ref).max() <= 1e-5 * np.abs(ref).max()
    assert int(run.stdout.split("|")[1].split()[0]) == int(ref.argmin())


def test_bad_prefix_rejected(zoo_nets):
    with pytest.raises(lenetc.LenetcError, match="not a C identifier"):
        lenetc.make_plan(zoo_nets["lenet5"], prefix="9lives")
