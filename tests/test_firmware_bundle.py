"""The example bundle: files, checksum, digits, host build and run, link-time fit checks."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from firmware_helpers import host_outputs, load, need_target

import lenetc
from lenetc.errors import LenetcError
from lenetc.firmware import fnv1a32, make_example, output_checksum, write_example
from lenetc.firmware.bundle import FLOAT_TOLERANCE
from lenetc.firmware.digits import as_digits, synthetic_digits
from lenetc.firmware.run import build, build_and_run, parse_output, run


def test_fnv1a32_published_vectors():
    # test vectors of the FNV reference (Fowler, Noll, Vo): FNV-1a 32-bit
    assert fnv1a32(b"") == 0x811C9DC5
    assert fnv1a32(b"a") == 0xE40C292C
    assert fnv1a32(b"foobar") == 0xBF9CF968


def test_output_checksum_hashes_little_endian_float_bytes():
    out = np.array([[1.0, -2.0]], dtype=np.float32)
    assert output_checksum(out) == fnv1a32(bytes.fromhex("0000803f000000c0"))


def test_synthetic_digits_are_deterministic_digit_like():
    a, b = synthetic_digits(6, seed=3), synthetic_digits(6, seed=3)
    assert np.array_equal(a.images, b.images) and a.images.dtype == np.uint8
    assert list(a.labels) == [0, 1, 2, 3, 4, 5]
    ink = (a.images > 127).mean(axis=(1, 2))
    assert np.all((ink > 0.03) & (ink < 0.4))  # strokes, neither blank nor filled
    assert not np.array_equal(a.images, synthetic_digits(6, seed=4).images)


def test_as_digits_rejects_bad_images():
    with pytest.raises(LenetcError, match=r"\(N, 28, 28\)"):
        as_digits(np.zeros((2, 32, 32), dtype=np.uint8))
    with pytest.raises(LenetcError, match="one label each"):
        as_digits((synthetic_digits(3).images, [1, 2]))
    assert list(as_digits(synthetic_digits(2).images).labels) == [-1, -1]


def test_bundle_files(tmp_path):
    paths = write_example(load("lenet5"), tmp_path, prefix="net", digits=synthetic_digits(3))
    names = sorted(p.name for p in paths)
    assert names == sorted(
        [
            "net.c",
            "net.h",
            "main.c",
            "Makefile",
            "CMakeLists.txt",
            "arm-none-eabi.cmake",
            "arm-none-eabi-clang.cmake",
            "aarch64-linux-gnu.cmake",
            "riscv-clang.cmake",
            "startup.c",
            "startup_riscv.c",
            "startup_riscv_linux.c",
        ]
        + [f"link_cortex-m{n}.ld" for n in (4, 7, 33, 55, 3, 0)]
        + [f"link_{name}.ld" for name in ("riscv32", "riscv32-v", "riscv64-linux")]
    )
    assert "-ffp-contract=off" in (tmp_path / "Makefile").read_text()
    assert "__flash_length" in (tmp_path / "link_cortex-m4.ld").read_text()
    # the AN505's M33 boots Secure from its VTOR at 0x10000000: the vectors start FLASH there
    assert "FLASH (rx) : ORIGIN = 0x10000000" in (tmp_path / "link_cortex-m33.ld").read_text()
    assert not list(tmp_path.glob(".*tmp"))


def test_host_example_prints_the_host_reference(tmp_path):
    need_target("host")
    net = load("lenet5-keras")
    digits = synthetic_digits(5, seed=7)
    bundle = write_example(net, tmp_path, digits=digits)
    result = build_and_run(bundle, "host")
    assert result.ok, result.stdout
    example = make_example(lenetc.make_plan(net), digits)
    want = host_outputs(net, example.inputs)
    assert result.checksum == output_checksum(want)
    assert result.predicted == [int(v) for v in np.argmax(want, axis=1)]
    # the NumPy reference agrees within the firmware's own tolerance
    assert np.all(np.abs(want - example.reference) <= FLOAT_TOLERANCE * (1 + np.abs(example.reference)))


def test_example_fails_when_outputs_differ_from_reference(tmp_path):
    need_target("host")
    bundle = write_example(load("lenet5-keras"), tmp_path, digits=synthetic_digits(2))
    main = tmp_path / "main.c"
    # corrupt one expected output: the firmware must notice and exit 1
    text = main.read_text()
    start = text.index("reference_output[N_DIGITS]")
    brace = text.index("{ ", text.index("{\n", start)) + 2
    main.write_text(text[:brace] + "1.5f + " + text[brace:])
    result = build_and_run(bundle, "host")
    assert result.returncode == 1 and "differ from the reference" in result.stdout


def test_makefile_rejects_unknown_target(tmp_path):
    write_example(load("lenet5-keras"), tmp_path, digits=synthetic_digits(1))
    proc = subprocess.run(["make", "-s", "-C", str(tmp_path), "TARGET=pdp11"], capture_output=True, text=True)
    assert proc.returncode != 0 and "unknown TARGET 'pdp11'" in proc.stderr


@pytest.mark.parametrize(
    "var, value, message",
    [("FLASH_LENGTH", 65536, "region `FLASH' overflowed"), ("RAM_LENGTH", 16384, "RAM")],
)
def test_link_fails_when_the_model_does_not_fit(tmp_path, var, value, message):
    need_target("cortex-m4")
    bundle = write_example(load("lenet5"), tmp_path, digits=synthetic_digits(1))  # 240 KB weights, 23 KB arena
    with pytest.raises(LenetcError, match=message):
        build(bundle, "cortex-m4", make_vars={var: value})
    build(bundle, "cortex-m4", make_vars={"FLASH_LENGTH": 300_000, "RAM_LENGTH": 64 * 1024})


def test_parse_output():
    text = (
        "digit 0: label 7 predicted 7 reference 7 out 3f800000 00000000\nticks 0: 12\nchecksum fnv1a32 0123abcd\nOK\n"
    )
    r = parse_output("x", 0, text)
    assert r.ok and r.checksum == 0x0123ABCD and r.predicted == [7] and r.ticks == [12]
    assert r.outputs == [["3f800000", "00000000"]]


def test_clang_host_build_strict(tmp_path):
    need_target("host")
    if shutil.which("clang") is None:
        pytest.skip("clang is not installed (apt-get install --no-install-recommends clang)")
    bundle = write_example(load("lenet5"), tmp_path, digits=synthetic_digits(2))
    result = run(build(bundle, "host", make_vars={"CC": "clang"}), "host")
    assert result.ok, result.stdout


def test_cmake_builds_host_and_cortex_m4(tmp_path):
    if shutil.which("cmake") is None:
        pytest.skip("cmake is not installed (apt-get install --no-install-recommends cmake)")
    need_target("cortex-m4")
    net = load("lenet5-keras")
    bundle = write_example(net, tmp_path, digits=synthetic_digits(2))
    want = build_and_run(bundle, "host").checksum
    for target, extra in (("host", []), ("cortex-m4", ["-DCMAKE_TOOLCHAIN_FILE=arm-none-eabi.cmake"])):
        build_dir = tmp_path / f"cmake-{target}"
        for cmd in (
            ["cmake", "-S", str(tmp_path), "-B", str(build_dir), f"-DLENETC_TARGET={target}", *extra],
            ["cmake", "--build", str(build_dir)],
        ):
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
            assert proc.returncode == 0, proc.stdout + proc.stderr
        exe = build_dir / ("lenet5_keras_example" + ("" if target == "host" else ".elf"))
        result = run(exe, target)
        assert result.ok and result.checksum == want, result.stdout


def test_make_run_prints_the_same_checksum_on_host_and_cortex_m4(tmp_path):
    """The Makefile's own `run` rule (what a user types), not just the Python driver."""
    need_target("host")
    need_target("cortex-m4")
    write_example(load("lenet5-keras"), tmp_path, digits=synthetic_digits(2), target="cortex-m4")
    sums = {}
    for target in ("host", "cortex-m4"):
        proc = subprocess.run(
            ["make", "-s", "-C", str(tmp_path), f"TARGET={target}", "run"], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        sums[target] = parse_output(target, 0, proc.stdout).checksum
    assert sums["host"] is not None and sums["host"] == sums["cortex-m4"]
    # the default TARGET is the one asked for
    assert "TARGET ?= cortex-m4" in (tmp_path / "Makefile").read_text()
