"""The zoo is the paper's: counts computed by the code match lenet-architectures.md, and the
compiled C of every zoo net matches the float64 reference."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import lenetc
from lenetc.zoo import c3_table
from tests.conftest import ZOO_NAMES, rand_inputs

# LeCun et al. 1998, as tabulated in lenet-architectures.md: (params, connections).
LENET5_TABLE = {
    "C1": (156, 122_304),
    "S2": (12, 5_880),
    "C3": (1_516, 151_600),
    "S4": (32, 2_000),
    "C5": (48_120, 48_120),
    "F6": (10_164, 10_164),
}
TOTAL_PARAMS = {"lenet-caffe": 431_080, "lenet-keras": 155_606, "lenet5-keras": 61_706}


def test_info_json_matches_the_paper():
    out = subprocess.run([sys.executable, "-m", "lenetc", "info", "lenet5", "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    rows = {layer["name"]: layer for layer in doc["layers"]}
    for name, (params, connections) in LENET5_TABLE.items():
        assert (rows[name]["params"], rows[name]["connections"]) == (params, connections), name
    assert rows["OUTPUT"]["kind"] == "rbf" and doc["output_kind"] == "distance"
    assert rows["C3"]["output_shape"] == [16, 10, 10]
    assert set(doc["totals"]) >= {"params", "connections", "macs"}


@pytest.mark.parametrize("name", sorted(TOTAL_PARAMS))
def test_parameter_totals(name, zoo_nets):
    assert zoo_nets[name].totals()["params"] == TOTAL_PARAMS[name]


def test_c3_table_is_the_papers():
    table = c3_table()
    assert table.shape == (16, 6) and table.dtype == np.uint8
    assert table.sum(axis=1).tolist() == [3] * 6 + [4] * 9 + [6]
    assert table[9].nonzero()[0].tolist() == [0, 3, 4, 5]
    assert table[14].nonzero()[0].tolist() == [0, 2, 3, 5]
    # 6*(3*25+1) + 6*(4*25+1) + 3*(4*25+1) + 1*(6*25+1)
    assert table.sum() * 25 + 16 == 1516


def test_lenet5_softmax_variant_has_full_output(zoo_nets):
    net = zoo_nets["lenet5-softmax"]
    assert net.output_kind == "probability"
    assert net.layer_info()[6].params == 850


def test_sparse_c3_is_not_computed_densely(zoo_nets):
    plan = lenetc.make_plan(zoo_nets["lenet5"])
    c3 = next(op for op in plan.ops if op.layer == "C3")
    weights = next(c for c in plan.consts if c.name == c3.ctx["weight"])
    assert weights.values.size == 60 * 25  # 60 connected (output, input) map pairs, not 96


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_compiled_matches_reference(name, zoo_nets):
    """float32 C vs float64 NumPy: within 1e-5 of the output scale (float32 rounding of sums
    over at most 800 terms and the 3e-7 activation approximations stay far below it)."""
    net = zoo_nets[name]
    x = rand_inputs(net, 32, seed=7)
    ref = lenetc.forward(net, x)
    got = lenetc.compile(net)(x)
    assert got.shape == ref.shape == (32, 10)
    assert np.abs(got - ref).max() <= 1e-5 * np.abs(ref).max()
    from lenetc.reference import predict_classes

    assert (predict_classes(net, got) == predict_classes(net, ref)).all()
    one = lenetc.compile(net)(x[0])
    assert one.shape == (10,)
    np.testing.assert_array_equal(one, got[0])


def test_input_forms(zoo_nets):
    net = zoo_nets["lenet-caffe"]
    x = rand_inputs(net, 3)
    c = lenetc.compile(net)
    np.testing.assert_array_equal(c(x[:, 0]), c(x))  # (N, H, W)
    np.testing.assert_array_equal(c(x[0, 0]), c(x)[0])  # (H, W)
    np.testing.assert_allclose(lenetc.forward(net, x[0, 0]), lenetc.forward(net, x)[0])
    with pytest.raises(lenetc.LenetcError, match="expected"):
        c(np.zeros((2, 1, 27, 27), np.float32))


def test_save_load_roundtrip(tmp_path, zoo_nets):
    net = zoo_nets["lenet5"]
    path = lenetc.save(net, tmp_path / "w.npz")
    back = lenetc.load(path)
    assert back.weights_hash() == net.weights_hash()
    with np.load(path) as data:
        assert data["C3.table"].dtype == np.uint8 and data["C1.weight"].shape == (6, 1, 5, 5)
        assert "__arch__" in data.files
    again = lenetc.load("lenet5", weights=path)
    assert again.weights_hash() == net.weights_hash()


def test_random_weights_are_reproducible():
    a, b, c = (lenetc.load("lenet-keras", w) for w in ("random:3", "random:3", "random:4"))
    assert a.weights_hash() == b.weights_hash() != c.weights_hash()
