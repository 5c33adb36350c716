"""The generated C feeds itself (issue 11 item 4): ``<P>_preprocess`` turns a 28x28 frame of
8-bit pixels into the model's input in float32 and int8, the int8 header's
``<P>_quantize_input`` and scale macros, all bit-exact with lenetc's Python on real MNIST
digits, and strict-clean on every compiler and cross compiler."""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from firmware_helpers import need_target
from int8_helpers import STRICT, ZOO

import lenetc
from lenetc.datasets import mnist
from lenetc.firmware.targets import get_target
from lenetc.network import Preprocess
from lenetc.numeric import QParams, fma_f32
from lenetc.quant.pixel_map import PIXELS, pixel_map, targets

COMPILERS = [cc for cc in ("gcc", "clang") if shutil.which(cc)]


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    images, _ = mnist("test")
    return images[:2000]


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def test_fma_f32_is_the_c_librarys_fmaf():
    """Against the C library's fmaf (correctly rounded by C99), including a sum whose float64
    rounding lands exactly halfway between two float32 values (where casting would be wrong)."""
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    libm.fmaf.restype = ctypes.c_float
    libm.fmaf.argtypes = [ctypes.c_float] * 3
    rng = np.random.default_rng(0)
    n = 5000
    a = np.r_[rng.integers(0, 256, n), rng.standard_normal(n), 1 + 2.0**-23].astype(np.float32)
    b = np.r_[rng.standard_normal(2 * n) * 10.0 ** rng.integers(-6, 3, 2 * n), 2.0**-24 * (1 - 2.0**-23)]
    c = np.r_[rng.standard_normal(2 * n) * 10.0 ** rng.integers(-6, 3, 2 * n), 1 + 2.0**-23]
    b, c = b.astype(np.float32), c.astype(np.float32)
    want = np.array([libm.fmaf(float(x), float(y), float(z)) for x, y, z in zip(a, b, c)], dtype=np.float32)
    np.testing.assert_array_equal(_bits(fma_f32(a, b, c)), _bits(want))
    naive = (a.astype(np.float64) * b + c).astype(np.float32)
    assert _bits(naive)[-1] != _bits(want)[-1]  # the constructed case is a real double rounding


def _builds(clang_nets: tuple[str, ...]) -> list[tuple[str, str]]:
    """Every zoo net with gcc; two with clang (the helper is the same code)."""
    return [(n, "gcc") for n in ZOO if "gcc" in COMPILERS] + [(n, "clang") for n in clang_nets if "clang" in COMPILERS]


@pytest.mark.parametrize(("name", "cc"), _builds(("lenet5", "lenet-caffe")))
def test_float_preprocess_helper_bit_exact(name, cc, frames, monkeypatch):
    monkeypatch.setenv("CC", cc)
    net = lenetc.load(name)
    got = lenetc.compile(net).preprocess(frames)
    np.testing.assert_array_equal(_bits(got), _bits(net.preprocess.apply(frames)))


@pytest.mark.parametrize(("name", "cc"), _builds(("lenet5", "lenet-keras")))
def test_int8_preprocess_and_quantize_helpers_bit_exact(name, cc, frames, monkeypatch):
    monkeypatch.setenv("CC", cc)
    net = lenetc.load(name)
    qnet = lenetc.quantize(net, n_calib=300)
    c8 = lenetc.compile(qnet)
    x = net.preprocess.apply(frames)
    np.testing.assert_array_equal(c8.preprocess(frames), qnet.quantize_input(x))
    # quantize_input on inputs that are not preprocessed digits: wide values, zeros, exact
    # halves of the scale (the ties round half to even) and values beyond the int8 range
    rng = np.random.default_rng(4)
    s, shape = qnet.input_q.scale, net.input_shape
    wild = rng.standard_normal((8, *shape)) * rng.choice([1e-3, 1.0, 1e3], (8, *shape))
    halves = (rng.integers(-300, 300, (8, *shape)) + 0.5) * s
    odd = np.array([0.0, -0.0, 1e-45, -1e-45, 3e38, -3e38], dtype=np.float32)
    extremes = np.resize(odd, (1, *shape))
    for probe in (wild, halves, extremes):
        probe = probe.astype(np.float32)
        np.testing.assert_array_equal(c8.quantize_input_c(probe), qnet.quantize_input(probe))
    bad = x[:1].copy()
    bad[0, 0, 3, 3] = np.nan
    with pytest.raises(lenetc.LenetcError, match="NaN or Inf"):
        c8.quantize_input_c(bad)


