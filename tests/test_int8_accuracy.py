"""Accuracy of the int8 C against the float32 C on the 10,000 MNIST test digits, for every zoo
net (each ships trained weights; loading one without them is an error, not a skip).
The bit-exact check over all 10,000 digits is benchmarks/int8_check.py; here 500 digits."""

from __future__ import annotations

import numpy as np
import pytest
from int8_helpers import ZOO

import lenetc
from lenetc import datasets
from lenetc.quant import forward_int8
from lenetc.reference import predict_classes

MAX_DROP_POINTS = 0.3


@pytest.mark.slow
@pytest.mark.parametrize("name", ZOO)
def test_int8_loses_at_most_0_3_points(name):
    net = lenetc.load(name)
    x, labels = datasets.mnist_inputs(net, None, "test")
    qnet = lenetc.quantize(net, n_calib=1000)
    acc_f = (predict_classes(net, lenetc.compile(net)(x)) == labels).mean()
    c_int8 = lenetc.compile(net, dtype="int8", calibration=qnet)
    xq = qnet.quantize_input(x)
    raw = c_int8.run_int8(xq)
    acc_q = (predict_classes(net, raw) == labels).mean()
    assert 100 * (acc_f - acc_q) <= MAX_DROP_POINTS, (acc_f, acc_q)
    np.testing.assert_array_equal(raw[:500], forward_int8(qnet, xq[:500]))
