"""Every target builds the example with the strict warnings as errors, runs it (natively, under
qemu-aarch64 or bare-metal under qemu-system-arm with semihosting), and prints exactly the
float32 output bits and checksum of the host reference: the same generated C compiled natively
with -ffp-contract=off. For the small nets the host reference is the cffi build called from
Python, with the checksum computed in Python; for the two big ones (whose cffi build would
double the test time) it is the natively built example, its checksum recomputed in Python
from the printed bits."""

from __future__ import annotations

import numpy as np
import pytest
from firmware_helpers import hex_words, host_outputs, load, need_target

import lenetc
from lenetc.firmware import fnv1a32, make_example, output_checksum, write_example
from lenetc.firmware.digits import synthetic_digits
from lenetc.firmware.run import build_and_run

ALL = ("host", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55", "cortex-m3", "aarch64-linux")
# Every target runs LeNet-5 (sparse C3, subsampling, scaled tanh, RBF output); the FPU
# targets also run a ReLU/max-pool/softmax net; the big nets run on M4 and M55 (the soft-float
# M3 is too slow under QEMU for them to keep the suite fast).
CFFI_REFERENCE = ("lenet5", "lenet5-keras")
MATRIX = [
    *[("lenet5", t) for t in ALL],
    *[("lenet5-keras", t) for t in ("cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55", "aarch64-linux")],
    ("lenet-keras", "cortex-m4"),
    ("lenet-caffe", "cortex-m55"),
]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    made = {}

    def get(model: str):
        if model not in made:
            net = load(model)
            digits = synthetic_digits(3, seed=11)
            out = tmp_path_factory.mktemp(model)
            bundle = write_example(net, out, digits=digits)
            if model in CFFI_REFERENCE:
                want = host_outputs(net, make_example(lenetc.make_plan(net), digits).inputs)
                made[model] = (bundle, hex_words(want), output_checksum(want))
            else:
                need_target("host")
                host = build_and_run(bundle, "host")
                assert host.ok, host.stdout
                words = np.array([[int(w, 16) for w in row] for row in host.outputs], dtype="<u4")
                assert host.checksum == fnv1a32(words.tobytes())
                made[model] = (bundle, host.outputs, host.checksum)
        return made[model]

    return get


@pytest.mark.parametrize("model, target", MATRIX, ids=[f"{m}-{t}" for m, t in MATRIX])
def test_target_prints_the_host_checksum(bundles, model, target):
    need_target(target)
    bundle, words, checksum = bundles(model)
    result = build_and_run(bundle, target)
    assert result.returncode == 0 and result.ok, result.stdout
    assert result.outputs == words  # every float bit-identical
    assert result.checksum == checksum
