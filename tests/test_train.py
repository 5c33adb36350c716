"""The trainer: its forward pass against the reference, gradients against central finite
differences (layer by layer and through whole networks), losses, determinism, a short run.

Gradient checks run in float64 with step 1e-6: the central-difference truncation error is
O(step^2) and rounding O(1e-16 / step), so analytic and numeric gradients agree to ~1e-8;
the tolerance (1e-6 relative to max(1, |gradient|)) leaves a wide margin. Inputs are random
normal with fixed seeds, so no ReLU/Clip kink or max-pool tie falls within a step.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from lenetc import datasets, reference, zoo
from lenetc.kinds import kind_of
from lenetc.layers import RBF, Act, Activation, Conv2D, Dense, Flatten, Pool2D, Softmax, Subsampling
from lenetc.train import (
    TrainConfig,
    backprop,
    init_params,
    loss_and_grad,
    shift_images,
    train,
    trainable_keys,
    training_head,
)
from lenetc.train.grads import layer_backward, layer_forward

EPS = 1e-6
TOL = 1e-6


def numeric_grad(f, arr: np.ndarray) -> np.ndarray:
    """Central differences of scalar ``f()`` with respect to every element of ``arr`` (in place)."""
    grad = np.zeros_like(arr)
    for idx in np.ndindex(arr.shape):
        old = arr[idx]
        arr[idx] = old + EPS
        up = f()
        arr[idx] = old - EPS
        down = f()
        arr[idx] = old
        grad[idx] = (up - down) / (2 * EPS)
    return grad


def assert_close(analytic, numeric, what):
    err = np.max(np.abs(analytic - numeric) / np.maximum(1.0, np.abs(numeric)))
    assert err < TOL, f"{what}: max relative error {err:.2e}"


def random_params(layer, in_shape, rng):
    params = {}
    for suffix, shape in layer.param_shapes(in_shape).items():
        key = f"{layer.name}.{suffix}"
        if suffix == "table":
            params[key] = zoo.c3_table()[: shape[0], : shape[1]]
        else:
            params[key] = rng.standard_normal(shape) * 0.5
    return params


def check_layer(layer, in_shape, seed=0, n=2):
    rng = np.random.default_rng(seed)
    params = random_params(layer, in_shape, rng)
    x = rng.standard_normal((n, *in_shape))
    y, cache = layer_forward(layer, x, params)
    # The training forward is the reference's function.
    ref = kind_of(layer).forward(layer, x, params)
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)
    weights = rng.standard_normal(y.shape)  # L = sum(weights * y): dL/dy = weights

    def loss():
        return float((layer_forward(layer, x, params)[0] * weights).sum())

    dx, grads = layer_backward(layer, weights.copy(), cache, params)
    assert_close(dx, numeric_grad(loss, x), f"{layer.name} input")
    for suffix, g in grads.items():
        key = f"{layer.name}.{suffix}"
        assert_close(g, numeric_grad(loss, params[key]), key)
    return params, grads


ACTS = [
    None,
    Act("relu"),
    Act("tanh"),
    Act("scaled_tanh"),
    Act("sigmoid"),
    Act("leaky_relu", 0.1),
    Act("clip", 0, -0.5, 0.5),
]


@pytest.mark.parametrize("act", ACTS, ids=lambda a: a.fn if a else "linear")
def test_dense_and_activation(act):
    check_layer(Dense("d", units=5, act=act), (7,))
    check_layer(Dense("d", units=4, act=act), (2, 3, 3))  # flattens a C,H,W input
    if act is not None:
        check_layer(Activation("a", act=act), (3, 4, 4))


@pytest.mark.parametrize(
    "layer, in_shape",
    [
        (Conv2D("c", out_channels=4, kernel=3, act=Act("tanh")), (3, 7, 7)),
        (Conv2D("c", out_channels=6, kernel=(3, 2), stride=2, padding=(1, 0, 2, 1), groups=2), (4, 8, 7)),
        (Conv2D("c", out_channels=3, kernel=5, act=Act("relu")), (1, 9, 9)),
    ],
    ids=["plain", "stride-pad-groups", "one-channel"],
)
def test_conv(layer, in_shape):
    check_layer(layer, in_shape)


def test_sparse_conv_c3_table():
    """LeNet-5's C3: weights of unconnected (output, input) map pairs get no gradient."""
    layer = Conv2D("C3", out_channels=16, kernel=3, sparse=True, act=Act("scaled_tanh"))
    params, grads = check_layer(layer, (6, 6, 6), n=1)
    table = params["C3.table"]
    assert (grads["weight"][table == 0] == 0).all()
    assert (np.abs(grads["weight"][table == 1]).sum(axis=(1, 2)) > 0).all()


