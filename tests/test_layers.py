"""Each layer kind, reference and generated C, against small cases computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

import lenetc
from lenetc import RBF, Act, Activation, Conv2D, Dense, Flatten, Network, Pool2D, Softmax, Subsampling

# Hand-checked cases are small integers, so float32 C must reproduce them to rounding.
TOL = 1e-6


def run_both(net: Network, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    net.validate()
    return lenetc.forward(net, x), lenetc.compile(net)(x.astype(np.float32))


X33 = np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3)  # [[1 2 3] [4 5 6] [7 8 9]]


def test_conv_2x2_hand_computed():
    w = np.array([[[[1, 0], [0, -1]]]], np.float32)  # x[i,j] - x[i+1,j+1] = -4 everywhere
    net = Network(
        "t", (1, 3, 3), [Conv2D("c", out_channels=1, kernel=2)], {"c.weight": w, "c.bias": np.array([0.5], np.float32)}
    )
    ref, got = run_both(net, X33)
    expected = np.full((1, 1, 2, 2), -3.5)
    np.testing.assert_allclose(ref.reshape(expected.shape), expected)
    np.testing.assert_allclose(got.reshape(expected.shape), expected, atol=TOL)


def test_conv_padding_stride_relu_hand_computed():
    w = np.ones((1, 1, 3, 3), np.float32)
    layer = Conv2D("c", out_channels=1, kernel=3, stride=2, padding=1, act=Act("relu"))
    net = Network("t", (1, 3, 3), [layer], {"c.weight": w, "c.bias": np.array([-13.0], np.float32)})
    # windows centred on (0,0),(0,2),(2,0),(2,2) with zero padding: sums 12, 16, 24, 28
    ref, got = run_both(net, X33)
    expected = np.array([0.0, 3.0, 11.0, 15.0])
    np.testing.assert_allclose(ref.reshape(-1), expected)
    np.testing.assert_allclose(got.reshape(-1), expected, atol=TOL)


def test_sparse_table_skips_unconnected_maps():
    # output 0 reads input 0 only, output 1 reads input 1 only; the dense weights are all 1
    x = np.stack([np.ones((2, 2)), 10 * np.ones((2, 2))])[None].astype(np.float32)
    params = {
        "c.weight": np.ones((2, 2, 1, 1), np.float32),
        "c.bias": np.zeros(2, np.float32),
        "c.table": np.array([[1, 0], [0, 1]], np.uint8),
    }
    net = Network("t", (2, 2, 2), [Conv2D("c", out_channels=2, kernel=1, sparse=True)], params)
    ref, got = run_both(net, x)
    expected = np.concatenate([np.ones(4), 10 * np.ones(4)])
    np.testing.assert_allclose(ref.reshape(-1), expected)
    np.testing.assert_allclose(got.reshape(-1), expected, atol=TOL)
    assert net.layer_info()[0].params == 2 * 1 + 2  # two links of a 1x1 kernel, two biases


def test_grouped_conv():
    x = np.stack([np.ones((2, 2)), 2 * np.ones((2, 2))])[None].astype(np.float32)
    w = np.array([3.0, 5.0], np.float32).reshape(2, 1, 1, 1)  # depthwise: out c = w[c] * in c
    net = Network(
        "t",
        (2, 2, 2),
        [Conv2D("c", out_channels=2, kernel=1, groups=2)],
        {"c.weight": w, "c.bias": np.zeros(2, np.float32)},
    )
    ref, got = run_both(net, x)
    expected = np.concatenate([3 * np.ones(4), 10 * np.ones(4)])
    np.testing.assert_allclose(ref.reshape(-1), expected)
    np.testing.assert_allclose(got.reshape(-1), expected, atol=TOL)


def test_subsampling_hand_computed():
    x = np.array([1, 2, 3, 4], np.float32).reshape(1, 1, 2, 2)
    params = {"s.coeff": np.array([0.5], np.float32), "s.bias": np.array([1.0], np.float32)}
    net = Network("t", (1, 2, 2), [Subsampling("s", size=2)], params)
    ref, got = run_both(net, x)  # (1+2+3+4) * 0.5 + 1 = 6
    assert ref.reshape(-1).tolist() == [6.0]
    np.testing.assert_allclose(got.reshape(-1), [6.0], atol=TOL)


def test_subsampling_scaled_tanh():
    x = np.array([1, 2, 3, 4], np.float32).reshape(1, 1, 2, 2)
    params = {"s.coeff": np.array([0.125], np.float32), "s.bias": np.array([0.0], np.float32)}
    net = Network("t", (1, 2, 2), [Subsampling("s", size=2, act=Act("scaled_tanh"))], params)
    ref, got = run_both(net, x)
    expected = 1.7159 * np.tanh(2.0 / 3.0 * 1.25)  # (1+2+3+4) * 0.125
    np.testing.assert_allclose(ref.reshape(-1), [expected], rtol=1e-12)
    np.testing.assert_allclose(got.reshape(-1), [expected], atol=1e-6)


@pytest.mark.parametrize(
    "layer, expected",
    [
        (Pool2D("p", mode="max", kernel=2, stride=1), [5, 6, 8, 9]),
        (Pool2D("p", mode="avg", kernel=2, stride=1), [3, 4, 6, 7]),
        (Pool2D("p", mode="max", kernel=2, stride=2, ceil_mode=True), [5, 6, 8, 9]),
        # ceil mode: the windows at the right/bottom edge hold 2 or 1 inputs
        (Pool2D("p", mode="avg", kernel=2, stride=2, ceil_mode=True), [3, 4.5, 7.5, 9]),
        # padding 1, window 2, stride 2: windows {1}, {2,3}, {4,7}, {5,6,8,9}
        (Pool2D("p", mode="avg", kernel=2, stride=2, padding=1), [1, 2.5, 5.5, 7]),
        (Pool2D("p", mode="avg", kernel=2, stride=2, padding=1, count_include_pad=True), [0.25, 1.25, 2.75, 7]),
        (Pool2D("p", mode="max", kernel=2, stride=2, padding=1), [1, 3, 7, 9]),
    ],
)
def test_pooling_hand_computed(layer, expected):
    net = Network("t", (1, 3, 3), [layer], {})
    ref, got = run_both(net, X33)
    np.testing.assert_allclose(ref.reshape(-1), expected)
    np.testing.assert_allclose(got.reshape(-1), expected, atol=TOL)


def test_dense_and_flatten_orders():
    # input (2 channels, 1x2): C,H,W vector [1 2 | 3 4]; H,W,C vector [1 3 2 4]
    x = np.array([1, 2, 3, 4], np.float32).reshape(1, 2, 1, 2)
    w = np.array([[1, 10, 100, 1000]], np.float32)
    for order, expected in (("CHW", 4321.0), ("HWC", 4231.0)):
        layers = [Flatten("f", order=order), Dense("d", units=1)]
        net = Network("t", (2, 1, 2), layers, {"d.weight": w, "d.bias": np.zeros(1, np.float32)})
        ref, got = run_both(net, x)
        assert ref.reshape(-1).tolist() == [expected]
        np.testing.assert_allclose(got.reshape(-1), [expected], rtol=1e-7)
        # a flatten that ends the network is a real transpose, not folded into weights
        ref, got = run_both(Network("t", (2, 1, 2), [Flatten("f", order=order)], {}), x)
        np.testing.assert_array_equal(got, ref.astype(np.float32))


def test_dense_many_outputs_matches_hand_sum():
    # 20 outputs takes the across-outputs kernel: out[o] = sum_i (i+1) * o + bias
    x = np.arange(1, 6, dtype=np.float32).reshape(1, 1, 1, 5)
    w = np.tile(np.arange(20, dtype=np.float32)[:, None], (1, 5))
    net = Network("t", (1, 1, 5), [Dense("d", units=20)], {"d.weight": w, "d.bias": np.ones(20, np.float32)})
    ref, got = run_both(net, x)
    expected = 15.0 * np.arange(20) + 1
    np.testing.assert_allclose(ref.reshape(-1), expected)
    np.testing.assert_allclose(got.reshape(-1), expected, rtol=1e-7)


def test_rbf_and_softmax_hand_computed():
    x = np.array([1, -1, 1], np.float32).reshape(1, 1, 1, 3)
    protos = np.array([[1, -1, 1], [1, 1, 1], [-1, 1, -1]], np.float32)  # distances 0, 4, 12
    net = Network("t", (1, 1, 3), [Flatten("f"), RBF("r", units=3)], {"r.prototypes": protos})
    ref, got = run_both(net, x)
    assert ref.reshape(-1).tolist() == [0.0, 4.0, 12.0]
    np.testing.assert_allclose(got.reshape(-1), [0, 4, 12], atol=TOL)
    assert net.output_kind == "distance"
    sm = Network("t", (1, 1, 3), [Flatten("f"), Softmax("s")], {})
    x2 = np.array([0.0, np.log(2.0), np.log(5.0)], np.float32).reshape(1, 1, 1, 3)
    ref, got = run_both(sm, x2)
    np.testing.assert_allclose(ref.reshape(-1), [1 / 8, 2 / 8, 5 / 8], rtol=1e-7)
    np.testing.assert_allclose(got.reshape(-1), [1 / 8, 2 / 8, 5 / 8], rtol=1e-6)
    lsm = Network("t", (1, 1, 3), [Flatten("f"), Softmax("s", log=True)], {})
    ref, got = run_both(lsm, x2)
    np.testing.assert_allclose(got.reshape(-1), np.log([1 / 8, 2 / 8, 5 / 8]), atol=1e-6)


@pytest.mark.parametrize(
    "act, fn",
    [
        (Act("relu"), lambda v: np.maximum(v, 0)),
        (Act("leaky_relu", alpha=0.1), lambda v: np.where(v >= 0, v, 0.1 * v)),
        (Act("clip", lo=-1.0, hi=2.0), lambda v: np.clip(v, -1, 2)),
        (Act("tanh"), np.tanh),
        (Act("sigmoid"), lambda v: 1 / (1 + np.exp(-v))),
        (Act("scaled_tanh"), lambda v: 1.7159 * np.tanh(2 / 3 * v)),
    ],
)
def test_activations_over_a_grid(act, fn):
    """The C activations (lenetc_tanhf/expf approximations) within 5e-7 of the exact functions
    on a grid from -20 to 20: the bound documented in csrc/lenetc_float.h plus float32 rounding."""
    grid = np.linspace(-20, 20, 4001).astype(np.float32)
    grid = np.concatenate([grid, np.float32([0.0, 1e-6, -1e-6, 0.2499, 0.2501, 88.5, -88.5])])
    net = Network("t", (1, 1, grid.size), [Activation("a", act=act)], {})
    ref, got = run_both(net, grid.reshape(1, 1, 1, -1))
    exact = fn(grid.astype(np.float64))
    np.testing.assert_allclose(ref.reshape(-1), exact, rtol=1e-12, atol=1e-300)
    err = np.abs(got.reshape(-1).astype(np.float64) - exact)
    assert err.max() < 5e-7 * max(
        1.0, float(np.abs(exact).max()) if act.fn in ("relu", "leaky_relu", "clip") else 1.7159
    )
