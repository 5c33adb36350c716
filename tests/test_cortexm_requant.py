"""The Cortex-M DSP header's lenetc_requant (high-word rounding for shift >= 33) gives exactly the
integer reference's answer, ties included. Its C is plain ISO C under a feature test, so it is
built on the host with __ARM_FEATURE_DSP defined and checked over random and tie cases."""

from __future__ import annotations

import ctypes
import shutil
import subprocess

import numpy as np
import pytest

from lenetc.families import DIALECTS

SRC = """
#include <stdint.h>
#include <string.h>
#define LENETC_USE_REQUANT 1
#include "lenetc_arch_cortexm_dsp.h"
int8_t requant(int32_t acc, int32_t mult, int32_t shift, int32_t zp, int32_t lo, int32_t hi)
{
    return lenetc_requant(acc, mult, shift, zp, lo, hi);
}
"""


def _reference(acc: int, mult: int, shift: int, zp: int, lo: int, hi: int) -> int:
    prod = acc * mult
    mag = (abs(prod) + (1 << (shift - 1))) >> shift
    return max(lo, min(hi, (-mag if prod < 0 else mag) + zp))


@pytest.fixture(scope="module")
def requant(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc")
    d = tmp_path_factory.mktemp("rq")
    (d / "rq.c").write_text(SRC)
    lib = d / "rq.so"
    subprocess.run(
        ["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Wconversion", "-Werror", "-D__ARM_FEATURE_DSP=1",
         f"-I{DIALECTS['cortex-m-dsp'].folder}", "-shared", "-fPIC", str(d / "rq.c"), "-o", str(lib)],
        check=True,
    )  # fmt: skip
    f = ctypes.CDLL(str(lib)).requant
    f.restype = ctypes.c_int8
    f.argtypes = [ctypes.c_int32] * 6
    return f


def test_matches_the_reference_random_and_ties(requant):
    rng = np.random.default_rng(17)
    cases = []
    for _ in range(20000):
        shift = int(rng.integers(20, 62))
        mult = int(rng.integers(1 << 30, 1 << 31))
        acc = int(rng.integers(-(1 << 24), 1 << 24))
        cases.append((acc, mult, shift))
    for shift in (31, 32, 33, 34, 40, 50):  # exact ties: acc * mult = (k + 1/2) * 2^shift
        for k in range(-40, 40):
            mult = 1 << 30
            num = (2 * k + 1) << (shift - 1)
            if num % mult == 0:
                cases.append((num // mult, mult, shift))
    for acc, mult, shift in cases:
        for zp, lo, hi in ((0, -128, 127), (-7, -7, 127)):
            assert requant(acc, mult, shift, zp, lo, hi) == _reference(acc, mult, shift, zp, lo, hi), (acc, mult, shift)
