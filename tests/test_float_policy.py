"""The host build's float policy: no FMA contraction, so gcc and clang give the same bits.

clang contracts a*b+c into one fused multiply-add by default (and GCC does outside strict
ISO mode); with -march=native on an FMA machine that changes roundings and so output bits.
lenetc.compile picks the compiler from $CC, so the test compiles the same model twice.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import lenetc
from lenetc.datasets import mnist_inputs
from lenetc.extension import HOST_FLAGS

#: verify's default: float32 C against the float64 reference, relative to the largest output.
TOLERANCE = 1e-5


def test_host_flags_forbid_contraction():
    assert "-ffp-contract=off" in HOST_FLAGS


@pytest.mark.skipif(not (shutil.which("gcc") and shutil.which("clang")), reason="needs both gcc and clang")
def test_gcc_and_clang_give_bit_identical_outputs(monkeypatch):
    net = lenetc.load("lenet5")  # the shipped trained weights
    digits, _ = mnist_inputs(net, 32)
    noise = np.random.default_rng(7).uniform(-1.0, 1.2, size=(32, *net.input_shape)).astype(np.float32)
    x = np.concatenate([digits, noise])
    outputs = {}
    for cc in ("gcc", "clang"):
        monkeypatch.setenv("CC", cc)
        outputs[cc] = lenetc.compile(net)(x)
    differing = int((outputs["gcc"].view(np.uint32) != outputs["clang"].view(np.uint32)).sum())
    assert differing == 0, f"{differing} of {outputs['gcc'].size} outputs differ in their bits"
    ref = lenetc.forward(net, x)
    assert np.abs(outputs["gcc"] - ref).max() <= TOLERANCE * np.abs(ref).max()
