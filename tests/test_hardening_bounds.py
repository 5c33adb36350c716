"""Issue 21, crashes and unbounded memory: model-sized stack arrays in kernels (item 5), pointer
checks in the entry points (item 6), and what small files or large inputs cost (items 16-19)."""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import STRICT_FLAGS

import lenetc
from lenetc.codegen.artifact import generated
from lenetc.codegen.plan import make_plan
from lenetc.reference import forward

# -- item 5: no model-sized arrays on the stack ----------------------------------------------

#: The generated C runs under this stack limit, the Linux default: a kernel row of 3,000,000
#: floats (12 MB) on the stack used to overflow it.
STACK_LIMIT = 8 * 2**20
WIDE = 3_000_000

HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include "wide.h"
int main(int argc, char **argv)
{
    FILE *f = fopen(argv[1], "rb");
    float *in = malloc(sizeof(float) * WIDE_INPUT_SIZE);
    float out[WIDE_OUTPUT_SIZE];
    int i, status;
    (void)argc;
    if (f == NULL || in == NULL || fread(in, sizeof(float), WIDE_INPUT_SIZE, f) != WIDE_INPUT_SIZE) {
        return 3;
    }
    fclose(f);
    status = wide_run(in, out);
    for (i = 0; i < WIDE_OUTPUT_SIZE; ++i) {
        printf("%.9g\n", (double)out[i]);
    }
    free(in);
    return status;
}
"""


def wide_row_net(tmp_path: Path) -> lenetc.Network:
    """Input 1 x 2 x 3,000,000: 1x1 conv, LeNet-5 subsampling, 1x1 conv, max pool to 1x10, dense."""
    arch = {
        "format": 1,
        "name": "wide",
        "input_shape": [1, 2, WIDE],
        "preprocess": {"scale": 1 / 255, "offset": 0.0, "pad": 0},
        "layers": [
            {"kind": "conv2d", "name": "c1", "out_channels": 1, "kernel": [1, 1], "stride": [1, 1],
             "padding": [0, 0, 0, 0], "groups": 1, "act": "relu", "sparse": False},
            {"kind": "subsampling", "name": "s2", "size": 2, "act": "tanh"},
            {"kind": "conv2d", "name": "c3", "out_channels": 1, "kernel": [1, 1], "stride": [1, 1],
             "padding": [0, 0, 0, 0], "groups": 1, "act": None, "sparse": False},
            {"kind": "pool2d", "name": "p4", "mode": "max", "kernel": [1, WIDE // 20], "stride": [1, WIDE // 20],
             "padding": [0, 0, 0, 0], "ceil_mode": False, "count_include_pad": False},
            {"kind": "dense", "name": "fc", "units": 10, "act": None},
        ],
    }  # fmt: skip
    rng = np.random.default_rng(5)
    params = {
        "c1.weight": np.full((1, 1, 1, 1), 0.5, np.float32),
        "c1.bias": np.full(1, 0.1, np.float32),
        "s2.coeff": np.full(1, 0.3, np.float32),
        "s2.bias": np.full(1, -0.2, np.float32),
        "c3.weight": np.full((1, 1, 1, 1), 1.5, np.float32),
        "c3.bias": np.full(1, 0.05, np.float32),
        "fc.weight": rng.normal(0, 0.5, (10, 10)).astype(np.float32),
        "fc.bias": rng.normal(0, 0.1, 10).astype(np.float32),
    }
    path = tmp_path / "wide.npz"
    np.savez(path, __arch__=np.array(json.dumps(arch)), **params)
    return lenetc.load(path)


def _limit_stack() -> None:
    resource.setrlimit(resource.RLIMIT_STACK, (STACK_LIMIT, STACK_LIMIT))


@pytest.mark.parametrize("dialect, fused", [("portable", True), ("portable", False), ("x86", True)],
                         ids=["portable-fused", "portable-whole", "x86-fused"])  # fmt: skip
def test_wide_rows_run_within_the_default_stack(tmp_path, dialect, fused):
    """Each conv/subsampling row used to be ``float acc[ow]`` on the stack (SIGSEGV here); it is
    now accumulated in the arena (its output or the planned band). The answer is checked against
    the float64 reference: relative 1e-5 of the largest output (a handful of float32 roundings)."""
    net = wide_row_net(tmp_path)
    modes = None if fused else {"c1": "whole", "c3": "whole"}
    plan = make_plan(net, "wide", dialect, modes=modes)
    gen = generated(plan).write(tmp_path)
    assert max(plan.arena_bytes, 0) < 2**31
    src = gen.files["wide.c"]
    assert "float acc[" not in src
    (tmp_path / "main.c").write_text(HARNESS)
    exe = tmp_path / "wide"
    isa = ["-mavx2", "-mfma"] if dialect == "x86" else []
    cc = subprocess.run(["gcc", *STRICT_FLAGS, *isa, "-O1", "-I", str(tmp_path), str(tmp_path / "main.c"),
                         str(tmp_path / "wide.c"), "-o", str(exe), "-lm"], capture_output=True, text=True)  # fmt: skip
    assert cc.returncode == 0, cc.stderr
    x = np.random.default_rng(0).uniform(-1, 1, (1, 2, WIDE)).astype(np.float32)
    x.tofile(tmp_path / "in.bin")
    run = subprocess.run([str(exe), str(tmp_path / "in.bin")], capture_output=True, text=True,
                         preexec_fn=_limit_stack)  # fmt: skip
    assert run.returncode == 0, f"status {run.returncode}: {run.stderr}"
    got = np.array([float(v) for v in run.stdout.split()])
    want = forward(net, x)
    assert np.max(np.abs(got - want)) <= 1e-5 * np.max(np.abs(want))


# -- item 6: pointers checked before arithmetic, size_t offsets ------------------------------

NULL_HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "m.h"
typedef M_IN_T in_t;
static unsigned char ws_raw[M_ARENA_BYTES + 64];
int main(void)
{
    static in_t in[2 * M_INPUT_SIZE];
    static M_OUT_T out[2 * M_OUTPUT_SIZE], one[2 * M_OUTPUT_SIZE];
    void *ws = ws_raw + (64u - (unsigned)((size_t)ws_raw % 64u)) % 64u;
    int i;
    for (i = 0; i < 2 * M_INPUT_SIZE; ++i) {
        in[i] = (in_t)((i * 37) % 101 - 50) / (in_t)M_DIV;
    }
    printf("predict_null %d\n", m_predict(NULL));
    printf("batch_null_in %d\n", m_run_batch(NULL, out, 1, ws));
    printf("batch_null_out %d\n", m_run_batch(in, NULL, 1, ws));
    printf("batch_null_ws %d\n", m_run_batch(in, out, 1, NULL));
    printf("batch_null_n0 %d\n", m_run_batch(NULL, NULL, 0, NULL));
    printf("batch_negative %d\n", m_run_batch(in, out, -1, ws));
    printf("batch_two %d\n", m_run_batch(in, out, 2, ws));
    printf("ws_0 %d\n", m_run_ws(in, one, ws));
    printf("ws_1 %d\n", m_run_ws(in + M_INPUT_SIZE, one + M_OUTPUT_SIZE, ws));
    printf("same %d\n", memcmp(out, one, sizeof out) == 0);
    printf("predict %d\n", m_predict(out));
    return 0;
}
"""


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_null_pointers_give_err_null_under_ubsan(tmp_path, dtype):
    """``m_predict(NULL)`` used to dereference NULL (SIGSEGV) and ``m_run_batch(NULL, ...)`` to
    offset a null pointer first (UBSan: "applying zero offset to null pointer"); built with clang
    -fsanitize=address,undefined and no recovery, every NULL gives ERR_NULL (-1), nothing else."""
    from int8_helpers import quantized_zoo

    model = lenetc.load("lenet5", "random:1") if dtype == "float32" else quantized_zoo("lenet5")
    gen = lenetc.generate(model, tmp_path, prefix="m")
    assert "(long)" not in gen.files["m.c"]
    in_t, out_t, div = ("float", "float", "50") if dtype == "float32" else ("int8_t", "int8_t", "1")
    out_t = "m_out_t" if dtype == "int8" else out_t
    (tmp_path / "main.c").write_text(
        f"#define M_IN_T {in_t}\n#define M_OUT_T {out_t}\n#define M_DIV {div}\n" + NULL_HARNESS
    )
    exe = tmp_path / "a.out"
    flags = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-O1"]
    cc = subprocess.run(["clang", "-std=c99", *flags, "-I", str(tmp_path), str(tmp_path / "main.c"),
                         str(tmp_path / "m.c"), "-o", str(exe), "-lm"], capture_output=True, text=True)  # fmt: skip
    assert cc.returncode == 0, cc.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True)
    assert run.returncode == 0 and run.stderr == "", run.stderr
    got = dict(line.split() for line in run.stdout.splitlines())
    for key in ("predict_null", "batch_null_in", "batch_null_out", "batch_null_ws", "batch_null_n0"):
        assert got[key] == "-1", (key, run.stdout)
    assert got["batch_negative"] == "-3" and got["batch_two"] == "0" and got["same"] == "1"
    assert 0 <= int(got["predict"]) < 10


