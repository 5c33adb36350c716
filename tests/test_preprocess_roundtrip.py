"""A model's MNIST preprocessing survives ONNX export (metadata_props), a foreign model's can be
stated (--scale/--offset/--pad, ``load(preprocess=...)``), and ``verify --against onnxruntime``
fails when both sides get inputs the model does not expect.

Ground truth: the trained LeNet-5 (shipped weights) and its paper preprocessing (x = pixel *
1.275/255 - 0.1, padded to 32x32); on the 10,000 MNIST test digits its C scores 99.14 %.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import lenetc

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

LENET5 = lenetc.Preprocess(scale=1.275 / 255.0, offset=-0.1, pad=2)
SAMPLE = Path(lenetc.__file__).parent / "samples" / "digit7-test0.png"


def cli(*args):
    return subprocess.run([sys.executable, "-m", "lenetc", *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, Path]:
    """lenet5 exported by the CLI, and the same file with its metadata stripped (a foreign model)."""
    d = tmp_path_factory.mktemp("export")
    out = cli("export", "lenet5", "-o", d / "l5.onnx")
    assert out.returncode == 0, out.stderr
    model = onnx.load(d / "l5.onnx")
    del model.metadata_props[:]
    onnx.save(model, d / "bare.onnx")
    return d / "l5.onnx", d / "bare.onnx"


def test_export_writes_the_documented_metadata(exported):
    props = {p.key: p.value for p in onnx.load(exported[0]).metadata_props}
    assert float(props["lenetc.preprocess.scale"]) == LENET5.scale
    assert float(props["lenetc.preprocess.offset"]) == LENET5.offset
    assert int(props["lenetc.preprocess.pad"]) == 2


def test_export_then_eval_the_onnx_gives_the_models_accuracy(exported):
    """The issue's command: before, eval l5.onnx gave 57 % (pixels / 255 guessed, no padding offset)."""
    out = cli("eval", exported[0], "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["n"] == 10_000 and doc["correct"] == 9914  # lenetc eval lenet5: 99.14 %


def test_import_reads_the_metadata_and_says_where_it_came_from(exported):
    net = lenetc.load(exported[0])
    assert net.preprocess == LENET5 and not net.preprocess.guessed
    assert net.preprocess.source == "the ONNX file's metadata"
    bare = lenetc.load(exported[1])
    assert bare.preprocess.guessed and bare.preprocess.scale == 1 / 255
    info = cli("info", exported[1]).stdout
    assert "MNIST preprocessing: x = pixel * 0.00392156863 + 0, padded by 2; source: lenetc's guess" in info
    doc = json.loads(cli("info", exported[0], "--json").stdout)
    assert doc["preprocess"] == {"scale": LENET5.scale, "offset": -0.1, "pad": 2,
                                 "source": "the ONNX file's metadata", "guessed": False}  # fmt: skip


def test_stating_the_preprocessing_of_a_foreign_model(exported):
    bare = exported[1]
    flags = ["--scale", LENET5.scale, "--offset", "-0.1", "--pad", "2"]
    doc = json.loads(cli("eval", bare, "-n", "2000", "--json", *flags).stdout)
    assert doc["correct"] == json.loads(cli("eval", "lenet5", "-n", "2000", "--json").stdout)["correct"]
    guessed = cli("eval", bare, "-n", "2000", "--json")
    assert json.loads(guessed.stdout)["accuracy"] < 0.7
    assert "lenetc: note: MNIST preprocessing x = pixel * 0.00392156863" in guessed.stderr
    info = cli("info", bare, *flags).stdout
    assert "source: the command line (--scale/--offset/--pad)" in info
    pred = cli("predict", bare, SAMPLE, *flags)
    assert pred.returncode == 0 and pred.stdout.split(": ")[1].startswith("7 ")


def test_python_api_preprocess_argument(exported):
    net = lenetc.load(exported[1], preprocess=LENET5)
    assert net.preprocess == LENET5 and not net.preprocess.guessed
    assert net.preprocess.source == "the preprocess argument of load()"
    part = lenetc.load(exported[1], preprocess={"offset": -0.1})
    assert (part.preprocess.scale, part.preprocess.offset, part.preprocess.pad) == (1 / 255, -0.1, 2)
    with pytest.raises(lenetc.LenetcError, match=r"unknown preprocess field\(s\) \['gain'\]"):
        lenetc.load(exported[1], preprocess={"gain": 2.0})
    with pytest.raises(lenetc.LenetcError, match="preprocess pad must be an integer from 0 to 1024"):
        lenetc.load(exported[1], preprocess={"pad": -1})


def test_a_guess_is_not_exported_as_if_stated(exported, tmp_path):
    out = cli("export", exported[1], "-o", tmp_path / "again.onnx")
    assert out.returncode == 0, out.stderr
    assert not [p for p in onnx.load(tmp_path / "again.onnx").metadata_props if p.key.startswith("lenetc.")]
    out = cli("export", exported[1], "-o", tmp_path / "fixed.onnx", "--scale", LENET5.scale, "--offset", "-0.1")
    assert lenetc.load(tmp_path / "fixed.onnx").preprocess == LENET5


def test_verify_against_onnxruntime_fails_on_wrong_inputs(exported):
    """Before: the C and ONNX Runtime agreed on the wrongly preprocessed digits, and verify said PASS."""
    out = cli("verify", exported[1], "--against", "onnxruntime")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "FAIL: ONNX Runtime misclassifies too many digits" in out.stdout
    assert "source: lenetc's guess" in out.stdout
    good = cli("verify", exported[1], "--against", "onnxruntime", "--scale", LENET5.scale, "--offset", "-0.1")
    assert good.returncode == 0 and "PASS" in good.stdout, good.stdout
    assert "reference accuracy" in good.stdout and "(needs >= 90 %)" in good.stdout
    arithmetic_only = cli("verify", exported[1], "--against", "onnxruntime", "--inputs", "random")
    assert arithmetic_only.returncode == 0 and "PASS" in arithmetic_only.stdout
    untrained = cli("verify", "lenet5", "--weights", "random:0", "--against", "onnxruntime", "--min-accuracy", "0")
    assert untrained.returncode == 0 and "PASS" in untrained.stdout


@pytest.mark.parametrize(
    "props, message",
    [
        ({"lenetc.preprocess.scale": "abc"}, r"'lenetc.preprocess.scale' = 'abc' is not a number"),
        ({"lenetc.preprocess.scale": "nan"}, r"'lenetc.preprocess.scale' = 'nan' is not finite"),
        ({"lenetc.preprocess.scale": "0.1", "lenetc.preprocess.pad": "-3"}, r"preprocess pad must be an integer"),
        ({"lenetc.preprocess.offset": "0.1"}, r"without 'lenetc.preprocess.scale'"),
        ({"lenetc.preprocess.scale": "0.1", "lenetc.preprocess.gain": "2"}, r"unknown key\(s\)"),
    ],
)
def test_malformed_preprocess_metadata(exported, tmp_path, props, message):
    model = onnx.load(exported[1])
    onnx.helper.set_model_props(model, props)
    onnx.save(model, tmp_path / "m.onnx")
    with pytest.raises(lenetc.LenetcError, match=message):
        lenetc.load(tmp_path / "m.onnx")
