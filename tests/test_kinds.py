"""Every layer kind, one at a time: its generated C (float32 and int8) against its reference on a
small network, and hand-computed int8 cases for each arithmetic kind, so that a fault shared by
the integer reference and the C cannot hide.

Float tolerance: the small nets here sum at most a few dozen float32 products of values near 1,
so the C stays within 1e-6 of the largest output (float32 rounding plus the 3e-7 tanh error).
"""

from __future__ import annotations

import numpy as np
import pytest

import lenetc
from lenetc import RBF, Act, Activation, Affine, Conv2D, Dense, Flatten, Network, Pool2D, Softmax, Subsampling
from lenetc.kinds import KINDS, QLayer
from lenetc.kinds.activation import QActivation
from lenetc.kinds.affine import QAffine
from lenetc.kinds.conv2d import QConv2D
from lenetc.kinds.dense import QDense
from lenetc.kinds.flatten import QFlatten
from lenetc.kinds.pool2d import QPool2D
from lenetc.kinds.rbf import QRBF
from lenetc.kinds.subsampling import QSubsampling
from lenetc.numeric import QParams
from lenetc.quant import QuantizedNetwork, forward_int8
from lenetc.zoo import random_params

REL = 1e-6


def _net(name: str, in_shape, layers) -> Network:
    net = Network(name, in_shape, layers)
    net.params = random_params(net, 3)
    return net.validate()


#: One small network per kind, the kind under test in it (a Dense needs a vector in front, ...).
CASES = {
    "conv2d": lambda: _net("conv", (2, 7, 7), [Conv2D("c", out_channels=3, kernel=3, stride=2, padding=1,
                                                       act=Act("tanh"))]),
    "subsampling": lambda: _net("sub", (2, 6, 6), [Subsampling("s", size=2, act=Act("scaled_tanh"))]),
    "pool2d": lambda: _net("pool", (2, 7, 7), [Pool2D("p", mode="avg", kernel=3, stride=2, padding=1),
                                                Pool2D("q", mode="max", kernel=2)]),
    "flatten": lambda: _net("flat", (3, 2, 2), [Flatten("f", order="HWC"), Activation("a", act=Act("sigmoid"))]),
    "dense": lambda: _net("dense", (1, 4, 5), [Dense("d", units=20, act=Act("leaky_relu", alpha=0.2))]),
    "activation": lambda: _net("act", (2, 3, 3), [Activation("a", act=Act("clip", lo=-0.5, hi=0.25))]),
    "softmax": lambda: _net("soft", (1, 3, 3), [Dense("d", units=6), Softmax("s", log=True)]),
    "rbf": lambda: _net("rbf", (1, 3, 4), [Flatten("f"), Dense("d", units=8), RBF("r", units=5)]),
    "affine": lambda: _net("aff", (2, 3, 3), [Affine("a", per="channel"), Affine("b", per="element")]),
}  # fmt: skip


def _inputs(net: Network, n: int = 16, seed: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, (n, *net.input_shape)).astype(np.float32)


def test_every_registered_kind_has_a_case_and_every_part():
    assert set(CASES) == set(KINDS)
    for name, kind in KINDS.items():
        assert kind.layer_type.kind == name
        assert callable(kind.forward) and callable(kind.train_forward) and callable(kind.backward)
        assert callable(kind.to_onnx) and "float32" in kind.lower
        if name != "softmax":  # int8 applies a final softmax in Python and refuses any other
            assert kind.quantize is not None and kind.forward_int8 is not None and "int8" in kind.lower


@pytest.mark.parametrize("kind", sorted(CASES))
def test_float_c_matches_reference(kind):
    net = CASES[kind]()
    x = _inputs(net)
    ref = lenetc.forward(net, x).reshape(len(x), -1)
    got = lenetc.compile(net)(x)
    assert np.abs(got - ref).max() <= REL * max(1.0, np.abs(ref).max())


@pytest.mark.parametrize("kind", sorted(set(CASES) - {"softmax"}))
def test_int8_c_matches_integer_reference(kind):
    net = CASES[kind]()
    qnet = lenetc.quantize(net, _inputs(net, 64, seed=1))
    xq = qnet.quantize_input(_inputs(net, 24, seed=2))
    want = forward_int8(qnet, xq).reshape(len(xq), -1)
    np.testing.assert_array_equal(lenetc.compile(qnet).run_int8(xq), want)


def test_affine_trains_like_its_reference():
    """The gradient of Affine (added with the redesign) against central differences."""
    from lenetc.train.grads import layer_backward, layer_forward

    layer = Affine("a", per="channel")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 2, 2))
    params = {"a.scale": rng.standard_normal(2), "a.shift": rng.standard_normal(2)}
    dy = rng.standard_normal((3, 2, 2, 2))
    _, cache = layer_forward(layer, x, params)
    dx, grads = layer_backward(layer, dy, cache, params)
    eps = 1e-6

    def loss(p, xx):
        return float((layer_forward(layer, xx, p)[0] * dy).sum())

    for key, suffix in (("a.scale", "scale"), ("a.shift", "shift")):
        for i in range(2):
            up = {k: v.copy() for k, v in params.items()}
            down = {k: v.copy() for k, v in params.items()}
            up[key][i] += eps
            down[key][i] -= eps
            assert grads[suffix][i] == pytest.approx((loss(up, x) - loss(down, x)) / (2 * eps), rel=1e-6)
    xp = x.copy()
    xp[1, 0, 1, 1] += eps
    xm = x.copy()
    xm[1, 0, 1, 1] -= eps
    assert dx[1, 0, 1, 1] == pytest.approx((loss(params, xp) - loss(params, xm)) / (2 * eps), rel=1e-6)


