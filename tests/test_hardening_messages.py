"""Issue 21 items 10 and 21: what lenetc says. A guessed preprocessing is announced by every
command that uses it and written into the generated header; misleading messages are replaced
by one-line errors that name the real problem."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

import lenetc
from lenetc.exporters.onnx_export import to_onnx

HERE = Path(__file__).parent
NOTE = "lenetc: note: MNIST preprocessing"


def run_cli(*args: str, env: dict | None = None, cwd: str | Path | None = None) -> subprocess.CompletedProcess:
    e = {**os.environ, "PYTHONPATH": str(HERE.parent), **(env or {})}
    return subprocess.run([sys.executable, "-m", "lenetc", *args], capture_output=True, text=True, env=e, cwd=cwd)


def one_line_error(proc: subprocess.CompletedProcess, *words: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-500:], proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lenetc: error: "), proc.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


# ---- item 10: the guessed preprocessing is announced -------------------------------------------


@pytest.fixture(scope="module")
def foreign_onnx(tmp_path_factory) -> Path:
    """lenet5-keras as a foreign ONNX file: no lenetc metadata, so lenetc guesses x = pixel / 255."""
    model = to_onnx(lenetc.load("lenet5-keras", "random:2"))
    del model.metadata_props[:]
    path = tmp_path_factory.mktemp("foreign") / "foreign.onnx"
    onnx.save(model, path)
    assert lenetc.load(path).preprocess.guessed
    return path


@pytest.mark.parametrize(
    "argv",
    [["generate", "-o", "{out}"], ["generate", "--dtype", "int8", "--calib", "20", "-o", "{out}"],
     ["size", "--dtype", "int8", "--calib", "20", "--target", "host"],
     ["export", "--dtype", "int8", "--calib", "20", "-o", "{out}/q.onnx"], ["confidence", "-n", "20"]],
    ids=["generate", "generate-int8", "size-int8", "export-int8", "confidence"],
)  # fmt: skip
def test_every_command_using_the_guess_says_so(foreign_onnx: Path, tmp_path: Path, argv) -> None:
    proc = run_cli(argv[0], str(foreign_onnx), *(a.format(out=tmp_path) for a in argv[1:]))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr.count(NOTE) == 1, proc.stderr
    assert "guess" in proc.stderr


def test_generated_header_says_the_preprocessing_was_guessed(foreign_onnx: Path, tmp_path: Path) -> None:
    for dtype in ("float32", "int8"):
        gen = lenetc.generate(lenetc.load(foreign_onnx), tmp_path / dtype, dtype=dtype,
                              calibration=None if dtype == "float32" else _digits())  # fmt: skip
        header = next(p for p in gen.paths if p.suffix == ".h").read_text()
        assert "preprocessing GUESSED by lenetc" in header and "pixel * 0.00392156863" in header
    stated = lenetc.generate(lenetc.load("lenet5"), tmp_path / "zoo")
    assert "GUESSED" not in next(p for p in stated.paths if p.suffix == ".h").read_text()


def _digits():
    import numpy as np

    rng = np.random.default_rng(0)
    return np.where(rng.random((16, 28, 28)) < 0.2, 200, 0).astype(np.uint8)


# ---- item 21: messages that misled -------------------------------------------------------------


def test_huge_scale_is_refused_without_numpy_warnings() -> None:
    proc = run_cli("info", "lenet5", "--scale", "1e300")
    one_line_error(proc, "scale", "float32")
    assert "Warning" not in proc.stderr


def _bn_onnx(path: Path, var: float) -> Path:
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    c = 2
    inits = [numpy_helper.from_array(np.full(c, v, np.float32), n)
             for n, v in (("g", 1.0), ("b", 0.0), ("m", 0.0), ("v", var))]  # fmt: skip
    inits.append(numpy_helper.from_array(np.ones((3, c * 16), np.float32), "W"))
    nodes = [
        helper.make_node("BatchNormalization", ["x", "g", "b", "m", "v"], ["h"], epsilon=0.0),
        helper.make_node("Flatten", ["h"], ["f"]),
        helper.make_node("Gemm", ["f", "W"], ["y"], transB=1),
    ]
    graph = helper.make_graph(nodes, "bn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], inits)  # fmt: skip
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


@pytest.mark.parametrize("var", [-1.0, 0.0])
def test_batchnorm_without_a_positive_variance_is_refused(tmp_path: Path, var: float) -> None:
    proc = run_cli("info", str(_bn_onnx(tmp_path / "bn.onnx", var)))
    one_line_error(proc, "variance", "> 0")
    assert "Warning" not in proc.stderr


@pytest.mark.parametrize("value", ["nan", "-1", "inf"])
def test_verify_tolerance_is_a_usage_error(value: str) -> None:
    proc = run_cli("verify", "lenet5", "-n", "2", "--tolerance", value)
    assert proc.returncode == 2 and "--tolerance" in proc.stderr and "FAIL" not in proc.stdout


def test_random_weights_need_a_whole_number_seed() -> None:
    one_line_error(run_cli("info", "lenet5", "--weights", "random:abc"), "random:SEED", "whole number")


def test_a_compiler_that_writes_nothing_is_named(tmp_path: Path) -> None:
    proc = run_cli("verify", "lenet5", "-n", "2", env={"CC": "true", "LENETC_CACHE": str(tmp_path / "c")})
    line = one_line_error(proc, "'true'", "wrote no")
    assert "cache" not in line


def test_an_output_name_taken_by_a_directory_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    (tmp_path / "lenet5.c").mkdir()
    one_line_error(run_cli("generate", "lenet5", "-o", str(tmp_path)), f"'{tmp_path / 'lenet5.c'}'", "directory")
    assert not (tmp_path / "lenet5.h").exists()  # before: the header was written, the .c not


def test_empty_prefix_and_output_are_refused(tmp_path: Path) -> None:
    one_line_error(run_cli("generate", "lenet5", "--prefix", "", "-o", str(tmp_path)), "prefix ''")
    one_line_error(run_cli("generate", "lenet5", "-o", "", "--prefix", "x", cwd=tmp_path), "empty")
    one_line_error(run_cli("export", "lenet5", "-o", ""), "empty")
    assert not list(tmp_path.iterdir())


def test_labels_csv_cannot_name_files_outside_its_folder(tmp_path: Path) -> None:
    import numpy as np

    folder = tmp_path / "digits"
    folder.mkdir()
    np.save(tmp_path / "secret.npy", np.zeros((28, 28), np.uint8))
    (folder / "labels.csv").write_text("file,label\n../secret.npy,3\n")
    one_line_error(run_cli("eval", "lenet5", "--inputs", str(folder)), "outside its folder")
    (folder / "labels.csv").write_text(f"file,label\n{tmp_path / 'secret.npy'},3\n")
    one_line_error(run_cli("eval", "lenet5", "--inputs", str(folder)), "outside its folder")


def test_relative_xdg_cache_home_is_ignored(tmp_path: Path) -> None:
    env = {"LENETC_CACHE": "", "XDG_CACHE_HOME": "relative/cache", "HOME": str(tmp_path)}
    proc = run_cli("cache", "info", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert str(tmp_path / ".cache" / "lenetc") in proc.stdout
    assert not (tmp_path / "relative").exists()


def test_cache_clear_that_removes_nothing_says_so(tmp_path: Path, monkeypatch) -> None:
    """A read-only cache (simulated: this suite may run as root, for whom nothing is read-only)."""
    from lenetc import cache

    monkeypatch.setenv("LENETC_CACHE", str(tmp_path))
    (tmp_path / ("a" * 20)).mkdir()
    monkeypatch.setattr(cache, "_discard", lambda path: None)  # every removal fails, as on a read-only disk
    with pytest.raises(lenetc.LenetcError, match="could not be removed"):
        cache.clear()


def test_discarding_a_file_entry_leaves_no_temporary_file(tmp_path: Path) -> None:
    from lenetc import cache

    entry = tmp_path / ("b" * 20)
    entry.write_text("not a build")
    cache._discard(entry)
    assert list(tmp_path.iterdir()) == []  # before: a stray .tmp-<host>-<pid>-<hex> file


def test_predict_and_calib_data_refuse_the_same_pixels_alike(tmp_path: Path) -> None:
    import numpy as np

    path = tmp_path / "big.npy"
    np.save(path, np.full((28, 28), 1e300))
    a = one_line_error(run_cli("predict", "lenet5", str(path)), "0..255")
    b = one_line_error(run_cli("generate", "lenet5", "--dtype", "int8", "--calib-data", str(path), "-o",
                               str(tmp_path / "o")), "0..255")  # fmt: skip
    assert "ink" not in a and a.split(": ", 2)[-1] == b.split(": ", 2)[-1]


def test_make_plan_refuses_unknown_stage_names() -> None:
    from lenetc.codegen.plan import make_plan

    with pytest.raises(lenetc.LenetcError, match="nolayer"):
        make_plan(lenetc.load("lenet5"), modes={"nolayer": "window"})


def test_a_model_file_named_with_a_leading_digit_works(tmp_path: Path) -> None:
    path = tmp_path / "28x28_lenet.onnx"
    onnx.save(to_onnx(lenetc.load("lenet5-keras", "random:1")), path)
    proc = run_cli("generate", str(path), "-o", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o" / "m_28x28_lenet.c").is_file()
    assert run_cli("verify", str(path), "-n", "2", "--inputs", "random").returncode == 0
