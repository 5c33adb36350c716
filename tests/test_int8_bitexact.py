"""The int8 C (host build via cffi) against the NumPy integer reference: equal bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from int8_helpers import ZOO, calibration_digits, int8_inputs, quantized_beyond_zoo, quantized_zoo

import lenetc
from lenetc.quant import forward_int8


@pytest.mark.parametrize("name", ZOO)
def test_zoo_bit_exact_random_and_extreme_inputs(name):
    qnet = quantized_zoo(name)
    compiled = lenetc.compile(qnet.net, dtype="int8", calibration=qnet)
    x = int8_inputs(qnet.net.input_shape)
    got = compiled.run_int8(x)
    ref = forward_int8(qnet, x)
    assert got.dtype == ref.dtype == (np.int32 if name == "lenet5" else np.int8)
    np.testing.assert_array_equal(got, ref)
    # one image at a time gives the same as the batch
    np.testing.assert_array_equal(compiled.run_int8(x[1]), ref[1])


@pytest.mark.parametrize("name", ["lenet5", "lenet5-keras"])
@pytest.mark.parametrize("method", ["minmax", "mse"])
def test_other_calibration_methods_bit_exact(name, method):
    qnet = quantized_zoo(name, seed=2, method=method)
    compiled = lenetc.compile(qnet.net, dtype="int8", calibration=qnet)
    x = int8_inputs(qnet.net.input_shape, n=8, seed=5)
    np.testing.assert_array_equal(compiled.run_int8(x), forward_int8(qnet, x))


def test_float_in_float_out_follows_the_float_network():
    """Float input is quantized in Python; output is dequantized and softmax re-applied."""
    qnet = quantized_zoo("lenet5-keras")
    net = qnet.net
    compiled = lenetc.compile(net, dtype="int8", calibration=qnet)
    x = net.preprocess.apply(calibration_digits(16, seed=9))
    y, raw = compiled(x, raw=True)
    np.testing.assert_array_equal(raw, forward_int8(qnet, qnet.quantize_input(x)))
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
    assert (y.argmax(axis=1) == raw.argmax(axis=1)).all()


def test_beyond_zoo_layers_bit_exact():
    qnet = quantized_beyond_zoo()
    net = qnet.net
    kinds = [q.kind for q in qnet.layers]
    assert kinds.count("activation") == 1  # a2 fuses into c2 (no activation of its own); a3 follows d1's clip
    compiled = lenetc.compile(net, dtype="int8", calibration=qnet)
    x = int8_inputs(net.input_shape, n=16)
    np.testing.assert_array_equal(compiled.run_int8(x), forward_int8(qnet, x))


def test_int8_reference_tracks_float_reference():
    """Not bit-exactness but sanity: dequantized int8 logits follow the float64 reference."""
    qnet = quantized_zoo("lenet-caffe")
    x = qnet.net.preprocess.apply(calibration_digits(32, seed=2))
    ref = lenetc.forward(qnet.net, x)
    from lenetc.quant import forward_float

    got = forward_float(qnet, x)
    assert (got.argmax(axis=1) == ref.argmax(axis=1)).mean() >= 0.9
