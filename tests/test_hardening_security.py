"""Issue 21, security items: model files that read host files, user values reaching make or a
shell, sizes that overflow the C types, names checked by prefix only.

Every refusal is checked the way a user sees it: ``lenetc.cli.main`` returns 2, stderr is one
line ``lenetc: error: ...`` and nothing is written.
"""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

from test_keras_import import seed_keras_lenet, write_h5, write_keras3  # noqa: E402

import lenetc  # noqa: E402
from lenetc.cli import main  # noqa: E402
from lenetc.errors import LenetcError  # noqa: E402
from lenetc.firmware import write_example  # noqa: E402
from lenetc.firmware.digits import synthetic_digits  # noqa: E402
from lenetc.firmware.run import build  # noqa: E402

BIAS = "model_weights/dense_1/dense_1/bias:0"  # 10 float32 = 40 bytes, in the .h5 layout
BIAS3 = "layers/dense_1/vars/1"  # the same array in the Keras 3 layout


def refused(capsys, argv: list[str], pattern: str) -> str:
    """Run the CLI; assert exit 2 and a single ``lenetc: error:`` line matching ``pattern``."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lenetc: error: "), err
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


# -- item 1: HDF5 indirection --------------------------------------------------------------


def _replace_bias(f: h5py.File, key: str, how: str, tmp: Path) -> None:
    """Swap the 10-float bias at ``key`` for a dataset or link that reads elsewhere."""
    del f[key]
    if how == "external":
        f.create_dataset(key, shape=(10,), dtype="f4", external=[("/etc/passwd", 0, 40)])
    elif how == "external-dotdot":
        (tmp / "secret.bin").write_bytes(np.arange(10, dtype="f4").tobytes())
        f.create_dataset(key, shape=(10,), dtype="f4", external=[("../secret.bin", 0, 40)])
    elif how == "virtual":
        with h5py.File(tmp / "source.h5", "w") as src:
            src["data"] = np.arange(10, dtype="f4")
        layout = h5py.VirtualLayout(shape=(10,), dtype="f4")
        layout[:] = h5py.VirtualSource(str(tmp / "source.h5"), "data", shape=(10,))
        f.create_virtual_dataset(key, layout)
    elif how == "external-link":
        with h5py.File(tmp / "other.h5", "w") as src:
            src["data"] = np.arange(10, dtype="f4")
        f[key] = h5py.ExternalLink(str(tmp / "other.h5"), "/data")
    elif how == "soft-link":
        f["elsewhere"] = np.arange(10, dtype="f4")
        f[key] = h5py.SoftLink("/elsewhere")
    else:
        raise AssertionError(how)


HOW = ["external", "external-dotdot", "virtual", "external-link", "soft-link"]
MESSAGES = {
    "external": "external file",
    "external-dotdot": "external file",
    "virtual": "virtual dataset",
    "external-link": "external link",
    "soft-link": "soft link",
}


def hostile_keras(tmp: Path, how: str, fmt: str) -> Path:
    layers, weights = seed_keras_lenet()
    sub = tmp / "models"
    sub.mkdir(exist_ok=True)
    if fmt == ".h5":
        path = sub / "bad.h5"
        write_h5(path, layers, weights)
        with h5py.File(path, "a") as f:
            _replace_bias(f, BIAS, how, tmp)
        return path
    path = sub / "bad.keras"
    write_keras3(path, layers, weights)
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    buf = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buf, "r+") as f:
        _replace_bias(f, BIAS3, how, tmp)
    members["model.weights.h5"] = buf.getvalue()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_plain_keras_files_still_load(tmp_path):
    """The control: the same files without the hostile dataset import (the guard refuses only indirection)."""
    layers, weights = seed_keras_lenet()
    write_h5(tmp_path / "ok.h5", layers, weights)
    write_keras3(tmp_path / "ok.keras", layers, weights)
    for name in ("ok.h5", "ok.keras"):
        net = lenetc.load(tmp_path / name)
        bias = next(v for k, v in net.params.items() if k.startswith("dense_1") and v.ndim == 1)
        np.testing.assert_array_equal(bias, weights["dense_1"][1])


@pytest.mark.parametrize("fmt", [".h5", ".keras"])
@pytest.mark.parametrize("how", HOW)
def test_hdf5_indirection_refused_by_every_command(tmp_path, capsys, how, fmt):
    model = hostile_keras(tmp_path, how, fmt)
    out = tmp_path / "out"
    refused(capsys, ["generate", str(model), "-o", str(out)], MESSAGES[how])
    refused(capsys, ["info", str(model)], MESSAGES[how])
    refused(capsys, ["export", str(model), "-o", str(tmp_path / "m.onnx")], MESSAGES[how])
    assert not out.exists() and not (tmp_path / "m.onnx").exists()


def test_plugin_filter_refused_and_hard_link_cycle_terminates(tmp_path, capsys):
    """A filter HDF5 would dlopen a plugin for is refused; a group hard-linked into itself is
    walked once (the control file with only the cycle loads)."""
    layers, weights = seed_keras_lenet()
    cyclic = tmp_path / "cycle.h5"
    write_h5(cyclic, layers, weights)
    with h5py.File(cyclic, "a") as f:
        f["model_weights/dense/loop"] = f["model_weights"]
    assert lenetc.load(cyclic).input_shape == (1, 28, 28)
    plugin = tmp_path / "plugin.h5"
    write_h5(plugin, layers, weights)
    with h5py.File(plugin, "a") as f:
        f.create_dataset("x", data=np.arange(100, dtype="f4"), compression=32015, allow_unknown_filter=True)
    refused(capsys, ["info", str(plugin)], "filter 32015, not a built-in")


# -- item 2: nothing from the user reaches make or a shell unchecked ------------------------


@pytest.fixture(scope="module")
def host_bundle(tmp_path_factory):

    out = tmp_path_factory.mktemp("bundle")
    return write_example(lenetc.load("lenet5", "random:0"), out, digits=synthetic_digits(1))


def test_profile_opt_with_make_function_is_refused(tmp_path, capsys):
    pwned = tmp_path / "PWNED"
    refused(capsys, ["profile", "lenet5", "--weights", "random:0", "--opt", f"-O2 $(shell touch {pwned})"],
            r"optimisation flag '-O2 \$\(shell touch .* is not one of -O0, -O1, -O2")  # fmt: skip
    refused(capsys, ["profile", "lenet5", "--weights", "random:0", "--opt=-Ofast"], "is not one of")
    assert not pwned.exists()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"extra_cflags": "-O2 $(shell touch {p})"},
        {"extra_cflags": "-DX=1;touch {p}"},
        {"extra_cflags": "-DX=`touch {p}`"},
        {"make_vars": {"OPT": "-O2 $(shell touch {p})"}},
        {"make_vars": {"FLASH_LENGTH": "1 $(shell touch {p})"}},
        {"make_vars": {"RAM_LENGTH": "1'; touch {p}; echo '"}},
        {"make_vars": {"X=$(shell touch {p}) Y": "1"}},
    ],
)
def test_build_refuses_make_and_shell_syntax(host_bundle, tmp_path, kwargs):

    pwned = tmp_path / "PWNED"
    filled = {k: (v.format(p=pwned) if isinstance(v, str) else {a.format(p=pwned): b.format(p=pwned)
                                                                  for a, b in v.items()})
              for k, v in kwargs.items()}  # fmt: skip
    with pytest.raises(LenetcError, match="make or the shell would interpret|not one of|not an upper-case"):
        build(host_bundle, "host", **filled)
    assert not pwned.exists()


def test_build_refuses_cc_from_environment_with_shell_syntax(host_bundle, tmp_path, monkeypatch):

    pwned = tmp_path / "PWNED"
    monkeypatch.setenv("CC", f"gcc;touch {pwned}")
    with pytest.raises(LenetcError, match=r"\$CC .* would interpret"):
        build(host_bundle, "host")
    assert not pwned.exists()


def test_generated_makefile_records_quotes_without_running_them(host_bundle, tmp_path):
    """Run by hand, the Makefile writes its config stamp through a shell: a value with a quote
    used to close the stamp's quoting and run the rest (``make -n`` still evaluates it)."""
    pwned = tmp_path / "PWNED"
    value = f"-DX=1'; touch {pwned}; echo '"
    proc = subprocess.run(["make", "-n", "-C", str(host_bundle.directory), f"EXTRA_CFLAGS={value}"],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert not pwned.exists()
    stamp = (host_bundle.directory / "build" / "host" / "config.stamp").read_text()
    assert f"EXTRA_CFLAGS={value}" in stamp


# -- item 4: names are matched whole -------------------------------------------------------


@pytest.mark.parametrize("prefix", ["abc\n", "abc\n#define X", "a" * 65, "1abc", "ab c", "é"])
def test_bad_prefix_refused_in_one_line_and_nothing_written(tmp_path, capsys, prefix):
    out = tmp_path / "out"
    refused(capsys, ["generate", "lenet5", "--weights", "random:0", "--prefix", prefix, "-o", str(out)], "prefix")
    refused(capsys, ["size", "lenet5", "--weights", "random:0", "--prefix", prefix], "prefix")
    assert not out.exists()
    with pytest.raises(LenetcError, match="prefix"):
        lenetc.generate(lenetc.load("lenet5", "random:0"), prefix=prefix)


def test_longest_prefix_still_compiles(tmp_path):
    """The control: a 64-character prefix (the limit) is accepted and names the files."""
    gen = lenetc.generate(lenetc.load("lenet5", "random:0"), tmp_path, prefix="p" * 64)
    assert sorted(p.name for p in gen.paths) == ["p" * 64 + ".c", "p" * 64 + ".h"]


def test_random_weights_spec_matched_whole(tmp_path):
    """``random:1\\n`` is not the random-weights spec (``re.match`` with ``$`` took it as one)."""
    with pytest.raises(LenetcError, match="random:SEED needs a whole number seed"):
        lenetc.load("lenet5", "random:1\n")


def test_keras3_vars_names_matched_as_ascii_digits(tmp_path, capsys):
    """``str.isdigit`` accepted '²' as an array index (then ``int`` raised ValueError, a traceback)."""
    layers, weights = seed_keras_lenet()
    path = tmp_path / "sup.keras"
    write_keras3(path, layers, weights)
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    buf = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buf, "r+") as f:
        f.move(BIAS3, BIAS3[:-1] + "²")
    members["model.weights.h5"] = buf.getvalue()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    refused(capsys, ["info", str(path)], r"expected arrays named 0, 1")


