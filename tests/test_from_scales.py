"""A QuantizedNetwork built from given scales, zero points and integer weights (issue 22 item 1).

The expected outputs are computed independently in float64 from the affine definition
``real = scale * (q - zero_point)`` of every tensor; the scales are powers of two, so the
float64 results are exact and the integer rule (multiplier and shift, ties away from zero)
must reproduce them bit for bit, in the NumPy integer reference and in the compiled C.
"""

from __future__ import annotations

import numpy as np
import pytest

import lenetc
from lenetc.errors import LenetcError
from lenetc.kinds.conv2d import QConv2D
from lenetc.kinds.dense import QDense
from lenetc.kinds.pool2d import QPool2D
from lenetc.layers import Act, Activation, Conv2D, Dense, Flatten, Pool2D, Softmax
from lenetc.network import Network
from lenetc.quant import GivenLinear, GivenOutput, GivenTensor, forward_int8, quantized_from_scales

RNG = np.random.default_rng(22)


def _round_away(v: np.ndarray) -> np.ndarray:
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def _small_net() -> tuple[Network, dict, GivenTensor, dict]:
    """conv 2->3 (3x3, per-channel int8 weights, asymmetric uint8 activations) + relu, max
    pool, flatten, dense 12->4 (per-tensor weights with a uint8 zero point), softmax."""
    conv = Conv2D("conv", out_channels=3, kernel=3, act=None)
    net = Network("given", (2, 6, 6), [conv, Activation("relu", Act("relu")), Pool2D("pool", kernel=2),
                                       Flatten("flat"), Dense("fc", units=4), Softmax("prob")])  # fmt: skip
    cw = RNG.integers(-127, 128, (3, 2, 3, 3)).astype(np.int8)
    cs = np.array([2.0**-7, 2.0**-8, 2.0**-6])
    fw = RNG.integers(0, 256, (4, 12)).astype(np.uint8)  # uint8 weights, zero point 128
    fs = 2.0**-7
    s_in, s_c, s_f = 2.0**-6, 2.0**-4, 2.0**-3
    cb = RNG.integers(-3000, 3000, 3).astype(np.int32)
    fb = RNG.integers(-3000, 3000, 4).astype(np.int32)
    net.params = {
        "conv.weight": (cw * cs[:, None, None, None]).astype(np.float32),
        "conv.bias": (cb * s_in * cs).astype(np.float32),
        "fc.weight": ((fw.astype(np.int64) - 128) * fs).astype(np.float32),
        "fc.bias": (fb * s_c * fs).astype(np.float32),
    }
    net.validate()
    given = {
        "conv": GivenLinear(
            weight=cw, weight_q=GivenTensor("conv.w_scale", cs, np.zeros(3, np.int8), "int8", axis=0),
            bias=cb, bias_q=GivenTensor("conv.b_scale", s_in * cs, 0, "int32"),
            out_q=GivenTensor("relu_out", s_c, 0, "uint8"),
        ),
        "pool": GivenOutput(GivenTensor("pool_out", s_c, 0, "uint8")),
        "fc": GivenLinear(
            weight=fw, weight_q=GivenTensor("fc.w_scale", fs, 128, "uint8"),
            bias=fb, bias_q=GivenTensor("fc.b_scale", s_c * fs, 0, "int32"),
            out_q=GivenTensor("logits", s_f, 100, "uint8"),
        ),
    }  # fmt: skip
    ints = {"cw": cw, "cs": cs, "cb": cb, "fw": fw.astype(np.int64) - 128, "fs": fs, "fb": fb,
            "s_in": s_in, "s_c": s_c, "s_f": s_f}  # fmt: skip
    return net, given, GivenTensor("input", s_in, 128, "uint8"), ints


def _expected(u8: np.ndarray, k: dict) -> np.ndarray:
    """uint8 input -> uint8 logits, in float64 from the definitions (independent of lenetc)."""
    x = (u8.astype(np.float64) - 128) * k["s_in"]
    n = x.shape[0]
    w = k["cw"] * k["cs"][:, None, None, None]
    y = np.zeros((n, 3, 4, 4))
    for i in range(4):
        for j in range(4):
            y[:, :, i, j] = np.einsum("ncij,ocij->no", x[:, :, i : i + 3, j : j + 3], w)
    y += (k["cb"] * k["s_in"] * k["cs"])[None, :, None, None]
    qc = np.clip(_round_away(y / k["s_c"]), 0, 255)  # relu: clamp at zero point 0 (uint8)
    pooled = qc.reshape(n, 3, 2, 2, 2, 2).max(axis=(3, 5)).reshape(n, -1) * k["s_c"]
    z = pooled @ (k["fw"] * k["fs"]).T + k["fb"] * k["s_c"] * k["fs"]
    return np.clip(_round_away(z / k["s_f"]) + 100, 0, 255)


@pytest.fixture(scope="module")
def built():
    net, given, input_q, ints = _small_net()
    return quantized_from_scales(net, input_q, given), ints


def test_given_scales_build_each_kinds_own_type(built):
    qnet, _ = built
    assert [type(q) for q in qnet.layers] == [QConv2D, QPool2D, type(qnet.layers[2]), QDense]
    assert qnet.input_q.zero_point == 0 and qnet.output_q.zero_point == 100 - 128  # uint8 -> int8
    assert qnet.final_softmax == "softmax" and qnet.method == "file"
    conv = qnet.layers[0]
    assert conv.lo == -128 and np.array_equal(conv.w_scale, [2.0**-7, 2.0**-8, 2.0**-6])
    assert not hasattr(qnet.layers[1], "weight")  # pooling carries no constants