# -- item 16: ONNX constant folding is bounded before it computes ---------------------------

#: Address-space limit of the subprocess that imports the bombs: far below what any of them
#: would allocate (3.4 GB for 30000 x 30000 float32), well above what an honest import needs.
IMPORT_AS_LIMIT = 2 * 2**30


def _bomb_models(out: Path) -> dict[str, Path]:
    """141-160 byte ONNX files whose constant subgraph (not even connected to the output)
    would fold into 900,000,000 elements, and a Loop run a billion times on constants."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def c(name, value):
        return numpy_helper.from_array(np.asarray(value), name)

    shape = np.array([30000, 30000], np.int64)
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, [])],
    )  # fmt: skip
    one = c("one", np.ones(1, np.float32))
    cases = {
        "expand": ([helper.make_node("Expand", ["one", "shape"], ["big"])], [one, c("shape", shape)]),
        "constant_of_shape": ([helper.make_node("ConstantOfShape", ["shape"], ["big"])], [c("shape", shape)]),
        "tile": ([helper.make_node("Tile", ["one", "shape"], ["big"])], [c("one", np.ones((1, 1))), c("shape", shape)]),
        "range": ([helper.make_node("Range", ["a", "b", "d"], ["big"])],
                  [c("a", np.int64(0)), c("b", np.int64(900_000_000)), c("d", np.int64(1))]),
        "loop": ([helper.make_node("Loop", ["n", "t"], [], body=body)], [c("n", np.int64(10**9)), c("t", True)]),
    }  # fmt: skip
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 28, 28])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 784])
    paths = {}
    for name, (nodes, inits) in cases.items():
        graph = helper.make_graph([*nodes, helper.make_node("Flatten", ["x"], ["y"])], name, [x], [y], inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        paths[name] = out / f"{name}.onnx"
        onnx.save(model, paths[name])
    return paths


IMPORT_ALL = """
import sys
import lenetc
for path in sys.argv[1:]:
    try:
        lenetc.load(path)
        print("loaded", path)
    except lenetc.LenetcError as exc:
        print("refused", exc)
