"""The generated int8 C itself: no floating point, strict flags with gcc and clang, clean under
ASan+UBSan on extreme inputs (with the outputs checked against the integer reference), and an
arena that meets the liveness lower bound."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
from int8_helpers import STRICT, ZOO, int8_inputs, quantized_beyond_zoo, quantized_zoo

from lenetc import generate, make_plan
from lenetc.quant import forward_int8

COMPILERS = [cc for cc in ("gcc", "clang") if shutil.which(cc)]


def _generate(tmp_path, name):
    qnet = quantized_beyond_zoo() if name == "beyond" else quantized_zoo(name)
    prefix = name.replace("-", "_")
    generate(qnet, tmp_path, prefix=prefix)
    return qnet, prefix


@pytest.mark.parametrize("name", ZOO)
def test_no_float_or_double_in_int8_c(tmp_path, name):
    """No floating point in the .c; in the header only inside the block an integer-only build
    leaves out (the optional <P>_quantize_input helper), which the .c leaves out itself."""
    _, prefix = _generate(tmp_path, name)
    guard = f"#ifndef {prefix.upper()}_INTEGER_ONLY"
    code = (tmp_path / f"{prefix}.c").read_text()
    assert f"#define {prefix.upper()}_INTEGER_ONLY 1" in code.split(f'#include "{prefix}.h"')[0]
    header = (tmp_path / f"{prefix}.h").read_text()
    assert header.count(guard) == 2
    integer_only = re.sub(re.escape(guard) + r".*?#endif", "", header, flags=re.S)
    for path, text in ((tmp_path / f"{prefix}.c", code), (tmp_path / f"{prefix}.h", integer_only)):
        assert not re.search(r"\b(float|double|_Float\w*|long double)\b", text), path
        assert "math.h" not in text


HARNESS = """#include <stdio.h>
#include "{p}.h"
static const int8_t inputs[{n}][{PU}_INPUT_SIZE] = {{{data}}};
int main(void)
{{
    static unsigned char workspace[{PU}_ARENA_BYTES + 4];
    {p}_out_t out[{PU}_OUTPUT_SIZE];
    int k, i;
    for (k = 0; k < {n}; ++k) {{
        /* both entry points: the static arena and a caller workspace */
        if ((k % 2 ? {p}_run(inputs[k], out) : {p}_run_ws(inputs[k], out, workspace)) != {PU}_OK) {{
            return 3;
        }}
        for (i = 0; i < {PU}_OUTPUT_SIZE; ++i) {{
            printf("%ld ", (long)out[i]);
        }}
        printf("%d\\n", {p}_predict(out));
    }}
    return 0;
}}
"""


@pytest.mark.parametrize("cc", COMPILERS)
@pytest.mark.parametrize("name", [*ZOO, "beyond"])
def test_strict_flags_and_sanitizers_on_extreme_inputs(tmp_path, name, cc):
    """One build serves both checks (each compile of the big weight tables costs seconds): the
    strict warning flags with -Werror, and -fsanitize=address,undefined -fno-sanitize-recover,
    under which any signed overflow, shift out of range or out-of-bounds access aborts the run.
    The printed outputs must equal the integer reference."""
    qnet, prefix = _generate(tmp_path, name)
    x = int8_inputs(qnet.net.input_shape, n=6, seed=17)
    rows = ",\n".join("{" + ", ".join(map(str, img.reshape(-1))) + "}" for img in x)
    (tmp_path / "main.c").write_text(HARNESS.format(p=prefix, PU=prefix.upper(), n=len(x), data=rows))
    exe = tmp_path / "main"
    flags = [*STRICT, "-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
    subprocess.run([cc, *flags, str(tmp_path / f"{prefix}.c"), str(tmp_path / "main.c"), "-o", str(exe)], check=True)
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "runtime error" not in run.stderr
    got = np.array([line.split() for line in run.stdout.splitlines()], dtype=np.int64)
    ref = forward_int8(qnet, x).astype(np.int64)
    np.testing.assert_array_equal(got[:, :-1], ref)
    expect_class = ref.argmin(axis=1) if name == "lenet5" else ref.argmax(axis=1)
    # the C takes the first of tied maxima, as NumPy does
    np.testing.assert_array_equal(got[:, -1], expect_class)


@pytest.mark.parametrize("name", ZOO)
def test_arena_meets_liveness_bound_and_is_4x_smaller(name):
    qnet = quantized_zoo(name)
    plan = make_plan(qnet)
    assert plan.arena_bytes == plan.arena_lower_bound
    # one byte per value instead of four: compared on the unfused plans, whose arenas hold whole maps
    plain, float_plain = make_plan(qnet, fuse=False), make_plan(qnet.net, fuse=False)
    scratch = sum(
        plain.tensors[op.scratch].size * plain.tensors[op.scratch].elem_bytes for op in plain.ops if op.scratch >= 0
    )
    assert (plain.arena_bytes - scratch) * 4 <= float_plain.arena_bytes + 4 * len(plain.tensors)
    # every accumulator bound is proven below 2^31
    assert 0 < plan.acc_bound < 2**31
