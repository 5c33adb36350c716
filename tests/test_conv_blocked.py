"""The blocked float convolution and dense kernels of the x86 dialect (lenetc/families/x86/conv2d_blocked.py,
lenetc/families/x86/dense_blocked.py) against the
portable kernel, bit for bit, on every x86 path this host can build: AVX-512 (-march=native),
AVX2+FMA only, and no SIMD at all (the portable lenetc_f32x8 routines). Each output keeps its
order of fused multiply-adds, so equality is exact; against the float64 reference the
tolerance is float32 rounding of sums of at most 800 products of values below 1 (1e-5 of the
largest output)."""

from __future__ import annotations

import numpy as np
import pytest

import lenetc
from lenetc import Act, Conv2D, Dense, Flatten, Network, Pool2D, Subsampling
from lenetc.build import build
from lenetc.extension import HOST_FLAGS, compiler, host_flags
from lenetc.reference import forward
from lenetc.zoo import random_params
from tests.conftest import STRICT_FLAGS

PATHS = {
    "native": (),
    "avx2": ("-mavx2", "-mfma", "-mno-avx512f"),
    "none": ("-mno-avx", "-mno-fma"),
}


def _net(layers, in_shape=(3, 11, 13)) -> Network:
    net = Network("blk", in_shape, layers)
    net.params = random_params(net, 4)
    return net.validate()


SMALL = {
    # 20 channels: a partial second block; stride 2 and padding; a fused max pool; no pool
    "pool": lambda: _net([Conv2D("c", out_channels=20, kernel=3, padding=1, act=Act("relu")),
                          Pool2D("p", mode="max", kernel=2)]),
    "stride": lambda: _net([Conv2D("c", out_channels=16, kernel=(3, 2), stride=2, padding=(1, 0, 2, 1),
                                   act=Act("tanh"))]),
    "subsampling": lambda: _net([Conv2D("c", out_channels=17, kernel=5, act=Act("scaled_tanh")),
                                 Subsampling("s", size=2, act=Act("scaled_tanh"))], (2, 14, 22)),
    "avgpool": lambda: _net([Conv2D("c", out_channels=24, kernel=3), Pool2D("p", mode="avg", kernel=2)]),
    # the blocked dense kernel: partial tiles (20 = 3 vectors, 84 = 2 tiles of 6 vectors), zero inputs after relu
    "dense": lambda: _net([Conv2D("c", out_channels=4, kernel=3, act=Act("relu")), Flatten("f"),
                           Dense("d", units=20, act=Act("relu")), Dense("e", units=84)], (2, 6, 7)),
}  # fmt: skip


def _flags(path: str) -> tuple[str, ...]:
    cc = compiler()
    native = host_flags(cc)
    return (*native, *STRICT_FLAGS) if path == "native" else (*HOST_FLAGS, *STRICT_FLAGS, *PATHS[path])


def _inputs(net, n=11):
    return np.random.default_rng(7).uniform(-1, 1, (n, *net.input_shape)).astype(np.float32)


def _check(net: Network, path: str) -> None:
    x = _inputs(net)
    gen = lenetc.generate(net, target="x86")
    assert any("blocked" in op.doc for op in gen.plan.ops)
    portable = build(lenetc.generate(net, target="portable"), _flags("native"), compiler())(x)
    blocked = build(gen, _flags(path), compiler())(x)
    assert np.array_equal(blocked.view(np.uint32), portable.view(np.uint32))
    ref = forward(net, x.astype(np.float64)).reshape(blocked.shape)
    assert np.max(np.abs(blocked - ref)) <= 1e-5 * max(1.0, float(np.max(np.abs(ref))))


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("case", sorted(SMALL))
def test_small_convolutions_same_bits_as_portable(case, path):
    _check(SMALL[case](), path)


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("name", ["lenet-caffe", "lenet-keras", "lenet5-keras", "lenet5"])
def test_zoo_same_bits_as_portable(name, path):
    _check(lenetc.load(name), path)


def test_few_channels_and_sparse_tables_by_capability():
    """x86 (cheap AVX-512 masked FMAs) blocks lenet5's 6-map C1 and sparse C3 (masked lanes);
    NEON keeps the portable kernel for both (a select per FMA)."""
    few = _net([Conv2D("c", out_channels=6, kernel=5, act=Act("scaled_tanh"))], (1, 12, 12))
    assert [op.variant for op in lenetc.generate(few, target="x86").plan.ops] == ["conv2d/float32_blocked"]
    assert [op.variant for op in lenetc.generate(few, target="neon").plan.ops] == ["conv2d/float32"]
    for target, want in (("x86", "conv2d/float32_blocked"), ("neon", "conv2d/float32")):
        c3 = [op for op in lenetc.generate(lenetc.load("lenet5"), target=target).plan.ops if op.layer == "C3"]
        assert c3 and all(op.variant == want for op in c3)


def test_grouped_keeps_the_generic_kernel():
    grouped = _net([Conv2D("g", out_channels=6, kernel=3, groups=3)], (3, 8, 8))
    assert all(op.variant != "conv2d/float32_blocked" for op in lenetc.generate(grouped, target="x86").plan.ops)
