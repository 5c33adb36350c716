"""``lenetc report``: the page's numbers against independent computations, and the page as a
real headless browser renders it (Debian's chromium)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import lenetc
from lenetc import datasets
from lenetc.reference import forward, predict_classes
from tests.firmware_helpers import need_program, need_target

N = 1000
MODEL = "lenet5-keras"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def _cli(*args, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, "-m", "lenetc", *map(str, args)], capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[Path, str]:
    need_target("cortex-m4")
    out = tmp_path_factory.mktemp("report") / "report.html"
    run = _cli("report", MODEL, "--dtype", "int8", "--target", "cortex-m4", "-n", N, "--sqnr-images", 100, "-o", out)
    assert run.returncode == 0, run.stderr
    return out, out.read_text(encoding="utf-8")


def _chromium() -> str:
    return need_program("chromium", "chromium-browser", package="chromium")


def test_accuracy_matches_the_reference(page) -> None:
    _, html = page
    net = lenetc.load(MODEL)
    inputs, labels = datasets.mnist_inputs(net, N, "test")
    correct = int((predict_classes(net, forward(net, inputs)) == labels).sum())
    m = re.search(r"float32 C: ([\d.]+) % \(([\d,]+) of ([\d,]+)\)", html)
    assert m is not None and int(m.group(3).replace(",", "")) == N
    # float32 C against the float64 reference: argmax may flip only on near-ties, so allow one digit
    assert abs(int(m.group(2).replace(",", "")) - correct) <= 1
    assert re.search(r"int8 C: [\d.]+ % \(\d+ of 1,000\)", html)


def test_arena_and_sizes_match_the_generated_c(page) -> None:
    _, html = page
    qnet = lenetc.quantize(lenetc.load(MODEL))
    gen = lenetc.generate(qnet, target="cortex-m-dsp")
    header = gen.files[gen.symbols.header]
    arena = int(re.search(r"#define \w+_ARENA_BYTES (\d+)", header).group(1))
    assert f"{arena:,} bytes of arena" in html
    assert "<svg" in html and "liveness bound" in html
    assert "Instructions per layer on cortex-m4" in html


def test_page_is_self_contained(page) -> None:
    _, html = page
    refs = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert refs and all(r.startswith("data:image/png;base64,") for r in refs)
    assert "<script" not in html


def test_renders_in_a_headless_browser(page, tmp_path) -> None:
    chromium = _chromium()
    path, html = page
    probe = tmp_path / "probe.html"
    # a script added to a copy only: it records, after load, how many images decoded
    script = (
        "<script>window.addEventListener('load', () => { const imgs = [...document.images];"
        " const bad = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length;"
        " document.body.setAttribute('data-images', imgs.length + ':' + bad); });</script>"
    )
    probe.write_text(html.replace("</body>", script + "</body>"), encoding="utf-8")
    profile = ["--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run([chromium, *CHROMIUM_FLAGS, *profile, "--virtual-time-budget=5000", "--dump-dom",
                          probe.as_uri()], capture_output=True, text=True, timeout=120)  # fmt: skip
    m = re.search(r'data-images="(\d+):(\d+)"', dom.stdout)
    assert m is not None, dom.stderr[-500:]
    assert int(m.group(1)) > 0 and int(m.group(2)) == 0
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, *CHROMIUM_FLAGS, *profile, "--window-size=1200,2400", f"--screenshot={shot}",
                    path.as_uri()], capture_output=True, timeout=120, check=True)  # fmt: skip
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    assert len(colours) > 50  # text, tables, the arena picture and the digits, not a blank page
    assert (pixels < 128).any(axis=2).mean() > 0.01


def test_bad_arguments_are_one_line(tmp_path) -> None:
    run = _cli("report", MODEL, "-n", 0, "-o", tmp_path / "r.html")
    assert run.returncode == 2 and run.stderr.startswith("lenetc: error:") and len(run.stderr.splitlines()) == 1
    assert not (tmp_path / "r.html").exists()