# -- item 3: sizes past 32 bits -------------------------------------------------------------


def wide_npz(path: Path, n: int) -> Path:
    """1 x n x n input, 1x1 conv, 2x2 max pool, a pool to 10x10, dense 100 -> 10: a ~1.4 KB file
    whose tensors grow with n (the issue's 40000 gave a 6.4 GB arena behind a uint32_t size)."""
    import json

    k = n // 20
    arch = {
        "format": 1,
        "name": "wide",
        "input_shape": [1, n, n],
        "preprocess": {"scale": 1 / 255, "offset": 0.0, "pad": 0},
        "layers": [
            {"kind": "conv2d", "name": "c1", "out_channels": 1, "kernel": [1, 1], "stride": [1, 1],
             "padding": [0, 0, 0, 0], "groups": 1, "act": None, "sparse": False},
            {"kind": "pool2d", "name": "p1", "mode": "max", "kernel": [2, 2], "stride": [2, 2],
             "padding": [0, 0, 0, 0], "ceil_mode": False, "count_include_pad": False},
            {"kind": "pool2d", "name": "p2", "mode": "max", "kernel": [k, k], "stride": [k, k],
             "padding": [0, 0, 0, 0], "ceil_mode": False, "count_include_pad": False},
            {"kind": "dense", "name": "fc", "units": 10, "act": None},
        ],
    }  # fmt: skip
    params = {
        "c1.weight": np.ones((1, 1, 1, 1), np.float32),
        "c1.bias": np.zeros(1, np.float32),
        "fc.weight": np.ones((10, 100), np.float32),
        "fc.bias": np.zeros(10, np.float32),
    }
    np.savez_compressed(path, __arch__=np.array(json.dumps(arch)), **params)
    return path


