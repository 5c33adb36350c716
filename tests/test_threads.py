"""``threads=`` on the compiled model (issue 12 item 6): a batch split across threads gives the
same bits as one thread, and the answers of the independent references."""

import os

import numpy as np
import pytest

import lenetc
from lenetc.quant import forward_int8


def _inputs(net, n, seed):
    return np.random.default_rng(seed).uniform(-0.1, 1.175, (n, *net.input_shape)).astype(np.float32)


@pytest.fixture(scope="module")
def lenet5():
    net = lenetc.load("lenet5")
    return net, lenetc.compile(net, threads=3)


def test_float_batch_split_across_threads_is_bit_identical(lenet5):
    net, c = lenet5
    x = _inputs(net, 37, 1)  # 37 images: chunks of 12, 12, 13
    assert c.threads == 3
    split = c(x)
    c.threads = 1
    try:
        whole = c(x)
    finally:
        c.threads = 3
    np.testing.assert_array_equal(split, whole)
    # float32 C against the float64 reference: 1e-4 covers float32 rounding over LeNet-5's sums
    np.testing.assert_allclose(split, lenetc.forward(net, x), atol=1e-4, rtol=0)


def test_more_threads_than_images_and_one_image(lenet5):
    net, c = lenet5
    x = _inputs(net, 2, 2)
    np.testing.assert_array_equal(c(x), np.stack([c(x[0]), c(x[1])]))


def test_int8_batch_split_across_threads_is_bit_exact():
    net = lenetc.load("lenet5-keras")
    qnet = lenetc.quantize(net, n_calib=100)
    c8 = lenetc.compile(qnet, threads=2)
    xq = qnet.quantize_input(_inputs(net, 21, 3))
    np.testing.assert_array_equal(c8.run_int8(xq), forward_int8(qnet, xq))


def test_an_error_in_any_chunk_is_reported(lenet5):
    net, c = lenet5
    x = _inputs(net, 9, 4)
    x[8, 0, 0, 0] = np.nan  # in the last thread's chunk
    with pytest.raises(lenetc.LenetcError, match="NaN or Inf"):
        c(x)


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True])
def test_bad_thread_counts_are_refused(lenet5, bad):
    _, c = lenet5
    with pytest.raises(lenetc.LenetcError, match="threads must be a whole number"):
        c.threads = bad


def test_zero_means_one_thread_per_cpu(lenet5):
    _, c = lenet5
    c.threads = 0
    try:
        assert c.threads == (os.cpu_count() or 1)
    finally:
        c.threads = 3
