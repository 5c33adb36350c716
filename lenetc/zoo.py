"""The seed networks of ``lenet-architectures.md`` and their initial weights."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .errors import LenetcError
from .kinds import kind_of
from .layers import RBF, Act, Conv2D, Dense, Flatten, Layer, Pool2D, Softmax, Subsampling
from .network import Network, Preprocess

#: LeNet-5's C3 table: C3 map j reads these S2 maps (LeCun et al. 1998, table I).
C3_CONNECTIONS = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)  # fmt: skip


def c3_table() -> np.ndarray:
    """The C3 connection table as (16, 6) uint8, 1 where C3 map j reads S2 map i."""
    table = np.zeros((16, 6), dtype=np.uint8)
    for j, maps in enumerate(C3_CONNECTIONS):
        table[j, list(maps)] = 1
    return table


def _lenet5(output: str) -> Network:
    squash = Act("scaled_tanh")
    layers: list[Layer] = [
        Conv2D("C1", out_channels=6, kernel=5, act=squash),
        Subsampling("S2", size=2, act=squash),
        Conv2D("C3", out_channels=16, kernel=5, sparse=True, act=squash),
        Subsampling("S4", size=2, act=squash),
        Conv2D("C5", out_channels=120, kernel=5, act=squash),
        Dense("F6", units=84, act=squash),
    ]
    if output == "rbf":
        layers.append(RBF("OUTPUT", units=10))
    else:
        layers += [Dense("OUTPUT", units=10), Softmax("prob")]
    name = "lenet5" if output == "rbf" else "lenet5-softmax"
    # The paper's input scaling: background -0.1, ink 1.175, digit padded to 32x32.
    pre = Preprocess(scale=1.275 / 255.0, offset=-0.1, pad=2)
    return Network(name, (1, 32, 32), layers, preprocess=pre)


def _lenet_caffe() -> Network:
    layers: list[Layer] = [
        Conv2D("conv1", out_channels=20, kernel=5),
        Pool2D("pool1", mode="max", kernel=2, stride=2),
        Conv2D("conv2", out_channels=50, kernel=5),
        Pool2D("pool2", mode="max", kernel=2, stride=2),
        Dense("ip1", units=500, act=Act("relu")),
        Dense("ip2", units=10),
        Softmax("prob"),
    ]
    return Network("lenet-caffe", (1, 28, 28), layers, preprocess=Preprocess(scale=1.0 / 256.0))


def _lenet_keras() -> Network:
    relu = Act("relu")
    layers: list[Layer] = [
        Conv2D("conv1", out_channels=32, kernel=5, act=relu),
        Pool2D("pool1", mode="max", kernel=2),
        Conv2D("conv2", out_channels=64, kernel=5, act=relu),
        Pool2D("pool2", mode="max", kernel=2),
        Flatten("flatten", order="HWC"),
        Dense("dense1", units=100, act=relu),
        Dense("dense2", units=10),
        Softmax("softmax"),
    ]
    return Network("lenet-keras", (1, 28, 28), layers, preprocess=Preprocess(scale=1.0 / 255.0))


def _lenet5_keras() -> Network:
    relu = Act("relu")
    layers: list[Layer] = [
        Conv2D("conv1", out_channels=6, kernel=5, act=relu),
        Pool2D("pool1", mode="max", kernel=2),
        Conv2D("conv2", out_channels=16, kernel=5, act=relu),
        Pool2D("pool2", mode="max", kernel=2),
        Flatten("flatten", order="HWC"),
        Dense("fc1", units=120, act=relu),
        Dense("fc2", units=84, act=relu),
        Dense("fc3", units=10),
        Softmax("softmax"),
    ]
    return Network("lenet5-keras", (1, 32, 32), layers, preprocess=Preprocess(scale=1.0 / 255.0, pad=2))


ZOO: dict[str, Callable[[], Network]] = {
    "lenet5": lambda: _lenet5("rbf"),
    "lenet5-softmax": lambda: _lenet5("softmax"),
    "lenet-caffe": _lenet_caffe,
    "lenet-keras": _lenet_keras,
    "lenet5-keras": _lenet5_keras,
}


def architecture(name: str) -> Network:
    """The zoo network ``name`` without weights."""
    if name not in ZOO:
        raise LenetcError(f"unknown model '{name}' (zoo: {', '.join(ZOO)}; or give a .npz/.onnx path)")
    return ZOO[name]()


def fixed_tables(net: Network) -> dict[str, np.ndarray]:
    """Parameters that are part of the architecture (LeNet-5's C3 table)."""
    return {"C3.table": c3_table()} if net.name.startswith("lenet5") and "C3.table" in net.expected_params() else {}


def random_params(net: Network, seed: int) -> dict[str, np.ndarray]:
    """Reproducible random float32 weights, scaled by fan-in (LeCun's uniform +-2.4/fan_in
    for squashing nets, +-1/sqrt(fan_in) otherwise); RBF prototypes are random +-1."""
    rng = np.random.default_rng(seed)
    params = dict(fixed_tables(net))
    shapes = net.shapes()
    squashing = any(getattr(layer, "act", None) == Act("scaled_tanh") for layer in net.layers)
    for layer, in_shape in zip(net.layers, shapes):
        for suffix, shape in layer.param_shapes(in_shape).items():
            key = f"{layer.name}.{suffix}"
            if key in params:
                continue
            if suffix == "prototypes":
                params[key] = rng.choice(np.array([-1.0, 1.0], np.float32), size=shape)
                continue
            kind_fan_in = kind_of(layer).fan_in  # each kind's rule (kinds/<kind>.py)
            fan_in = kind_fan_in(layer, in_shape, suffix, shape, params) if kind_fan_in else int(np.prod(in_shape))
            bound = 2.4 / fan_in if squashing else 1.0 / np.sqrt(fan_in)
            params[key] = rng.uniform(-bound, bound, size=shape).astype(np.float32)
            if suffix == "coeff":
                params[key] = rng.uniform(0.5, 1.5, size=shape).astype(np.float32) / fan_in
    return params
