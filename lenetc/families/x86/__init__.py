"""x86-64 with AVX2 and FMA; AVX-512 (F/BW) and VNNI paths where the compiler enables them.

Adds blocked convolution (float32, int8) and dense (float32, int8) kernels that keep 8 or 16
output channels in vector lanes (``conv2d_blocked.py``, ``dense_blocked.py``): vpdpbusd (AVX-512
VNNI, AVX-VNNI) for int8 where the CPU has it, vpmaddwd otherwise; masked AVX-512 FMAs for
sparse tables. The NEON family's header implements the same primitives (vfmaq_f32, sdot), so
these variants serve Arm64 too (chosen by capability).
"""

from __future__ import annotations

from pathlib import Path

from ...variants import Capabilities, Dialect, Family, Variant
from . import conv2d_blocked as conv
from . import dense_blocked as dense

HERE = Path(__file__).parent
T = f"{HERE.name}/kernels"

DIALECT = Dialect(
    name="x86",
    description="x86-64 AVX2+FMA (AVX-512, VNNI where present)",
    caps=Capabilities(dot_s16s8=True, madd_s16_lanes=8, dot_s8x4=True, f32_lanes=8, simd_blocks=True, masked_f32=True),
    folder=HERE,
    header="lenetc_arch_x86.h",
    float_header="lenetc_arch_x86_f32.h",
    align=64,  # one cache line: an AVX-512 load never splits two
    macros=frozenset({"__AVX2__", "__FMA__"}),
    preference=40,
    batch_tile=8,
)

VARIANTS = (
    Variant("conv2d/float32_blocked", "conv2d", "float32", f"{T}/conv2d/float32_blocked.c.j2",
            applies=conv.applies_float32, pack=conv.pack_float32, scratch=conv.scratch_float32, note=conv.note,
            rank=10),
    Variant("conv2d/int8_blocked", "conv2d", "int8", f"{T}/conv2d/int8_blocked.c.j2", applies=conv.applies_int8,
            pack=conv.pack_int8_call, scratch=conv.scratch_int8, note=conv.note, rank=30),
    Variant("dense/float32_blocked", "dense", "float32", f"{T}/dense/float32_blocked.c.j2", applies=dense.applies,
            pack=dense.pack, note=dense.note, rank=10),
    Variant("dense/int8_blocked", "dense", "int8", f"{T}/dense/int8_blocked.c.j2", applies=dense.applies_int8,
            pack=dense.pack_int8_call, scratch=dense.scratch_int8, note=dense.note_int8, rank=10),
)  # fmt: skip

FAMILY = Family(DIALECT, VARIANTS)