@pytest.mark.parametrize("size, act", [(2, Act("scaled_tanh")), (3, Act("sigmoid")), (2, None)])
def test_subsampling(size, act):
    check_layer(Subsampling("s", size=size, act=act), (3, 6, 6))


@pytest.mark.parametrize(
    "layer",
    [
        Pool2D("p", mode="max", kernel=2),
        Pool2D("p", mode="max", kernel=3, stride=2, padding=1, ceil_mode=True),
        Pool2D("p", mode="avg", kernel=2),
        Pool2D("p", mode="avg", kernel=3, stride=2, padding=1, ceil_mode=True),
        Pool2D("p", mode="avg", kernel=3, stride=2, padding=1, count_include_pad=True),
    ],
    ids=["max2", "max3-pad-ceil", "avg2", "avg3-pad-ceil", "avg3-count-pad"],
)
def test_pooling(layer):
    check_layer(layer, (2, 7, 7) if layer.padding != (0, 0, 0, 0) else (2, 6, 6))


@pytest.mark.parametrize("order", ["CHW", "HWC"])
def test_flatten(order):
    check_layer(Flatten("f", order=order), (3, 2, 4))


@pytest.mark.parametrize("log", [False, True])
def test_softmax(log):
    check_layer(Softmax("s", log=log), (6,))


def test_rbf():
    check_layer(RBF("r", units=10), (12,))


@pytest.mark.parametrize(
    "kind, j, t", [("logits", None, 1.0), ("distance", None, 1.0), ("distance", 2.0, 1.0), ("distance", None, 10.0)]
)
def test_losses(kind, j, t):
    rng = np.random.default_rng(3)
    out = rng.standard_normal((5, 10)) * 3 + (5 if kind == "distance" else 0)
    labels = rng.integers(0, 10, 5)
    loss, dout, pred = loss_and_grad(kind, out, labels, j, t)
    assert_close(dout, numeric_grad(lambda: loss_and_grad(kind, out, labels, j, t)[0], out), f"{kind} loss")
    # Cross-entropy of a hand-computed case: -log softmax, and argmin for distances.
    z = -out / t if kind == "distance" else out
    if j is not None:
        z = np.concatenate([z, np.full((5, 1), -j)], axis=1)
    expected = np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(5), labels])
    assert loss == pytest.approx(expected, rel=1e-12)
    np.testing.assert_array_equal(pred, out.argmin(1) if kind == "distance" else out.argmax(1))


