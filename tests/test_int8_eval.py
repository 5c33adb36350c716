"""SQNR and the int8 command-line paths (these need lenetc.datasets for calibration)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from int8_helpers import calibration_digits, quantized_zoo

from lenetc.quant.evaluate import sqnr, sqnr_per_layer


def test_sqnr_by_hand():
    ref = np.array([3.0, 4.0])  # signal power 25
    assert sqnr(ref, ref) == math.inf
    assert sqnr(ref, ref + np.array([0.5, 0.0])) == pytest.approx(10 * math.log10(25 / 0.25))  # 20 dB


def test_sqnr_per_layer_is_high_where_ranges_fit():
    qnet = quantized_zoo("lenet-caffe")
    x = qnet.net.preprocess.apply(calibration_digits(50, seed=4))
    rows = sqnr_per_layer(qnet, x)
    assert [r.name for r in rows] == [q.name for q in qnet.layers]
    # int8 keeps ~48 dB of a uniform full-range signal; calibrated layers lose some to clipping
    assert all(r.sqnr_db > 20 for r in rows), rows


def test_cli_int8_paths(tmp_path, capsys):
    from lenetc.cli import main

    args = ["lenet5-keras", "--weights", "random:1", "--dtype", "int8", "--calib", "64"]
    assert main(["info", *args]) == 0
    out = capsys.readouterr().out
    assert "flash (weights + tables)" in out and "liveness lower bound" in out
    assert main(["generate", *args, "-o", str(tmp_path)]) == 0
    assert "float" not in (tmp_path / "lenet5_keras.c").read_text().replace("floating", "")
    assert main(["verify", *args, "-n", "20"]) == 0
    assert "PASS (bit-exact)" in capsys.readouterr().out
