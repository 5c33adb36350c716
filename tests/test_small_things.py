"""Issue 28 item 9: the small things a new user tripped over, each checked against what it should say."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import lenetc
from lenetc.cli import main
from lenetc.codegen import make_plan
from lenetc.evaluate import EvalReport, format_report, report_figure
from lenetc.evaluate_int8 import Int8Evaluation
from lenetc.firmware.bundle import write_example
from lenetc.firmware.digits import synthetic_digits
from lenetc.network import Preprocess

ROOT = Path(__file__).resolve().parents[1]


def _cli(capsys, *args) -> subprocess.CompletedProcess:
    """The command in this process (MNIST and the build cache stay warm), as a finished process."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out.out, out.err)


@pytest.fixture(scope="module")
def lenet5() -> lenetc.Network:
    return lenetc.load("lenet5")


@pytest.fixture(scope="module")
def lenet5_int8(lenet5) -> lenetc.QuantizedNetwork:
    return lenetc.quantize(lenet5)


def test_reprs_are_short(lenet5, tmp_path):
    gen = lenetc.generate(lenet5)
    assert sum(len(t) for t in gen.files.values()) > 500_000  # the C itself is most of a megabyte
    text = repr(gen)
    assert len(text) < 600 and "lenet5.c" in text and "arena_bytes=" in text
    bundle = write_example(lenet5, tmp_path, digits=synthetic_digits(1), target="host")
    assert len(repr(bundle)) < 4000 and str(tmp_path) in repr(bundle)  # a line per written file, not the C


def test_int32_rbf_output_stage_counts_four_bytes_per_output(lenet5_int8):
    plan = make_plan(lenet5_int8)
    assert plan.out_ctype == "int32_t"
    assert plan.stages[-1].out_bytes == 10 * 4  # ten int32_t distances


def test_drop_points_print_as_the_difference_of_two_counts():
    ev = Int8Evaluation("m", 10_000, 0.9914, 0.9910, 1.0, 0)
    assert repr(ev.drop_points) == "0.04"
    assert json.dumps(ev.drop_points) == "0.04"


def test_probe_macros_are_upper_case(lenet5):
    source = lenetc.generate(lenet5).files["lenet5.c"]
    assert "LENET5_PROBE_COUNTER" in source and "LENET5_PROBE(" in source
    assert "lenet5_PROBE" not in source


def test_signed_terms_never_read_plus_minus(capsys, lenet5_int8, tmp_path):
    assert Preprocess(0.005, -0.1, 2).describe().startswith("x = pixel * 0.005 - 0.1")
    run = _cli(capsys, "generate", "lenet5", "--dtype", "int8", "-o", tmp_path)
    assert run.returncode == 0, run.stderr
    zp = lenet5_int8.input_q.zero_point
    assert zp < 0 and f"- {-zp};" in run.stdout
    assert not re.search(r"[+-] -", run.stdout)
    header = lenetc.generate(lenetc.load("lenet5-softmax", "random:0")).files["lenet5_softmax.h"]
    assert "(probabilities; the largest wins)" in header and "probabilitys" not in header


def test_one_error_is_singular():
    labels = np.arange(10) % 10
    preds = labels.copy()
    preds[3] = 4
    report = EvalReport("m", "c", "float32", 10, labels, preds, 0.1, 0.0, "h", np.zeros((10, 28, 28), np.uint8))
    assert ", 1 error\n" in format_report(report) + "\n"


def test_info_int8_says_where_the_scratch_is(capsys):
    run = _cli(capsys, "info", "lenet5", "--dtype", "int8")
    assert run.returncode == 0, run.stderr
    assert "stack scratch" not in run.stdout and "is in the arena" in run.stdout


def test_predict_on_a_folder_says_folder(capsys, tmp_path):
    run = _cli(capsys, "predict", "lenet5", tmp_path)
    assert run.returncode == 2 and "is a folder, not an image" in run.stderr and "does not exist" not in run.stderr


