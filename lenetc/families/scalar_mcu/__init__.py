"""Scalar cores with no SIMD (RV32IMC, the ESP32-C3 class): plain C99 whose int8 convolution and
dense kernels keep blocks of outputs in general-purpose registers (``blocked.py``, ``kernels/``).
The float kernels and every primitive are the portable ones.
"""

from __future__ import annotations

from pathlib import Path

from ...variants import Capabilities, Dialect, Family, Variant
from . import blocked as b

HERE = Path(__file__).parent
T = f"{HERE.name}/kernels"

DIALECT = Dialect(
    name="scalar-mcu",
    description="portable C99, register-blocked for scalar cores (RV32IMC)",
    caps=Capabilities(scalar_blocks=True),
    folder=HERE,
    header="lenetc_arch_scalar_mcu.h",
    align=4,
)

VARIANTS = (
    Variant("conv2d/int8_scalar", "conv2d", "int8", f"{T}/conv2d/int8_scalar.c.j2", applies=b.conv_applies,
            pack=b.pack_conv, scratch=b.conv_scratch, note=b.conv_note, rank=10),
    Variant("dense/int8_scalar", "dense", "int8", f"{T}/dense/int8_scalar.c.j2", applies=b.dense_applies,
            pack=b.pack_dense, note=lambda call: f", scalar {b.DENSE_OUTPUTS} outputs", rank=10),
)  # fmt: skip

FAMILY = Family(DIALECT, VARIANTS)