def test_given_scales_compute_the_files_integers_exactly(built):
    """Integer reference and compiled C against the float64 definition, on 200 random uint8 inputs."""
    qnet, ints = built
    u8 = RNG.integers(0, 256, (200, 2, 6, 6))
    want = _expected(u8, ints)
    xq = (u8 - 128).astype(np.int8)
    ref = forward_int8(qnet, xq).astype(np.int64) + 128
    np.testing.assert_array_equal(ref, want)
    got = lenetc.compile(qnet).run_int8(xq).astype(np.int64) + 128
    np.testing.assert_array_equal(got, want)


def _linear_case(**over):
    layer = Dense("fc", units=2)
    net = Network("one", (1, 1, 3), [Flatten("f"), layer])
    net.params = {"fc.weight": np.zeros((2, 3), np.float32), "fc.bias": np.zeros(2, np.float32)}
    net.validate()
    fields = dict(
        weight=np.array([[1, 2, 3], [-4, 5, -6]], np.int8),
        weight_q=GivenTensor("fc.w_scale", [0.5, 0.25], 0, "int8", axis=0),
        bias=np.array([1, 2], np.int32),
        bias_q=GivenTensor("fc.b_scale", [0.05, 0.025], 0, "int32"),
        out_q=GivenTensor("out", 0.1, 0),
    )
    fields.update(over)
    return net, GivenTensor("input", 0.1, 0), {"fc": GivenLinear(**fields)}


def test_the_well_formed_case_builds():
    net, input_q, given = _linear_case()
    q = quantized_from_scales(net, input_q, given).layers[-1]
    assert q.mult.shape == (2,) and q.acc_bound > 0


BAD = {
    "zero scale": (dict(weight_q=GivenTensor("fc.w_scale", [0.0, 0.25], 0, axis=0)), "fc.w_scale", "is zero"),
    "negative scale": (dict(weight_q=GivenTensor("fc.w_scale", [0.5, -0.25], 0, axis=0)), "fc.w_scale", "negative"),
    "NaN scale": (dict(out_q=GivenTensor("out", float("nan"), 0)), "'out'", "NaN"),
    "infinite scale": (dict(out_q=GivenTensor("out", float("inf"), 0)), "'out'", "infinite"),
    "denormal scale": (dict(out_q=GivenTensor("out", 1e-40, 0)), "'out'", "denormal"),
    "huge scale": (dict(out_q=GivenTensor("out", 1e12, 0)), "'out'", "huge"),
    "int8 zero point": (dict(out_q=GivenTensor("out", 0.1, 200)), "'out'", "outside int8"),
    "uint8 zero point": (dict(out_q=GivenTensor("out", 0.1, -1, "uint8")), "'out'", "outside uint8"),
    "fractional zero point": (dict(out_q=GivenTensor("out", 0.1, 1.5)), "'out'", "not an integer"),
    "per-channel activation": (dict(out_q=GivenTensor("out", [0.1, 0.2], 0, axis=1)), "'out'", "per tensor"),
    "per-channel axis": (dict(weight_q=GivenTensor("fc.w_scale", [0.5, 0.25], 0, axis=1)), "fc.w_scale", "axis 1"),
    "channel count": (
        dict(weight_q=GivenTensor("fc.w_scale", [0.5, 0.25, 1.0], 0, axis=0)),
        "fc.w_scale",
        "3 per-channel",
    ),
    "weights leave int8": (
        dict(weight_q=GivenTensor("fc.w_scale", [0.5, 0.25], 127, axis=0)),
        "fc.w_scale",
        "leave int8",
    ),
    "bias scale": (dict(bias_q=GivenTensor("fc.b_scale", [0.05, 0.05], 0, "int32")), "fc.b_scale", "is not input"),
    "bias zero point": (dict(bias_q=GivenTensor("fc.b_scale", [0.05, 0.025], 3, "int32")), "fc.b_scale", "must be 0"),
    "int32 activation": (dict(out_q=GivenTensor("out", 0.1, 0, "int32")), "'out'", "int8 or uint8"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_quantization_is_refused_naming_the_tensor(case):
    over, tensor, what = BAD[case]
    net, input_q, given = _linear_case(**over)
    with pytest.raises(LenetcError) as err:
        quantized_from_scales(net, input_q, given)
    msg = str(err.value)
    assert tensor in msg and what in msg and "\n" not in msg, msg


def test_pooling_that_changes_the_quantization_is_refused():
    net, given, input_q, _ = _small_net()
    given["pool"] = GivenOutput(GivenTensor("pool_out", 2.0**-5, 0, "uint8"))
    with pytest.raises(LenetcError, match="pool_out.*keeps its input's"):
        quantized_from_scales(net, input_q, given)


def test_float_activation_without_its_own_quantization_is_refused():
    net, input_q, given = _linear_case()
    net.layers[1] = Dense("fc", units=2, act=Act("tanh"))
    with pytest.raises(LenetcError, match="tanh runs in float"):
        quantized_from_scales(net, input_q, given)