"""


def test_onnx_folding_refuses_bombs_before_computing(tmp_path):
    pytest.importorskip("onnx")
    paths = _bomb_models(tmp_path)
    assert max(p.stat().st_size for p in paths.values()) < 400

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (IMPORT_AS_LIMIT, IMPORT_AS_LIMIT))

    env = {"PYTHONPATH": str(Path(lenetc.__file__).parent.parent), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", IMPORT_ALL, *map(str, paths.values())], capture_output=True,
                          text=True, preexec_fn=limit, env=env, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(paths)
    for name, line in zip(paths, lines):
        if name == "loop":
            assert line.startswith("refused") and "Loop on constant inputs is not folded" in line, line
        else:
            assert line.startswith("refused") and "would hold 900,000,000 elements" in line, (name, line)


def test_onnx_folding_total_is_bounded(tmp_path, monkeypatch):
    """Many folds each under the per-value cap still stop at MAX_FOLDED_BYTES in all."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    import lenetc.importers.onnx_import as onnx_import

    monkeypatch.setattr(onnx_import, "MAX_FOLDED_BYTES", 10 * 4000 * 4)
    nodes = [helper.make_node("ConstantOfShape", ["shape"], [f"c{i}"]) for i in range(12)]
    inits = [numpy_helper.from_array(np.array([4000], np.int64), "shape")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 28, 28])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 784])
    graph = helper.make_graph([*nodes, helper.make_node("Flatten", ["x"], ["y"])], "g", [x], [y], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), tmp_path / "many.onnx")
    with pytest.raises(lenetc.LenetcError, match=r"node '-> c10' \(ConstantOfShape\): constant folding has produced"):
        lenetc.load(tmp_path / "many.onnx")


# -- item 18: the references stream large batches ------------------------------------------