def test_int8_scale_macros_and_parenthesised_zero_points(tmp_path):
    net = lenetc.load("lenet5")
    qnet = lenetc.quantize(net, n_calib=200)
    header = lenetc.generate(qnet, tmp_path).files["lenet5.h"]
    macros = dict(re.findall(r"^#define (LENET5_\w+) (.+)$", header, re.M))
    assert float(macros["LENET5_INPUT_SCALE"]) == qnet.input_q.scale
    assert float(macros["LENET5_OUTPUT_SCALE"]) == qnet.output_q.scale
    assert qnet.input_q.zero_point < 0
    assert macros["LENET5_INPUT_ZERO_POINT"] == f"({qnet.input_q.zero_point})"
    assert (macros["LENET5_FRAME_H"], macros["LENET5_FRAME_W"], macros["LENET5_FRAME_PAD"]) == ("28", "28", "2")
    float_header = lenetc.generate(net).files["lenet5.h"]
    assert "#define LENET5_PREPROCESS_OFFSET (-0.100000001f)" in float_header


def test_pixel_map_exact_for_every_pixel_value():
    """All 256 pixel values of 300 random preprocessings and input scales (a third of them with
    the input scale twice the pixel scale, so that x / scale lands on halves): the integer map
    the C uses gives exactly what Python's preprocessing and quantization give."""
    rng = np.random.default_rng(0)
    kinds = {"line": 0, "table": 0}
    for i in range(300):
        s = float(rng.uniform(0.001, 0.02)) * float(rng.choice([1, -1]))
        pre = Preprocess(s, float(rng.uniform(-1, 1)))
        scale = abs(s) * 2 if i % 3 == 0 else float(rng.uniform(0.002, 0.03))
        q = QParams(scale, int(rng.integers(-128, 128)))
        pm = pixel_map(pre, q)
        np.testing.assert_array_equal(pm(PIXELS), targets(pre, q))
        kinds["line" if pm.table is None else "table"] += 1
    assert kinds["line"] >= 150 and kinds["table"] >= 1  # both forms are exercised


def test_pixel_table_form_in_c(frames):
    """A preprocessing no fixed-point line reproduces: the C carries the table, still exact."""
    net = lenetc.load("lenet-caffe", "random:0").with_preprocess(Preprocess(0.01, -0.3))
    qnet = lenetc.quantize(net, frames[:50])
    qnet = dataclasses.replace(qnet, input_q=QParams(0.02, -20))
    assert pixel_map(net.preprocess, qnet.input_q).table is not None
    c8 = lenetc.compile(qnet)
    assert "lenet_caffe_pixel_table" in c8.generated.files["lenet_caffe.c"]
    np.testing.assert_array_equal(c8.preprocess(frames[:200]), qnet.quantize_input(net.preprocess.apply(frames[:200])))


def test_no_helper_when_input_is_not_a_frame():
    net = lenetc.load("lenet-caffe", "random:0").with_preprocess(Preprocess(1 / 255, 0.0, 3))
    assert "preprocess" not in lenetc.generate(net).files["lenet_caffe.h"].split("*/", 1)[1]


USER_TU = """#include "{p}.h"
int use_helpers(const uint8_t *frame, {T} *in, const float *x, int8_t *q);
int use_helpers(const uint8_t *frame, {T} *in, const float *x, int8_t *q)
{{
    int status = {p}_preprocess(frame, in);
{quant}
    return status;
}}
"""


@pytest.mark.parametrize("target", ["host-gcc", "host-clang", "cortex-m4", "cortex-m3", "cortex-m55", "aarch64-linux"])
def test_helpers_strict_on_every_compiler(tmp_path, target):
    """The model's C and a user file calling every helper compile with -Werror under the strict
    flag set (the example firmware runs <P>_preprocess against the Python on every target)."""
    if target.startswith("host"):
        cc = target.split("-")[1]
        if shutil.which(cc) is None:
            pytest.skip(f"no {cc}")
        cmd = [cc]
    else:
        need_target(target)
        t = get_target(target)
        cmd = [t.cc, *t.cpu_flags]
    net = lenetc.load("lenet5-keras")
    for model, T in ((net, "float"), (lenetc.quantize(net, n_calib=100), "int8_t")):
        out = tmp_path / T.replace("_t", "")
        lenetc.generate(model, out)
        quant = "    status |= lenet5_keras_quantize_input(x, q);" if T == "int8_t" else "    (void)x; (void)q;"
        (out / "user.c").write_text(USER_TU.format(p="lenet5_keras", T=T, quant=quant))
        for src in ("lenet5_keras.c", "user.c"):
            proc = subprocess.run(
                [*cmd, *STRICT, "-O2", "-c", str(out / src), "-o", os.devnull], capture_output=True, text=True
            )
            assert proc.returncode == 0, proc.stderr
