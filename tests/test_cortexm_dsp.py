"""The Cortex-M DSP int8 kernels (SMLAD on SXTB16-packed weights, four output channels per
pass; lenetc/families/cortex_m_dsp/): bit-exact with the NumPy integer reference on the
M4, M7 and M33 (the DSP path under QEMU), and the same C built for the host and the M3 (no DSP:
the portable fallback of the same primitives)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from firmware_helpers import load, need_target

from lenetc import quant
from lenetc.cli import main
from lenetc.families.cortex_m_dsp.packing import pack_sxtb16
from lenetc.firmware import make_example, output_checksum, write_example
from lenetc.firmware.digits import synthetic_digits
from lenetc.firmware.run import build_and_run
from lenetc.firmware.targets import TARGETS

MODELS = ("lenet-caffe", "lenet5", "lenet5-keras")
#: Every board with SMLAD in its dialect, a Cortex-M without (the portable fallback), the host.
RUN_ON = (*(n for n, t in TARGETS.items() if t.dialect.caps.smlad), "cortex-m3", "host")
MATRIX = [(m, t) for m in MODELS for t in RUN_ON]


def _calibration(n: int = 32, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ink = rng.random((n, 28, 28)) < 0.2
    return np.where(ink, rng.integers(64, 256, (n, 28, 28)), 0).astype(np.uint8)


def test_packing_reorders_each_group_of_four():
    w = np.arange(16, dtype=np.int8).reshape(2, 8)
    assert pack_sxtb16(w).tolist() == [[0, 2, 1, 3, 4, 6, 5, 7], [8, 10, 9, 11, 12, 14, 13, 15]]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    made = {}

    def get(model: str):
        if model not in made:
            qnet = quant.quantize(load(model), _calibration())
            digits = synthetic_digits(3, seed=5)
            out = tmp_path_factory.mktemp(f"{model}-dsp")
            bundle = write_example(qnet, out, digits=digits, target="cortex-m4")
            xq = make_example(bundle.generated.plan, digits).inputs
            made[model] = (bundle, quant.forward_int8(qnet, xq))
        return made[model]

    return get


def test_the_dsp_kernels_are_used(bundles):
    bundle, _ = bundles("lenet-caffe")
    code = "\n".join(bundle.generated.files.values()) if isinstance(bundle.generated.files, dict) else ""
    if not code:
        code = "\n".join(p.read_text() for p in bundle.path.glob("*.c"))
    assert "lenetc_dot4_s16s8p(" in code and "SXTB16-packed" in code


def test_the_sparse_table_keeps_its_dsp_kernel_sparse(bundles):
    bundle, _ = bundles("lenet5")
    code = "\n".join(p.read_text() for p in bundle.directory.rglob("*.c"))
    assert "lenetc_dotsp2_s16s8p(" in code and "60 of 96 maps, each zero-padded to 28, SXTB16-packed" in code


@pytest.mark.parametrize("model, target", MATRIX, ids=[f"{m}-{t}" for m, t in MATRIX])
def test_dsp_code_matches_the_integer_reference(bundles, model, target):
    need_target(target)
    bundle, want = bundles(model)
    result = build_and_run(bundle, target)
    assert result.ok, result.stdout
    assert [[int(v) for v in row] for row in result.outputs] == want.reshape(len(want), -1).tolist()
    assert result.checksum == output_checksum(want)


def test_size_and_profile_accept_cortex_m33(capsys):
    """The M33 (AN505) is a DSP target of the CLI: `size` measures its object and `profile` runs
    it under QEMU, with the per-layer counts adding up to the whole inference."""
    need_target("cortex-m33")
    assert main(["size", "lenet5", "--target", "cortex-m33", "--dtype", "int8", "--json"]) == 0
    size = json.loads(capsys.readouterr().out)
    assert size["target"] == "cortex-m33" and size["flash"] > size["weights"] > 0
    assert main(["profile", "lenet5", "--target", "cortex-m33", "--dtype", "int8", "--json"]) == 0
    prof = json.loads(capsys.readouterr().out)
    assert prof["target"] == "cortex-m33" and prof["dtype"] == "int8"
    # the JSON's instruction counts are whole (rounded): the shares add up to 1 within that rounding
    assert abs(sum(r["share"] for r in prof["layers"]) + prof["outside"] / prof["total_instructions"] - 1) < 1e-5
