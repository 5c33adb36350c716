"""Issue 21 item 20: inputs that used to end in a traceback give one line ``lenetc: error: ...``
and exit 2 (Ctrl-C: one line ``lenetc: interrupted`` and exit 130, as during a command)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import lenetc
from lenetc.cli import main

h5py = pytest.importorskip("h5py")


def one_line_error(capsys, argv: list[str], pattern: str) -> None:
    capsys.readouterr()
    assert main(argv) == 2, argv
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lenetc: error: "), err
    assert pattern in err, err


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    net = lenetc.load("lenet-caffe", "random:0")
    files = {}
    files["nested.npz"] = d / "nested.npz"
    np.savez(files["nested.npz"], __arch__=np.array("[" * 100_000), **net.params)
    arch = net.arch_json().replace('"input_shape": [1, 28, 28]', '"input_shape": [1, 1e400, 28]')
    assert "1e400" in arch
    files["inf.npz"] = d / "inf.npz"
    np.savez(files["inf.npz"], __arch__=np.array(arch), **net.params)
    for name, value in (("nested.h5", "[" * 100_000), ("int.h5", 5), ("array.h5", np.arange(3))):
        files[name] = d / name
        with h5py.File(files[name], "w") as f:
            f.attrs["model_config"] = value
    files["nested.keras"] = d / "nested.keras"
    with zipfile.ZipFile(files["nested.keras"], "w") as zf:
        zf.writestr("config.json", "[" * 100_000)
        zf.writestr("model.weights.h5", b"")
    bare = json.loads(net.arch_json())
    bare["layers"] = []
    files["bare.npz"] = d / "bare.npz"
    np.savez(files["bare.npz"], __arch__=np.array(json.dumps(bare)))
    return files


@pytest.mark.parametrize(
    "name, pattern",
    [
        ("nested.npz", "architecture JSON is malformed: nested too deeply"),
        ("inf.npz", "architecture JSON is malformed: input_shape must be a list of integers"),
        ("nested.h5", "model_config is nested too deeply"),
        ("int.h5", "model_config must be JSON text, not int64"),
        ("array.h5", "model_config must be JSON text, not ndarray"),
        ("nested.keras", "config.json is nested too deeply"),
    ],
)
def test_hostile_json_is_one_line(bad_files, capsys, name, pattern):
    one_line_error(capsys, ["info", str(bad_files[name])], pattern)


@pytest.mark.parametrize(
    "argv, pattern",
    [
        (["verify", "lenet5", "--weights", "random:0", "--inputs", "random", "-n", "2", "--seed", "-1"],
         "--seed must be at least 0, got -1"),
        (["confidence", "lenet5", "--weights", "random:0", "-n", "0"], "-n must be at least 1, got 0"),
        (["confidence", "lenet5", "--weights", "random:0", "-n", "-5"], "-n must be at least 1, got -5"),
        (["eval", "lenet5", "--weights", "random:0", "-n", "8", "--dtype", "int8", "--calib", "8",
          "--sqnr-images", "0"], "SQNR digits must be at least 1, got 0"),
        (["eval", "lenet5", "--weights", "random:0", "-n", "8", "--dtype", "int8", "--calib", "8",
          "--sqnr-images", "-1"], "SQNR digits must be at least 1, got -1"),
        (["train", "lenet5", "--seed", "-1", "-o", "never.npz"], "training seed must be a whole number of at least 0"),
    ],
)  # fmt: skip
def test_bad_counts_are_one_line(capsys, tmp_path, monkeypatch, argv, pattern):
    monkeypatch.chdir(tmp_path)
    one_line_error(capsys, argv, pattern)
    assert not (tmp_path / "never.npz").exists()


def test_verify_model_whose_output_is_not_a_vector(bad_files, capsys, tmp_path):
    """A single Relu (ONNX) and a layer-less .npz: the outputs are compared flattened (before:
    ValueError 'operands could not be broadcast together')."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 28, 28])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 28, 28])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", [x], [y])
    relu = tmp_path / "relu.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), relu)
    for model, against in ((relu, "onnxruntime"), (relu, "numpy"), (bad_files["bare.npz"], "numpy")):
        capsys.readouterr()
        assert main(["verify", str(model), "-n", "3", "--inputs", "random", "--against", against]) == 0
        out = capsys.readouterr().out
        assert "PASS" in out and "max abs error        0.000e+00" in out, out


def test_ctrl_c_while_building_the_parser(capsys, monkeypatch):
    import lenetc.cli as cli

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["info", "lenet5"]) == 130
    assert capsys.readouterr().err == "lenetc: interrupted\n"


def test_start_up_imports_nothing_heavy_before_the_handler():
    """``import lenetc`` (run by both ``python -m lenetc`` and the console script before any
    lenetc code can catch Ctrl-C) no longer imports NumPy and the compiler: the window in which
    Ctrl-C gives a traceback is the interpreter's own start-up."""
    code = "import sys, lenetc.cli; print(sorted(m for m in ('numpy', 'lenetc.api', 'cffi') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(lenetc.__file__).parent.parent)  # fmt: skip
    assert proc.stdout.strip() == "[]"
    # the public names and the submodules are still there on first use
    code = "import lenetc; print(lenetc.load.__module__, lenetc.api.__name__, lenetc.models.WEIGHTS_DIR.name)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(lenetc.__file__).parent.parent)  # fmt: skip
    assert proc.stdout.split() == ["lenetc.models", "lenetc.api", "weights"]


def test_sigint_during_start_up_is_one_line():
    proc = subprocess.Popen([sys.executable, "-m", "lenetc", "info", "lenet5"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=Path(lenetc.__file__).parent.parent)  # fmt: skip
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    if proc.returncode == 0:  # finished first (a fast machine): nothing to see
        return
    assert "Traceback" not in err, err
    # 130, or death by SIGINT (-2) when Python re-raises it at exit: a shell shows 130 for both
    assert proc.returncode in (130, -signal.SIGINT) and err.strip().splitlines() == ["lenetc: interrupted"], err
