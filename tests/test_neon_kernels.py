"""The Arm64 NEON kernels (the blocked float32 and int8 convolution and dense variants with
vfmaq_f32, sdot or the 16-bit multiply-add) under qemu-aarch64, on both int8 paths: with the
dot-product extension (-march=armv8.2-a+dotprod, run on a cortex-a76) and without it
(-march=armv8-a, run on a cortex-a72, which traps sdot). int8 is compared bit for bit with the
NumPy integer reference; float32 bit for bit with the host's portable build (explicit fused
multiply-adds in a fixed order: the same bits on every target). Batches of 11 go through
<P>_run_tiled (a tile of 8, then 3) and the first image also through <P>_run_ws."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

import lenetc
from lenetc.build import build
from lenetc.extension import HOST_FLAGS, compiler
from lenetc.quant import forward_int8
from tests.conftest import STRICT_FLAGS

CC = "aarch64-linux-gnu-gcc"
PATHS = {"dotprod": ("-march=armv8.2-a+dotprod", "cortex-a76"), "plain": ("-march=armv8-a", "cortex-a72")}
N = 11

MAIN = r"""
#include <stdio.h>
#include <stdlib.h>
#include "m.h"
int main(void)
{
    static IN_T in[N * M_INPUT_SIZE];
    static OUT_T out[N * M_OUTPUT_SIZE], one[M_OUTPUT_SIZE];
    void *ws = aligned_alloc(64, (m_tiled_workspace_size() + 63u) / 64u * 64u);
    void *ws1 = aligned_alloc(64, (m_workspace_size() + 64u) / 64u * 64u);
    FILE *f = fopen("in.bin", "rb");
    if (f == NULL || fread(in, sizeof in, 1, f) != 1 || ws == NULL || ws1 == NULL) {
        return 3;
    }
    fclose(f);
    if (m_run_tiled(in, out, N, ws) != M_OK || m_run_ws(in, one, ws1) != M_OK) {
        return 4;
    }
    f = fopen("out.bin", "wb");
    fwrite(out, sizeof out, 1, f);
    fwrite(one, sizeof one, 1, f);
    fclose(f);
    return 0;
}
"""


def _run(gen, tmp, path: str, in_t: str, out_t: str, x: np.ndarray, out_dtype) -> tuple[np.ndarray, np.ndarray]:
    for tool in (CC, "qemu-aarch64"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} not installed (apt: gcc-aarch64-linux-gnu qemu-user)")
    for name, text in gen.files.items():
        (tmp / name).write_text(text)
    (tmp / "main.c").write_text(MAIN)
    march, cpu = PATHS[path]
    flags = ["-O2", march, "-ffp-contract=off", "-D_ISOC11_SOURCE", f"-DIN_T={in_t}", f"-DOUT_T={out_t}", f"-DN={N}"]
    subprocess.run([CC, *STRICT_FLAGS, *flags, "-c", "m.c"], cwd=tmp, check=True)
    subprocess.run([CC, *flags, "main.c", "m.o", "-static", "-lm", "-o", "a"], cwd=tmp, check=True)
    (tmp / "in.bin").write_bytes(np.ascontiguousarray(x).tobytes())
    proc = subprocess.run(["qemu-aarch64", "-cpu", cpu, "./a"], cwd=tmp, capture_output=True)
    assert proc.returncode == 0, proc
    out = np.frombuffer((tmp / "out.bin").read_bytes(), out_dtype)
    size = gen.plan.output_size
    return out[: N * size].reshape(N, size), out[N * size :]


@pytest.fixture(scope="module")
def digits():
    from lenetc.api import calibration_digits

    return calibration_digits(60)


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("name", ["lenet-caffe", "lenet5-keras", "lenet5"])
def test_int8_neon_bit_exact(name, path, digits, tmp_path):
    from lenetc.datasets import preprocessed

    net = lenetc.load(name)
    qnet = lenetc.quantize(net, preprocessed(net, digits[:40]))
    xq = qnet.quantize_input(preprocessed(net, digits[40 : 40 + N]).reshape(N, *net.input_shape))
    gen = lenetc.generate(qnet, target="neon", prefix="m")
    if name != "lenet5":
        assert any(op.variant == "conv2d/int8_blocked" for op in gen.plan.ops)
    out_t, dt = ("int32_t", np.int32) if gen.plan.out_ctype == "int32_t" else ("int8_t", np.int8)
    got, one = _run(gen, tmp_path, path, "int8_t", out_t, xq, dt)
    ref = np.asarray(forward_int8(qnet, xq)).reshape(got.shape)
    assert np.array_equal(got, ref)
    assert np.array_equal(one, ref[0])


@pytest.mark.parametrize("name", ["lenet-caffe", "lenet5-keras", "lenet5"])
def test_float32_neon_same_bits_as_host(name, digits, tmp_path):
    from lenetc.datasets import preprocessed

    net = lenetc.load(name)
    x = preprocessed(net, digits[:N]).reshape(N, *net.input_shape).astype(np.float32)
    gen = lenetc.generate(net, target="neon", prefix="m")
    if name != "lenet5":
        assert any(op.variant == "conv2d/float32_blocked" for op in gen.plan.ops)
    got, one = _run(gen, tmp_path, "dotprod", "float", "float", x, np.float32)
    host = build(lenetc.generate(net, target="portable"), (*HOST_FLAGS, *STRICT_FLAGS), compiler())(x)
    assert np.array_equal(got.view(np.uint32), host.view(np.uint32))
    assert np.array_equal(one.view(np.uint32), host[0].view(np.uint32))
