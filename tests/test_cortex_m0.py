"""The Cortex-M0 class (issue 28 item 5): the ``cortex-m0`` board (BBC micro:bit under QEMU, ARMv6-M,
256 KiB flash, 16 KiB RAM). lenet5 int8 fits it and runs bit-exact (tests/test_firmware_int8.py runs
every board); here the fit is measured on the object and the per-MAC cost under -icount shows that no
64-bit multiply (``__aeabi_lmul``, about 20 instructions on ARMv6-M) runs per multiply-accumulate."""

from __future__ import annotations

import json

from firmware_helpers import load, need_target

import lenetc
from lenetc.cli import main
from lenetc.firmware.digits import synthetic_digits
from lenetc.firmware.icount import count_instructions


def test_lenet5_int8_fits_the_micro_bit(capsys):
    need_target("cortex-m0")
    assert main(["size", "lenet5", "--dtype", "int8", "--target", "cortex-m0", "--flash", "256K", "--ram", "16K",
                 "--json"]) == 0  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    assert doc["budget"]["fits"] and doc["flash"] <= 256 * 1024 and doc["ram"] <= 16 * 1024


def test_no_64_bit_multiply_per_mac():
    need_target("cortex-m0")
    q = lenetc.quantize(load("lenet5"))
    count = count_instructions(q, target="cortex-m0", digits=synthetic_digits(1, seed=5))
    # ARMv6-M has no multiply-accumulate and loads bytes only with register offsets: ~16 per MAC
    # measured; a __aeabi_lmul per MAC alone would add ~20
    assert count.per_mac < 20
