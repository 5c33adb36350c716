"""Requantization arithmetic: hand-computed cases, and the C helper against the NumPy one."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from lenetc.fixedpoint import quantize_multiplier, requantize, round_div, rounding_shift
from lenetc.paths import csrc_dir
from lenetc.quant.calibrate import choose_qparams


def test_multiplier_encoding_by_hand():
    # 0.5 = 2^30 / 2^31; 0.75 = (3 * 2^29) / 2^31; 3.0 = (3 * 2^29) / 2^29; 2^-40 = 2^30 / 2^70 -> shift capped.
    assert quantize_multiplier(0.5) == (1 << 30, 31)
    assert quantize_multiplier(0.75) == (3 << 29, 31)
    assert quantize_multiplier(3.0) == (3 << 29, 29)
    assert quantize_multiplier(0.0) == (0, 1)
    m, n = quantize_multiplier(2.0**-40)
    assert (m, n) == (1 << 22, 62)  # 2^30 / 2^70 with the shift capped at 62
    for real in (1e-5, 0.0123, 0.3, 0.999999999, 1.7, 123.4):
        m, n = quantize_multiplier(real)
        assert (1 << 30) <= m < (1 << 31) and 1 <= n <= 62
        assert abs(m / 2.0**n - real) <= real * 2.0**-30


def test_rounding_is_half_away_from_zero_by_hand():
    # multiplier 0.5: 3 * 0.5 = 1.5 -> 2, 5 * 0.5 = 2.5 -> 3 (half-even would give 2), negatives mirror.
    acc = np.array([3, -3, 5, -5, 1, -1, 2, -2, 0])
    got = requantize(acc, 1 << 30, 31, 0, -128, 127)
    assert got.tolist() == [2, -2, 3, -3, 1, -1, 1, -1, 0]
    # zero point is added after rounding, then saturation to [lo, hi] (a ReLU clamp at zp = -128).
    assert requantize(np.array([1000, -1000, 7]), 1 << 30, 31, -128, -128, 127).tolist() == [127, -128, -124]
    assert requantize(np.array([-7]), 1 << 30, 31, 10, 10, 127).tolist() == [10]
    # 0.75 * 10 = 7.5 -> 8; 0.75 * -10 = -7.5 -> -8
    assert requantize(np.array([10, -10]), 3 << 29, 31, 0, -128, 127).tolist() == [8, -8]


def test_round_div_by_hand():
    assert round_div(np.array([5, -5, 7, -7, -8, 8, 0, 3]), 2).tolist() == [3, -3, 4, -4, -4, 4, 0, 2]
    assert round_div(np.array([7, -8, 4, -4]), 3).tolist() == [2, -3, 1, -1]


def test_rounding_shift_extremes_do_not_overflow():
    p = np.array([(2**31 - 1) * (2**31 - 1), -(2**31) * (2**31 - 1)], dtype=np.int64)
    got = rounding_shift(p, np.array([1, 1]))
    # (2^31-1)^2 is odd: x.5 rounds up in magnitude; -2^31 (2^31-1) is even: exact.
    assert got.tolist() == [(int(p[0]) + 1) // 2, int(p[1]) // 2]


def test_qparams_represent_zero_exactly():
    rng = np.random.default_rng(0)
    for method in ("minmax", "percentile", "mse"):
        q = choose_qparams(rng.normal(0.3, 1.0, 10_000), method)
        assert -128 <= q.zero_point <= 127
        assert q.dequantize(q.quantize(np.array([0.0])))[0] == 0.0
    relu = choose_qparams(np.abs(rng.normal(size=1000)), "minmax")
    assert relu.zero_point == -128


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_c_helper_matches_numpy(tmp_path, cc):
    """lenetc_requant / lenetc_round_div in C give exactly the NumPy results, extremes included."""
    rng = np.random.default_rng(11)
    n = 2000
    acc = rng.integers(-(2**31), 2**31, n, dtype=np.int64)
    acc[:6] = [-(2**31), 2**31 - 1, 0, 1, -1, -(2**31) + 1]
    acc[6:400] = rng.integers(-1000, 1000, 394)
    mult = rng.integers(1 << 30, 1 << 31, n, dtype=np.int64)
    mult[:3] = [(1 << 31) - 1, 1 << 30, 0]
    shift = rng.integers(1, 63, n, dtype=np.int64)
    shift[:6] = [1, 62, 31, 1, 1, 62]
    zp = rng.integers(-128, 128, n)
    lo = np.minimum(zp, -128 + rng.integers(0, 2, n) * 128)
    rows = ",\n".join(
        f"{{{a}LL, {m}LL, {s}, {z}, {lo_}}}" for a, m, s, z, lo_ in zip(acc, mult, shift, zp, lo, strict=True)
    )
    num = rng.integers(-(2**20), 2**20, n)
    den = rng.integers(1, 50, n)
    src = tmp_path / "t.c"
    src.write_text(
        "#include <stdint.h>\n#include <stdio.h>\n#define LENETC_USE_REQUANT 1\n#define LENETC_USE_ROUND_DIV 1\n"
        + (csrc_dir() / "lenetc_int8.h").read_text()
        + f"static const long long v[{n}][5] = {{{rows}}};\n"
        + f"static const int32_t num[{n}] = {{{', '.join(map(str, num))}}};\n"
        + f"static const int32_t den[{n}] = {{{', '.join(map(str, den))}}};\n"
        + "int main(void) { int i; for (i = 0; i < "
        + str(n)
        + "; ++i) {\n"
        + '  printf("%d %d\\n", (int)lenetc_requant((int32_t)v[i][0], (int32_t)v[i][1], (int32_t)v[i][2],'
        + " (int32_t)v[i][3], (int32_t)v[i][4], 127), (int)lenetc_round_div(num[i], den[i])); }\n return 0; }\n"
    )
    exe = tmp_path / "t"
    flags = ["-std=c99", "-O2", "-fsanitize=undefined", "-fno-sanitize-recover=all"]
    subprocess.run([cc, *flags, str(src), "-o", str(exe)], check=True)
    out = np.array(
        [
            line.split()
            for line in subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines()
        ],
        dtype=np.int64,
    )
    expect = [
        int(requantize(np.array([a]), m, s, z, lo_, 127)[0])
        for a, m, s, z, lo_ in zip(acc, mult, shift, zp, lo, strict=True)
    ]
    assert out[:, 0].tolist() == expect
    assert out[:, 1].tolist() == round_div(num, den).tolist()
