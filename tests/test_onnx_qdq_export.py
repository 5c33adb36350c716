"""The QDQ ONNX export of lenetc's int8 networks, run in ONNX Runtime, against lenetc's NumPy
integer reference (an independent computation: ONNX Runtime's own fused integer kernels).

Integer requantization (lenetc's default) and ONNX Runtime's float requantization may round a
product that lands within float error of a half differently: at most 1 LSB, rarely. With the
float-requantization option (``with_requant(qnet, "float")``) the reference, the generated C and
ONNX Runtime agree bit for bit."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from firmware_helpers import need_target
from int8_helpers import STRICT, calibration_digits, int8_inputs

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import lenetc  # noqa: E402
from lenetc.cli import main  # noqa: E402
from lenetc.datasets import mnist  # noqa: E402
from lenetc.exporters.onnx_export import ort_session  # noqa: E402
from lenetc.exporters.onnx_qdq import save_qdq_onnx, to_qdq_onnx  # noqa: E402
from lenetc.firmware import make_example, write_example  # noqa: E402
from lenetc.firmware.digits import synthetic_digits  # noqa: E402
from lenetc.firmware.run import build_and_run  # noqa: E402
from lenetc.quant import forward_int8, quantize, with_requant  # noqa: E402

MODELS = ("lenet-caffe", "lenet-keras", "lenet5-keras")
#: random:7 weights calibrated on seeded random digits; shipped weights on MNIST training digits.
WEIGHTS = ("random:7", "shipped")


def _qnet(name: str, weights: str):
    if weights == "shipped":
        net = lenetc.load(name)
        return quantize(net, mnist("train")[0][:300])
    return quantize(lenetc.load(name, weights), calibration_digits())


def _inputs(net) -> np.ndarray:
    """Fixed-seed sparse random images in the network's input range, then MNIST test digits."""
    rng = np.random.default_rng(11)
    shape = (200, *net.input_shape)
    noise = (rng.random(shape) * (rng.random(shape) < 0.3)).astype(np.float32)
    digits = net.preprocess.apply(mnist("test")[0][:300]).astype(np.float32)
    return np.concatenate([noise, digits])


def _ort_q(qnet, x: np.ndarray) -> np.ndarray:
    sess = ort_session(to_qdq_onnx(qnet))
    return sess.run(["output_q"], {"input": x})[0].astype(np.int64)


