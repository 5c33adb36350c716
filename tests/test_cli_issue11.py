"""The command line refuses nonsense and says what it does (issue 11 item 6)."""

from __future__ import annotations

import json
import re

import pytest
from firmware_helpers import need_target

from lenetc import cli, models
from lenetc.commands.firmware import byte_count
from lenetc.extension import compiler, host_flags
from lenetc.families import host_dialect


def _run(capsys, *argv):
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def _dialect_of(header: str) -> str:
    return re.search(r"target=([\w-]+)", header).group(1)


@pytest.mark.parametrize(
    ("target", "dialect"),
    [(None, "portable"), ("neon", "neon"), ("cortex-m4", "cortex-m-dsp"), ("cortex-m55", "cortex-m-mve"),
     ("cortex-m3", "portable"), ("aarch64-linux", "neon"), ("x86", "x86")],
)  # fmt: skip
def test_generate_target_selects_the_dialect(tmp_path, capsys, target, dialect):
    """--target used to be ignored without --example (always portable)."""
    extra = [] if target is None else ["--target", target]
    code, out, _ = _run(capsys, "generate", "lenet5-keras", "-o", str(tmp_path), *extra)
    assert code == 0
    assert _dialect_of((tmp_path / "lenet5_keras.h").read_text()) == dialect
    assert f"C dialect {dialect}" in out


def test_generate_target_host_is_the_host_compilers_dialect(tmp_path, capsys):
    cc = compiler()
    code, _, _ = _run(capsys, "generate", "lenet5", "-o", str(tmp_path), "--target", "host", "--dtype", "int8",
                      "--calib", "50")  # fmt: skip
    assert code == 0
    assert _dialect_of((tmp_path / "lenet5.h").read_text()) == host_dialect(cc, host_flags(cc)).name


def test_bad_targets_are_one_line_errors(tmp_path, capsys):
    code, _, err = _run(capsys, "generate", "lenet5", "-o", str(tmp_path), "--target", "z80")
    assert code == 2 and err.startswith("lenetc: error: unknown --target 'z80'") and err.count("\n") == 1
    code, _, err = _run(capsys, "generate", "lenet5", "-o", str(tmp_path), "--example", "--target", "neon")
    assert code == 2 and "--example builds firmware for a target" in err


def test_example_hint_names_its_target(tmp_path, capsys):
    code, out, _ = _run(capsys, "generate", "lenet5-keras", "-o", str(tmp_path), "--example", "--target", "cortex-m55")
    assert code == 0
    assert "builds for cortex-m55" in out and "C dialect cortex-m-mve" in out
    assert "TARGET ?= cortex-m55" in (tmp_path / "Makefile").read_text()


def test_info_follows_the_target(capsys):
    code, out, _ = _run(capsys, "info", "lenet5", "--target", "x86")
    assert code == 0 and "generated C (x86, workspace aligned to 64)" in out
    code, out, _ = _run(capsys, "info", "lenet5", "--json", "--target", "cortex-m4")
    doc = json.loads(out)
    assert doc["c"]["dialect"] == "cortex-m-dsp" and doc["c"]["workspace_align"] == 4
    code, out, _ = _run(capsys, "info", "lenet5", "--dtype", "int8", "--calib", "50", "--target", "neon")
    assert code == 0 and "C dialect neon" in out


def test_verify_int8_against_onnxruntime_names_what_has_no_qdq_form(capsys):
    """int8 against ONNX Runtime runs on the QDQ export; LeNet-5's subsampling has none: one line."""
    code, _, err = _run(capsys, "verify", "lenet5", "--dtype", "int8", "--against", "onnxruntime", "-n", "4")
    assert code == 2 and "'S2' (subsampling) has no faithful QDQ ONNX form" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("lr", ["0", "-0.001", "nan", "x"])
def test_train_lr_must_be_positive(tmp_path, capsys, lr):
    code, _, err = _run(capsys, "train", "lenet5", "-o", str(tmp_path / "w.npz"), "--lr", lr)
    assert code == 2 and "--lr" in err
    assert not (tmp_path / "w.npz").exists()


def test_train_on_a_model_file_names_the_reason(tmp_path, capsys):
    code, _, err = _run(capsys, "train", "lenet5.onnx", "-o", str(tmp_path / "w.npz"))
    assert code == 2
    assert "cannot start from a model file ('lenet5.onnx')" in err and "lenet-caffe" in err


def test_help_lists_model_files_and_defaults(capsys):
    code, out, _ = _run(capsys, "verify", "--help")
    assert code == 0
    flat = " ".join(out.split())
    for suffix in (".npz", ".onnx", ".h5", ".keras"):
        assert suffix in flat
    assert "--seed SEED seed for random inputs (default: 0)" in flat
    assert "(default: numpy)" in flat and "(default: mnist)" in flat
    code, out, _ = _run(capsys, "predict", "--help")
    assert "(default: c)" in " ".join(out.split())


def test_byte_counts():
    assert byte_count("256K") == 262144 == byte_count("256KiB") == byte_count("262144") == byte_count("0x40000")
    assert byte_count("1M") == 1 << 20
    with pytest.raises(Exception, match="not a byte count"):
        byte_count("lots")


def test_size_checks_the_fit(capsys):
    need_target("cortex-m4")
    code, out, _ = _run(capsys, "size", "lenet5", "--flash", "256K", "--ram", "32K")
    assert code == 0 and out.count(": fits") == 2
    code, out, _ = _run(capsys, "size", "lenet-caffe", "--flash", "256K", "--ram", "32K")
    assert code == 1 and "flash   1," in out and "DOES NOT FIT" in out
    code, out, _ = _run(capsys, "size", "lenet-caffe", "--flash", "256K", "--json")
    doc = json.loads(out)
    assert code == 1 and doc["budget"]["fits"] is False and doc["dialect"] == "cortex-m-dsp"


def test_list_shows_the_zoo_and_weight_status(tmp_path, capsys, monkeypatch):
    code, out, _ = _run(capsys, "list")
    assert code == 0
    for name in ("lenet5", "lenet5-softmax", "lenet-caffe", "lenet-keras", "lenet5-keras"):
        assert re.search(rf"^{re.escape(name)}\s.*shipped \(", out, re.M), name
    (tmp_path / "lenet5.npz").write_bytes(b"not a zip")
    monkeypatch.setattr(models, "WEIGHTS_DIR", tmp_path)
    code, out, _ = _run(capsys, "list", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["lenet5"]["weights"].startswith("damaged")
    assert rows["lenet-caffe"]["weights"] == "none" and rows["lenet-caffe"]["params"] is None