def _peak_bytes(fn, x) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        fn(x)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_reference_memory_does_not_grow_with_the_batch(monkeypatch):
    """With slices of 25 images, 200 images peak at about what 25 do (before: 8 times as much;
    ``verify lenet5 -n 10000`` peaked at 3.1 GB); the answers equal the whole-batch ones
    (float64 within 1e-12 relative: einsum may sum another batch size in another order; int8
    bit for bit)."""
    from int8_helpers import quantized_zoo

    import lenetc.reference as reference
    from lenetc.quant.reference_int8 import forward_int8

    net = lenetc.load("lenet5", "random:1")
    qnet = quantized_zoo("lenet5")
    per_image = max(int(np.prod(s)) for s in net.shapes()) * 8
    x = np.random.default_rng(1).uniform(-1, 1, (200, *net.input_shape)).astype(np.float32)
    xq = qnet.quantize_input(x)
    whole, whole_q = forward(net, x), forward_int8(qnet, xq)  # 200 images fit one default slice
    monkeypatch.setattr(reference, "CHUNK_BYTES", 25 * per_image, raising=False)
    for fn, inp in ((lambda v: forward(net, v), x), (lambda v: forward_int8(qnet, v), xq)):
        small, large = _peak_bytes(fn, inp[:25]), _peak_bytes(fn, inp)
        assert large < 1.5 * small, (small, large)
    np.testing.assert_allclose(forward(net, x), whole, rtol=1e-12, atol=1e-12 * np.abs(whole).max())
    np.testing.assert_array_equal(forward_int8(qnet, xq), whole_q)


# -- item 19: pictures and digit files are capped before they are decoded -----------------


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that states its size and holds no pixels: Pillow reads the header lazily, so a
    refusal from the header is the only answer that costs nothing."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def _npy_claiming(path: Path, shape: tuple[int, ...], data: bytes) -> Path:
    import struct

    header = f"{{'descr': '|u1', 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * (118 - len(header)) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + data)
    return path


def test_oversized_pictures_refused_from_their_header(tmp_path, capsys):
    from PIL import Image

    from lenetc.cli import main

    real = tmp_path / "big.png"
    Image.new("L", (4100, 4100)).save(real)  # a real 16.8-megapixel file, just past the cap
    cases = {
        real: "4100x4100 is 16,810,000 pixels, more than lenetc reads",
        _png_header_only(tmp_path / "13k.png", 13000, 13000): "13000x13000 is 169,000,000 pixels",
        _png_header_only(tmp_path / "30k.png", 30000, 30000): "900,000,000 pixels, more than lenetc reads",
        tmp_path / "big.pgm": "30000x30000 is 900,000,000 pixels",
        _npy_claiming(tmp_path / "huge.npy", (8800000, 8800000), bytes(784)): "header claims",
        _npy_claiming(tmp_path / "wide.npy", (5000, 5000), bytes(25_000_000)): "5000x5000 is 25,000,000 pixels",
    }
    (tmp_path / "big.pgm").write_bytes(b"P5 30000 30000 255\n" + bytes(100))
    for path, message in cases.items():
        capsys.readouterr()
        assert main(["predict", "lenet5", "--weights", "random:0", str(path)]) == 2, path
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("lenetc: error: "), err
        assert re.search(message, err), (path, err)


def test_digit_sets_refuse_oversized_images_and_unknown_members(tmp_path, capsys):
    """``--inputs``/``--calib-data``: a batch of oversized images, a folder with one, and a .npz
    zip bomb (a 100 MB member compressed to 100 KB beside the digits) are refused; the bomb
    before it is inflated."""
    import tracemalloc

    from lenetc.digitsets import load_digit_set
    from lenetc.errors import LenetcError
    from lenetc.npz import load_npz

    wide = tmp_path / "wide.npy"
    np.save(wide, np.zeros((2, 4200, 4200), np.uint8))
    with pytest.raises(LenetcError, match="each image: 4200x4200 is 17,640,000 pixels"):
        load_digit_set(wide)
    folder = tmp_path / "pictures"
    folder.mkdir()
    _png_header_only(folder / "a.png", 20000, 20000)
    with pytest.raises(LenetcError, match="400,000,000 pixels, more than lenetc reads"):
        load_digit_set(folder)

    digits = np.zeros((4, 28, 28), np.uint8)
    bomb = tmp_path / "bomb.npz"
    np.savez_compressed(bomb, images=digits, junk=np.zeros(100 * 2**20, np.uint8))
    assert bomb.stat().st_size < 300_000
    tracemalloc.start()
    with pytest.raises(LenetcError, match="unexpected (array|weight) 'junk'"):
        load_digit_set(bomb)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * 2**20, peak

    net = lenetc.load("lenet-caffe", "random:0")
    weights_bomb = tmp_path / "weights.npz"
    np.savez_compressed(weights_bomb, __arch__=np.array(net.arch_json()),
                        **net.params,
                        junk=np.zeros(100 * 2**20, np.uint8))  # fmt: skip
    tracemalloc.start()
    with pytest.raises(LenetcError, match="unexpected (array|weight) 'junk'"):
        load_npz(weights_bomb)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 32 * 2**20, peak
    # the control: the digits alone still load
    np.savez(tmp_path / "ok.npz", images=digits, labels=np.arange(4))
    assert load_digit_set(tmp_path / "ok.npz").images.shape == (4, 28, 28)
