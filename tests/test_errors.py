"""User errors: one line naming the problem, and no half-written output."""

from __future__ import annotations

import os

import numpy as np
import pytest

import lenetc
from lenetc import fileio, generate


def _saved(tmp_path, zoo_nets, mutate):
    net = zoo_nets["lenet5"]
    params = {k: v.copy() for k, v in net.params.items()}
    mutate(params)
    arrays = dict(params)
    arrays["__arch__"] = np.array(net.arch_json())
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda p: p.pop("C3.weight"), r"missing weight 'C3.weight' in .*bad.npz \(expected shape \(16, 6, 5, 5\)\)"),
        (
            lambda p: p.__setitem__("F6.weight", np.zeros((84, 121), np.float32)),
            r"'F6.weight' .* shape \(84, 121\), expected \(84, 120\)",
        ),
        (lambda p: p["C1.bias"].__setitem__(3, np.nan), r"'C1.bias' .* NaN or Inf \(first at index \(3,\)\)"),
        (lambda p: p["S2.coeff"].__setitem__(0, np.inf), r"'S2.coeff' .* NaN or Inf"),
        (lambda p: p.__setitem__("C3.table", np.full((16, 6), 2, np.uint8)), r"'C3.table' holds 2; .* 0 or 1"),
        (lambda p: p.__setitem__("extra.weight", np.zeros(3, np.float32)), r"unexpected weight 'extra.weight'"),
    ],
)
def test_bad_weights(tmp_path, zoo_nets, mutate, message):
    with pytest.raises(lenetc.LenetcError, match=message):
        lenetc.load(_saved(tmp_path, zoo_nets, mutate))


def test_corrupt_and_missing_files(tmp_path):
    bad = tmp_path / "corrupt.npz"
    bad.write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(lenetc.LenetcError, match="cannot read weights file"):
        lenetc.load(bad)
    with pytest.raises(lenetc.LenetcError, match="does not exist"):
        lenetc.load("lenet5", weights=tmp_path / "nope.npz")
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.zeros(3))
    with pytest.raises(lenetc.LenetcError, match="no __arch__"):
        lenetc.load(plain)
    with pytest.raises(lenetc.LenetcError, match="unknown model 'lenet6'"):
        lenetc.load("lenet6")
    with pytest.raises(lenetc.LenetcError, match="unsupported file type"):
        lenetc.load(__file__)


def test_failed_generation_leaves_no_files(tmp_path, zoo_nets, monkeypatch):
    """The second file fails mid-write: neither file appears, and no temporary file is left."""
    out = tmp_path / "out"
    out.mkdir()
    real_fdopen = os.fdopen
    calls = []

    def failing_fdopen(fd, mode="r"):
        calls.append(fd)
        fh = real_fdopen(fd, mode)
        if len(calls) == 2:
            fh.close()
            raise OSError(28, "No space left on device")
        return fh

    monkeypatch.setattr(fileio.os, "fdopen", failing_fdopen)
    with pytest.raises(lenetc.LenetcError, match="No space left on device"):
        generate(zoo_nets["lenet5"], out, prefix="m")
    assert list(out.iterdir()) == []


def test_unwritable_output_dir(tmp_path, zoo_nets):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    # the message names the path and why: its parent is a file
    with pytest.raises(lenetc.LenetcError, match=r"cannot write '.*file/sub': Not a directory"):
        generate(zoo_nets["lenet5"], blocker / "sub", prefix="m")


def test_layer_config_errors():
    with pytest.raises(lenetc.LenetcError, match="kernel 5x5 larger than input 3x3"):
        lenetc.Network("t", (1, 3, 3), [lenetc.Conv2D("c", out_channels=1, kernel=5)]).shapes()
    with pytest.raises(lenetc.LenetcError, match="unknown activation 'swish'"):
        lenetc.Act("swish")
    with pytest.raises(lenetc.LenetcError, match="duplicate layer name"):
        lenetc.Network("t", (1, 4, 4), [lenetc.Activation("a"), lenetc.Activation("a")]).validate()