def test_size_on_the_host_is_not_cross_compiled(capsys):
    run = _cli(capsys, "size", "lenet5-keras", "--target", "host")
    assert run.returncode == 0, run.stderr
    assert "cross-compiled" not in run.stdout and "compiled object" in run.stdout


def test_train_quiet_prints_no_config_repr(capsys, monkeypatch, tmp_path):
    import lenetc.commands.train as train_cmd

    def short_training(net, config, *args, **kwargs):  # what train returns, without the minutes of training
        epoch = SimpleNamespace(loss=1.0, train_accuracy=0.5, test_accuracy=None)
        return SimpleNamespace(net=lenetc.load("lenet5-keras", "random:0"), seconds=0.1, history=[epoch])

    monkeypatch.setattr(train_cmd, "train", short_training)
    quiet = _cli(capsys, "train", "lenet5-keras", "-o", tmp_path / "q.npz", "--epochs", 1, "--quiet")
    assert quiet.returncode == 0, quiet.stderr
    assert "TrainConfig(" not in quiet.stderr + quiet.stdout and "training" not in quiet.stderr
    loud = _cli(capsys, "train", "lenet5-keras", "-o", tmp_path / "l.npz", "--epochs", 1)
    assert "TrainConfig(" not in loud.stderr and "training lenet5-keras: epochs 1," in loud.stderr


def test_confusion_matrix_label_clear_of_the_captions():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 200)
    preds = labels.copy()
    preds[:10] = (labels[:10] + 1) % 10  # one full row of captions, right under the matrix
    images = rng.integers(0, 255, (200, 28, 28)).astype(np.uint8)
    fig = report_figure(EvalReport("m", "c", "float32", 200, labels, preds, 0.1, 0.0, "h", images))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    matrix_ax, *digit_axes = fig.axes
    label_box = matrix_ax.xaxis.label.get_window_extent(renderer)
    tick_box = [t.get_window_extent(renderer) for t in matrix_ax.get_xticklabels()]
    lowest_tick = min(t.y0 for t in tick_box)
    for ax in digit_axes:  # every caption wholly below the "predicted" label and the tick labels
        caption = ax.title.get_window_extent(renderer)
        assert caption.y1 < label_box.y0 and caption.y1 < lowest_tick


def test_info_table_fits_long_layer_names(capsys, tmp_path):
    net = lenetc.load("lenet-caffe")
    long = "features_block_one_convolution_with_a_long_onnx_name"
    renamed = lenetc.Network.from_arch_json(net.arch_json().replace('"conv1"', f'"{long}"'))
    params = {k.replace("conv1", long, 1) if k.startswith("conv1") else k: v for k, v in net.params.items()}
    path = tmp_path / "long.npz"
    lenetc.save(renamed.with_params(params), path)
    run = _cli(capsys, "info", path)
    assert run.returncode == 0, run.stderr
    rows = [line for line in run.stdout.splitlines() if re.match(r"^(\w+)\s+(conv2d|pool2d|dense|flatten)\s", line)]
    assert len(rows) >= 4
    ends = {line.index(kind) for line in rows for kind in re.findall(r"\s(conv2d|pool2d|dense|flatten)\s", line)}
    assert len(ends) == 1  # the kind column starts at one place on every row


def test_make_run_says_ticks_need_icount(tmp_path, lenet5):
    bundle = write_example(lenet5, tmp_path, digits=synthetic_digits(1), target="cortex-m4")
    main_c = (bundle.directory / "main.c").read_text()
    assert "-icount" in main_c and "follow host time" in main_c


def test_plot_without_matplotlib_fails_before_the_work(monkeypatch, tmp_path, capsys):
    import lenetc.commands.train as train_cmd

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setattr(train_cmd, "evaluate", lambda *a, **k: pytest.fail("evaluated before checking --plot"))
    assert main(["eval", "lenet5", "-n", "10", "--plot", str(tmp_path / "p.png")]) == 2
    assert "needs matplotlib" in capsys.readouterr().err