def _compare(got: np.ndarray, want: np.ndarray) -> dict[str, float]:
    d = np.abs(got - want)
    return {
        "exact": float((d == 0).mean()),
        "max_lsb": int(d.max()),
        "argmax": float((got.argmax(axis=1) == want.argmax(axis=1)).mean()),
    }


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("name", MODELS)
def test_qdq_export_matches_integer_reference(name, weights):
    qnet = _qnet(name, weights)
    model = to_qdq_onnx(qnet)
    onnx.checker.check_model(model, full_check=True)
    x = _inputs(qnet.net)
    got = _ort_q(qnet, x)
    stats = _compare(got, forward_int8(qnet, qnet.quantize_input(x)).astype(np.int64))
    print(f"{name} {weights} integer requant vs ORT: {stats}")
    assert stats["exact"] >= 0.99 and stats["max_lsb"] <= 1 and stats["argmax"] >= 0.995, stats
    # with float requantization the reference is ONNX Runtime's arithmetic exactly
    fq = with_requant(qnet, "float")
    stats = _compare(got, forward_int8(fq, fq.quantize_input(x)).astype(np.int64))
    print(f"{name} {weights} float requant vs ORT: {stats}")
    if weights == "random:7":
        assert stats["exact"] == 1.0, stats
    else:  # trained lenet5-keras: ORT runs fc3 as a float Gemm (not QGemm), 1 logit in 5,000 differs (docs/onnx.md)
        assert stats["exact"] >= 0.9995 and stats["max_lsb"] <= 1, stats
    # the float output is the dequantized int8 logits, softmax re-applied
    y = ort_session(model).run(["output"], {"input": x[:8]})[0]
    np.testing.assert_allclose(y, qnet.dequantize_output(got[:8]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["lenet-caffe", "lenet5-keras"])
def test_float_requant_c_bit_exact(name):
    """The host build (plain kernels: float requantization leaves the blocked one out) equals the
    float-requantization reference; the integer rule's result differs somewhere on these inputs
    or not, but the float C must be the float reference."""
    fq = with_requant(quantize(lenetc.load(name, "random:7"), calibration_digits()), "float")
    compiled = lenetc.compile(fq.net, dtype="int8", calibration=fq)
    x = int8_inputs(fq.net.input_shape, n=48, seed=23)
    np.testing.assert_array_equal(compiled.run_int8(x), forward_int8(fq, x))


HARNESS = """#include <stdio.h>
#include "{p}.h"
static const int8_t inputs[{n}][{PU}_INPUT_SIZE] = {{{data}}};
int main(void)
{{
    {p}_out_t out[{PU}_OUTPUT_SIZE];
    int k, i;
    for (k = 0; k < {n}; ++k) {{
        if ({p}_run(inputs[k], out) != {PU}_OK) {{
            return 3;
        }}
        for (i = 0; i < {PU}_OUTPUT_SIZE; ++i) {{
            printf("%ld ", (long)out[i]);
        }}
        printf("\\n");
    }}
    return 0;
}}
"""


@pytest.mark.parametrize("cc", [c for c in ("gcc", "clang") if shutil.which(c)])
def test_float_requant_c_strict_and_sanitized(tmp_path, cc):
    fq = with_requant(quantize(lenetc.load("lenet5-keras", "random:7"), calibration_digits()), "float")
    lenetc.generate(fq, tmp_path, prefix="fr")
    assert "lenetc_requant_f(acc, fr_conv1_fscale[" in (tmp_path / "fr.c").read_text()
    x = int8_inputs(fq.net.input_shape, n=6, seed=29)
    rows = ",\n".join("{" + ", ".join(map(str, img.reshape(-1))) + "}" for img in x)
    (tmp_path / "main.c").write_text(HARNESS.format(p="fr", PU="FR", n=len(x), data=rows))
    flags = [*STRICT, "-O1", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
    exe = tmp_path / "main"
    subprocess.run([cc, *flags, str(tmp_path / "fr.c"), str(tmp_path / "main.c"), "-o", str(exe)], check=True)
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    got = np.array([line.split() for line in run.stdout.splitlines()], dtype=np.int64)
    np.testing.assert_array_equal(got, forward_int8(fq, x).astype(np.int64))


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m3"])
def test_float_requant_firmware_bit_exact(tmp_path, target):
    """Under QEMU: the Cortex-M DSP kernels (M4, hardware float) and the portable ones (M3, soft
    float) with float requantization print the float-requantization reference's outputs."""
    need_target(target)
    fq = with_requant(quantize(lenetc.load("lenet5-keras", "random:7"), calibration_digits()), "float")
    digits = synthetic_digits(3, seed=13)
    bundle = write_example(fq, tmp_path, digits=digits, target=target)
    want = forward_int8(fq, make_example(bundle.generated.plan, digits).inputs)
    result = build_and_run(bundle, target)
    assert result.ok, result.stdout
    assert [[int(v) for v in row] for row in result.outputs] == want.reshape(len(want), -1).tolist()


def test_unsupported_kind_refused_naming_the_layer(tmp_path):
    qnet = quantize(lenetc.load("lenet5-softmax", "random:7"), calibration_digits())
    out = tmp_path / "m.onnx"
    with pytest.raises(lenetc.LenetcError, match=r"^layer 'S2' \(subsampling\) has no faithful QDQ ONNX form"):
        save_qdq_onnx(qnet, out)
    assert not out.exists()


def test_cli_export_int8(tmp_path, capsys):
    out = tmp_path / "q.onnx"
    assert main(["export", "lenet5-keras", "--weights", "random:7", "--dtype", "int8", "--calib", "64",
                 "-o", str(out)]) == 0  # fmt: skip
    model = onnx.load(str(out))
    ops = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv", "Gemm", "MaxPool"} <= ops
    assert [o.name for o in model.graph.output] == ["output", "output_q"]
    assert "int8 QDQ" in capsys.readouterr().out


def test_cli_generate_requant_float(tmp_path):
    """``--requant float`` reaches the generated C; ``--requant`` int leaves it integer-only."""
    for mode, want in (("float", True), ("int", False)):
        out = tmp_path / mode
        args = ["generate", "lenet5-keras", "--weights", "random:7", "--dtype", "int8", "--calib", "32"]
        assert main([*args, "--requant", mode, "-o", str(out), "--prefix", "m"]) == 0
        assert ("lenetc_requant_f(acc, m_conv1_fscale[" in (out / "m.c").read_text()) is want