# ---- hand-computed int8 cases --------------------------------------------------------------
# Each builds the integer layer by hand (no calibration), so the expected outputs below are
# worked out on paper from the rule in docs/int8.md: out = clamp(zp + round_half_away(acc * M /
# 2^n)); M = 2^30 and n = 31 is a scale of exactly 1/2, which makes ties easy to place.

HALF = (1 << 30, 31)
UNIT = QParams(1.0, 0)


def _qnet(net: Network, layers: list[QLayer], out_dtype: str = "int8") -> QuantizedNetwork:
    return QuantizedNetwork(net, UNIT, layers, layers[-1].out_q, out_dtype)


def _both(qnet: QuantizedNetwork, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xq = np.asarray(x, dtype=np.int8)
    return forward_int8(qnet, xq), lenetc.compile(qnet).run_int8(xq)


def _linear(cls, head: tuple, weight, bias, zp: int = 0, lo: int = -128, lut=None):
    """An integer linear layer of type ``cls`` with every output channel requantized by exactly 1/2."""
    channels = len(bias)
    return cls(*head, acc_bound=10_000, weight=np.asarray(weight, np.int8), bias=np.asarray(bias, np.int32),
               w_scale=np.ones(channels), mult=np.full(channels, HALF[0], np.int32),
               shift=np.full(channels, HALF[1], np.int32), req_zp=zp, lo=lo, lut=lut)  # fmt: skip


def test_conv_int8_hand_computed():
    layer = Conv2D("c", out_channels=2, kernel=2)
    net = _net("c", (1, 3, 3), [layer])
    head = ("c", layer, (1, 3, 3), (2, 2, 2), UNIT, QParams(0.5, 3))
    # channel 0: x[i,j] - x[i+1,j+1] = -4 on [[1 2 3] [4 5 6] [7 8 9]], + bias 1 -> -3 -> -1.5 -> -2 (away from 0)
    # channel 1: sum of the window (12, 16, 24, 28) + bias -1 -> 11, 15, 23, 27 -> halves 5.5.. -> 6, 8, 12, 14
    w = [[[[1, 0], [0, -1]]], [[[1, 1], [1, 1]]]]
    q = _linear(QConv2D, head, w, [1, -1], zp=3)
    ref, got = _both(_qnet(net, [q]), np.arange(1, 10).reshape(1, 1, 3, 3))
    expected = np.array([[-2, -2, -2, -2], [6, 8, 12, 14]]) + 3
    np.testing.assert_array_equal(ref.reshape(2, 4), expected)
    np.testing.assert_array_equal(got.reshape(2, 4), expected)


def test_dense_int8_hand_computed_with_relu_clamp():
    layer = Dense("d", units=3, act=Act("relu"))
    net = _net("d", (1, 1, 4), [layer])
    head = ("d", layer, (1, 1, 4), (3,), UNIT, QParams(0.5, -10))
    # x = [10, -20, 30, 5]; acc = w.x + b: 10-20+30+5+0 = 25 -> 12.5 -> 13; -(10)... see below
    w = [[1, 1, 1, 1], [-1, 0, 0, 0], [0, 2, 0, -2]]
    b = [0, 3, -1]
    # acc: 25, -7, -51 -> x/2: 12.5 -> 13, -3.5 -> -4, -25.5 -> -26; + zp -10: 3, -14, -36
    # ReLU is the clamp at the output zero point: lo = -10 -> 3, -10, -10
    q = _linear(QDense, head, w, b, zp=-10, lo=-10)
    ref, got = _both(_qnet(net, [q]), [[[[10, -20, 30, 5]]]])
    np.testing.assert_array_equal(ref.reshape(-1), [3, -10, -10])
    np.testing.assert_array_equal(got.reshape(-1), [3, -10, -10])


def test_subsampling_int8_hand_computed_with_table():
    layer = Subsampling("s", size=2, act=Act("tanh"))
    net = _net("s", (2, 2, 2), [layer])
    head = ("s", layer, (2, 2, 2), (2, 1, 1), UNIT, QParams(1.0, 0))
    # map 0: (1+2+3+4) * 3 + 1 = 31 -> 15.5 -> 16; map 1: (-5-6-7-8) * -2 - 3 = 49 -> 24.5 -> 25
    halves = (np.arange(-128, 128) // 2).astype(np.int8)  # a table that halves (floor): 16 -> 8, 25 -> 12
    q = _linear(QSubsampling, head, [3, -2], [1, -3], lut=halves)
    ref, got = _both(_qnet(net, [q]), [[[[1, 2], [3, 4]], [[-5, -6], [-7, -8]]]])
    np.testing.assert_array_equal(ref.reshape(-1), [8, 12])
    np.testing.assert_array_equal(got.reshape(-1), [8, 12])


def test_pooling_int8_hand_computed():
    mx = Pool2D("m", mode="max", kernel=2)
    av = Pool2D("a", mode="avg", kernel=2)
    net = _net("p", (1, 4, 4), [mx, av])
    zp = -3
    q_in = QParams(1.0, zp)
    qm = QPool2D("m", mx, (1, 4, 4), (1, 2, 2), q_in, q_in)
    qa = QPool2D("a", av, (1, 2, 2), (1, 1, 1), q_in, q_in)
    x = [[[[-128, 5, 0, 1], [7, -1, 2, 3], [-9, -8, 127, 0], [-7, -100, 4, 4]]]]
    # max: 7, 3, -7, 127; average of (q - zp) = 10, 6, -4, 130 -> 142 / 4 = 35.5 -> 36; + zp -> 33
    qnet = QuantizedNetwork(net, q_in, [qm, qa], q_in, "int8")
    ref, got = _both(qnet, x)
    assert int(ref.reshape(-1)[0]) == 33 and int(got.reshape(-1)[0]) == 33
    np.testing.assert_array_equal(forward_int8(qnet, np.asarray(x, np.int8), return_all=True)[1].reshape(-1),
                                  [7, 3, -7, 127])  # fmt: skip


def test_lookup_table_int8_hand_computed():
    layer = Activation("a", act=Act("sigmoid"))
    net = _net("a", (1, 1, 4), [layer])
    flip = np.arange(-128, 128)[::-1].astype(np.int8)  # q -> -1 - q
    q = QActivation("a", layer, (1, 1, 4), (1, 1, 4), UNIT, UNIT, lut=flip)
    ref, got = _both(_qnet(net, [q]), [[[[-128, -1, 0, 127]]]])
    np.testing.assert_array_equal(ref.reshape(-1), [127, 0, -1, -128])
    np.testing.assert_array_equal(got.reshape(-1), [127, 0, -1, -128])


def test_rbf_int8_hand_computed():
    layer = RBF("r", units=2)
    net = _net("r", (1, 1, 3), [Flatten("f"), layer])
    f = QFlatten("f", net.layers[0], (1, 1, 3), (3,), UNIT, UNIT)
    proto = np.array([[1, -1, 1], [127, -128, 0]], np.int16)
    q = QRBF("r", layer, (3,), (2,), UNIT, UNIT, acc_bound=200_000, proto=proto)
    # x = [4, -2, -128]: (3^2 + 1^2 + 129^2) = 16651; (123^2 + 126^2 + 128^2) = 47389
    ref, got = _both(_qnet(net, [f, q], "int32"), [[[[4, -2, -128]]]])
    np.testing.assert_array_equal(ref.reshape(-1), [16651, 47389])
    np.testing.assert_array_equal(got.reshape(-1), [16651, 47389])


def test_affine_int8_hand_computed():
    layer = Affine("a", per="channel")
    net = _net("a", (2, 1, 2), [layer])
    head = ("a", layer, (2, 1, 2), (2, 1, 2), UNIT, UNIT)
    # channel 0: q * 3 + 1, channel 1: q * -1 - 4, then halved (ties away from zero)
    q = _linear(QAffine, head, [3, -1], [1, -4])
    ref, got = _both(_qnet(net, [q]), [[[[1, -3]], [[5, -5]]]])
    # 4 -> 2, -8 -> -4, -9 -> -4.5 -> -5, 1 -> 0.5 -> 1
    np.testing.assert_array_equal(ref.reshape(-1), [2, -4, -5, 1])
    np.testing.assert_array_equal(got.reshape(-1), [2, -4, -5, 1])


# ---- fused convolution + pooling ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["lenet5", "lenet-caffe", "lenet5-keras"])
def test_fused_conv_pool_gives_the_same_bits_in_less_memory(name):
    """A convolution that computes the pooling after it from bands of its rows (the default plan)
    prints exactly the bits of the unfused plan, in float32 and int8, and needs a smaller arena."""
    from lenetc.build import build
    from lenetc.codegen import generated, make_plan
    from lenetc.extension import compiler, host_flags

    net = lenetc.load(name)
    qnet = lenetc.quantize(net, n_calib=64)
    x = _inputs(net, 12, seed=9)
    cc = compiler()
    for model, run in ((net, lambda c: c(x)), (qnet, lambda c: c.run_int8(qnet.quantize_input(x)))):
        fused, plain = make_plan(model, "f"), make_plan(model, "u", fuse=False)
        assert any(op.ctx.get("epilogue") for op in fused.ops)
        assert not any(op.ctx.get("epilogue") for op in plain.ops)
        assert fused.arena_bytes < plain.arena_bytes
        a = run(build(generated(fused), host_flags(cc), cc))
        b = run(build(generated(plain), host_flags(cc), cc))
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))