def test_tensor_past_the_limit_refused_before_generating(tmp_path, capsys):
    model = wide_npz(tmp_path / "wide.npz", 40000)
    assert model.stat().st_size < 2000
    out = tmp_path / "out"
    msg = "the input has 1,600,000,000 elements .* at most 16,777,216 per tensor"
    for argv in (["generate", str(model), "-o", str(out)], ["info", str(model)], ["size", str(model)]):
        refused(capsys, argv, msg)
    assert not out.exists()


def test_plan_refuses_what_the_c_types_cannot_hold(tmp_path, monkeypatch):
    """With the tensor cap lifted, the planner itself refuses an arena or tensor past int32/uint32."""
    import lenetc.limits

    monkeypatch.setattr(lenetc.limits, "MAX_TENSOR_ELEMENTS", 2**40)
    net = lenetc.load(wide_npz(tmp_path / "w.npz", 50000))  # 2.5e9 input elements, 10 GB in float32
    with pytest.raises(LenetcError, match=r"more than the generated C's .* holds \(2,147,483,647\)"):
        lenetc.generate(net)


def test_largest_model_compiles_warning_free_and_sizes_agree(tmp_path):
    """The largest input accepted (4096 x 4096 = the cap): strict C, and the uint32_t
    workspace size the C returns is the arena macro and the plan's arena."""
    from conftest import STRICT_FLAGS

    net = lenetc.load(wide_npz(tmp_path / "w.npz", 4096))
    with pytest.raises(LenetcError, match="at most 16,777,216"):
        lenetc.load(wide_npz(tmp_path / "w2.npz", 4097))
    gen = lenetc.generate(net, tmp_path, prefix="w")
    (tmp_path / "main.c").write_text(
        '#include <stdio.h>\n#include "w.h"\n'
        'int main(void) { printf("%lu %lu\\n", (unsigned long)w_workspace_size(), '
        "(unsigned long)W_ARENA_BYTES); return 0; }\n"
    )
    exe = tmp_path / "a.out"
    proc = subprocess.run(["gcc", *STRICT_FLAGS, "-I", str(tmp_path), str(tmp_path / "main.c"), str(tmp_path / "w.c"),
                           "-o", str(exe), "-lm"], capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    got = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    assert got == [str(gen.memory.arena_bytes)] * 2


def test_npu_model_named_like_an_option_is_a_file(tmp_path, monkeypatch):
    """``lenetc npu -- -h.tflite``: the file name reaches Vela as a path, never as its option
    (a relative '-h.tflite' used to print Vela's help and fail)."""
    pytest.importorskip("ethosu.vela")
    import shutil

    from lenetc.npu import run_vela

    fixture = Path(__file__).parent / "fixtures" / "tflite" / "keras_lenet_int8.tflite"
    monkeypatch.chdir(tmp_path)
    shutil.copy(fixture, tmp_path / "-h.tflite")
    report = run_vela(Path("-h.tflite"), "ethos-u55-128", tmp_path / "out")
    assert report.total_cycles > 0


def test_labels_csv_label_matched_as_ascii_digits(tmp_path):
    """``str.isdigit`` took '²' for a label, then ``int`` raised ValueError (a traceback)."""
    from lenetc.digitsets import load_digit_set

    np.save(tmp_path / "a.npy", np.zeros((28, 28), np.uint8))
    (tmp_path / "labels.csv").write_text("a.npy,²\n", encoding="utf-8")
    with pytest.raises(LenetcError, match="line 1: expected 'file,label'"):
        load_digit_set(tmp_path)
