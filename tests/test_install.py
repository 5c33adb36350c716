"""A non-editable install works from any directory: templates and csrc ship as package data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_non_editable_install_generates_and_compiles(tmp_path):
    target = tmp_path / "site"
    pip = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--no-build-isolation",
        "--quiet",
        "--target",
        str(target),
        str(ROOT),
    ]
    proc = subprocess.run(pip, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (target / "lenetc" / "templates" / "model.c.j2").is_file()
    assert (target / "lenetc" / "templates" / "kernels" / "conv2d" / "float32.c.j2").is_file()
    assert (target / "lenetc" / "csrc" / "lenetc_float.h").is_file()
    # a CPU family's folder ships whole: headers and kernel templates beside its Python
    fam = target / "lenetc" / "families"
    assert (fam / "portable" / "lenetc_arch_portable.h").is_file()
    assert (fam / "cortex_m_dsp" / "kernels" / "conv2d" / "int8_dsp2.c.j2").is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=str(target), LENETC_CACHE=str(tmp_path / "cache"))
    script = (
        "import lenetc, numpy as np, pathlib;"
        f"assert pathlib.Path(lenetc.__file__).is_relative_to(pathlib.Path(r'{target}'));"
        "net = lenetc.load('lenet5-keras', 'random:1');"
        "lenetc.generate(net, 'out');"
        "lenetc.generate(lenetc.quantize(net, np.zeros((4, 28, 28), np.uint8)), target='cortex-m-dsp');"
        "x = np.random.default_rng(0).normal(size=(2, 1, 32, 32)).astype(np.float32);"
        "c = lenetc.compile(net);"
        "assert np.abs(c(x) - lenetc.forward(net, x)).max() < 1e-5;"
        "print('ok')"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=elsewhere, env=env)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
    assert (elsewhere / "out" / "lenet5_keras.c").is_file()
    cli = subprocess.run(
        [sys.executable, "-m", "lenetc", "generate", "lenet5", "-o", "cli-out"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
    )
    assert cli.returncode == 0, cli.stderr
    assert (elsewhere / "cli-out" / "lenet5.c").is_file()