@pytest.mark.parametrize("model", list(zoo.ZOO))
def test_network_forward_matches_reference_and_gradients(model):
    """Whole networks: forward equals the reference; backprop equals finite differences."""
    net = zoo.architecture(model)
    rng = np.random.default_rng(11)
    params = {k: v if v.dtype == np.uint8 else v.astype(np.float64) for k, v in init_params(net, 1).items()}
    for key in params:
        if key.endswith(".bias"):  # nonzero biases keep ReLU units off their kink on blank pixels
            params[key] = rng.uniform(-0.2, 0.2, params[key].shape)
    net.params = params
    x, labels = datasets.mnist_inputs(net, 3)
    x = x.astype(np.float64)
    np.testing.assert_allclose(backprop.forward(net.layers, x, params)[0], reference.forward(net, x), rtol=1e-12)
    head = training_head(net)
    out, caches = backprop.forward(head.layers, x, params)
    _, dout, _ = loss_and_grad(head.kind, out, labels)
    grads = backprop.backward(head.layers, dout, caches, params)
    assert set(grads) >= set(trainable_keys(net))

    def loss():
        return loss_and_grad(head.kind, backprop.forward(head.layers, x, params)[0], labels)[0]

    for key in trainable_keys(net):
        arr = params[key]
        for _ in range(4):
            idx = tuple(int(rng.integers(0, s)) for s in arr.shape)
            old = arr[idx]
            arr[idx] = old + EPS
            up = loss()
            arr[idx] = old - EPS
            down = loss()
            arr[idx] = old
            numeric = (up - down) / (2 * EPS)
            assert abs(grads[key][idx] - numeric) <= TOL * max(1.0, abs(numeric)), f"{model} {key}{idx}"


def test_frozen_parameters():
    net = zoo.architecture("lenet5")
    keys = trainable_keys(net)
    assert "C3.table" not in keys and "OUTPUT.prototypes" not in keys and "C3.weight" in keys


def translate(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Shift by (dy, dx) with zero fill, via np.roll (independent of shift_images)."""
    out = np.roll(img, (dy, dx), axis=(0, 1))
    if dy > 0:
        out[:dy] = 0
    elif dy < 0:
        out[dy:] = 0
    if dx > 0:
        out[:, :dx] = 0
    elif dx < 0:
        out[:, dx:] = 0
    return out


def test_shift_images():
    rng = np.random.default_rng(0)
    images = datasets.mnist("test")[0][:50]
    shifted = shift_images(images, 2, rng)
    assert shifted.shape == images.shape and shifted.dtype == np.uint8
    moves = set()
    for img, got in zip(images, shifted, strict=True):
        match = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if np.array_equal(translate(img, dy, dx), got)]
        assert match, "not a translation by at most 2 pixels"
        moves.add(match[0])
    assert len(moves) > 5  # the shifts really are random
    np.testing.assert_array_equal(shift_images(images, 0, rng), images)


def test_deterministic_for_a_seed():
    data = datasets.mnist("train")
    net = zoo.architecture("lenet5")
    config = TrainConfig(epochs=1, limit=256, seed=5, eval_test=False)
    a = train(net, config, data, progress=False).net
    b = train(net, config, data, progress=False).net
    c = train(net, TrainConfig(epochs=1, limit=256, seed=6, eval_test=False), data, progress=False).net
    assert a.weights_hash() == b.weights_hash()
    assert a.weights_hash() != c.weights_hash()
    np.testing.assert_array_equal(a.params["C3.table"], zoo.c3_table())
    np.testing.assert_array_equal(a.params["OUTPUT.prototypes"], zoo.random_params(net, 5)["OUTPUT.prototypes"])


def test_train_command_end_to_end(tmp_path, capsys):
    """`lenetc train lenet5-keras --epochs 1` on a subset: loss falls, accuracy far above chance."""
    from lenetc.cli import main
    from lenetc.npz import load_npz

    out = tmp_path / "w.npz"
    argv = ["train", "lenet5-keras", "-o", str(out), "--epochs", "1", "--limit", "3000", "--seed", "1"]
    assert main([*argv, "--quiet", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["model"] == "lenet5-keras" and summary["epochs"] == 1
    assert summary["test_accuracy"] > 0.6  # chance is 0.1
    trained = load_npz(out)
    x, labels = datasets.mnist_inputs(trained, 1000, split="train")
    head = training_head(trained)
    before = loss_and_grad(head.kind, backprop.forward(head.layers, x, init_params(trained, 1))[0], labels)[0]
    after = loss_and_grad(head.kind, backprop.forward(head.layers, x, trained.params)[0], labels)[0]
    assert after < 0.5 * before
    accuracy = (reference.predict_classes(trained, reference.forward(trained, x)) == labels).mean()
    assert accuracy > 0.6
