"""Non-finite input is refused the same way everywhere (issue 9 item 4).

NaN travels differently through ``maxps``, NEON ``vmax`` and a C ternary, so the C entry
points check their float input and return ``<P>_ERR_INPUT``; Python (the compiled model and
the NumPy reference alike) says so in one error naming the first bad element.
"""

import numpy as np
import pytest

import lenetc
from lenetc.build import STATUS_MESSAGES


@pytest.fixture(scope="module")
def lenet5():
    net = lenetc.load("lenet5")
    return net, lenetc.compile(net)


def _digits(net, n, seed):
    return np.random.default_rng(seed).uniform(-0.1, 1.175, (n, *net.input_shape)).astype(np.float32)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_python_refuses_non_finite_input_naming_the_element(lenet5, bad):
    net, c = lenet5
    x = _digits(net, 3, 1)
    x[2, 0, 5, 7] = bad
    with pytest.raises(lenetc.LenetcError, match=r"NaN or Inf \(first at index \(2, 0, 5, 7\)\)"):
        lenetc.forward(net, x)
    with pytest.raises(lenetc.LenetcError, match=r"NaN or Inf \(first at index \(2, 0, 5, 7\)\)"):
        c(x)


def test_the_c_entry_point_itself_returns_err_input(lenet5):
    """Bypass the Python check: the C refuses on its own, for a NaN anywhere in the batch."""
    net, c = lenet5
    x = _digits(net, 4, 2)
    good = c(x)
    x[3, 0, 31, 31] = np.nan  # the very last element of the batch
    out = np.full((4, c.output_size), 7.0, dtype=np.float32)
    status = c._run_batch(
        c.ffi.from_buffer("float[]", x),
        c.ffi.from_buffer("float[]", out),
        4,
        c.ffi.from_buffer("unsigned char[]", c.workspace()),
    )
    assert status == -4 and "NaN or Inf" in STATUS_MESSAGES[status]
    assert c.generated.files["lenet5.h"].count("LENET5_ERR_INPUT") >= 1
    np.testing.assert_array_equal(c(x[:3]), good[:3])  # the good images still run


def test_int8_refuses_non_finite_input_instead_of_quantizing_it_to_zero(lenet5):
    net, _ = lenet5
    qnet = lenetc.quantize(net, n_calib=100)
    c8 = lenetc.compile(qnet)
    x = _digits(net, 2, 3)
    x[1, 0, 0, 0] = np.nan
    with pytest.raises(lenetc.LenetcError, match="NaN or Inf"):
        c8(x)
