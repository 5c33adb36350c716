"""int8 firmware: on every target the printed outputs and checksum equal the NumPy integer
reference's bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from firmware_helpers import load, need_target

from lenetc import quant
from lenetc.firmware import make_example, output_checksum, write_example
from lenetc.firmware.digits import synthetic_digits
from lenetc.firmware.run import build_and_run
from lenetc.firmware.targets import TARGETS

#: Every board of the registry (a new board is tested by its entry alone), and lenet5-keras on
#: the first board of each dialect with kernels of its own.
_OWN_KERNELS = {t.dialect.name: n for n, t in reversed(TARGETS.items()) if t.dialect.name != "portable"}
MATRIX = [("lenet5", t) for t in TARGETS] + [("lenet5-keras", t) for t in _OWN_KERNELS.values()]


def _calibration(n: int = 48, seed: int = 7) -> np.ndarray:
    """Sparse random ink on background, like MNIST digits; never all zeros."""
    rng = np.random.default_rng(seed)
    ink = rng.random((n, 28, 28)) < 0.2
    return np.where(ink, rng.integers(64, 256, (n, 28, 28)), 0).astype(np.uint8)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    made = {}

    def get(model: str):
        if model not in made:
            net = load(model)
            qnet = quant.quantize(net, _calibration())
            digits = synthetic_digits(3, seed=13)
            out = tmp_path_factory.mktemp(f"{model}-int8")
            bundle = write_example(qnet, out, digits=digits)
            xq = make_example(bundle.generated.plan, digits).inputs
            made[model] = (bundle, quant.forward_int8(qnet, xq))  # the NumPy integer reference
        return made[model]

    return get


@pytest.mark.parametrize("model, target", MATRIX, ids=[f"{m}-{t}" for m, t in MATRIX])
def test_int8_target_matches_the_integer_reference(bundles, model, target):
    need_target(target)
    bundle, want = bundles(model)
    result = build_and_run(bundle, target)
    assert result.ok, result.stdout
    assert [[int(v) for v in row] for row in result.outputs] == want.reshape(len(want), -1).tolist()
    assert result.checksum == output_checksum(want)
