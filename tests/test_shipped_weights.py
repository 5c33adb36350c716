"""Every zoo model ships trained weights, and a zoo model without them refuses to load
unless random weights are asked for by name (issue 9.2)."""

from __future__ import annotations

import numpy as np
import pytest

import lenetc
from lenetc import models, zoo
from lenetc.cli import main
from lenetc.errors import LenetcError
from tests.conftest import ZOO_NAMES


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_every_zoo_model_ships_weights_that_are_not_the_random_init(name):
    assert models.shipped_weights(name) is not None
    net = lenetc.load(name)
    init = zoo.random_params(net, 0)
    # Trained weights differ from every seed-0 initial tensor that training updates.
    trained = [key for key in net.params if not key.endswith((".table", ".prototypes"))]
    assert trained and all(not np.array_equal(net.params[key], init[key]) for key in trained)


@pytest.fixture
def no_shipped_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "WEIGHTS_DIR", tmp_path)


def test_zoo_model_without_shipped_weights_refuses(no_shipped_weights):
    with pytest.raises(LenetcError, match=r"no trained weights ship for 'lenet5-softmax'.*random:SEED"):
        lenetc.load("lenet5-softmax")
    net = lenetc.load("lenet5-softmax", "random:4")
    for key, value in zoo.random_params(net, 4).items():
        np.testing.assert_array_equal(net.params[key], value)


def test_cli_without_shipped_weights_is_a_one_line_error(no_shipped_weights, capsys):
    assert main(["eval", "lenet5", "-n", "5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lenetc: error: no trained weights ship for 'lenet5'") and len(err.splitlines()) == 1
    assert main(["info", "lenet5", "--weights", "random:0"]) == 0
