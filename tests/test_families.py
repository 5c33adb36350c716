"""The kernel-variant registry and the CPU-family folders (lenetc/variants.py, lenetc/families/).

The layer kinds and the planner choose kernels by capability, never by a CPU family's name;
every registered family is a complete folder; the choice of kernel and its scratch come from
one variant object; a family registered with nothing but a dialect gets the portable kernels."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import lenetc
from lenetc.build import build
from lenetc.codegen import make_plan
from lenetc.families import DIALECTS, FAMILIES, PORTABLE, VARIANTS, dialect_from_macros
from lenetc.kinds import KINDS
from lenetc.paths import families_dir, templates_dir
from lenetc.quant.reference_int8 import forward_int8
from lenetc.variants import Capabilities, Dialect, Variant, best
from tests.int8_helpers import STRICT, int8_inputs, quantized_zoo

ROOT = Path(__file__).resolve().parents[1]
#: Where kernels are chosen: the kinds, the lowering machinery and the planner.
NEUTRAL = [*sorted((ROOT / "lenetc" / "kinds").glob("*.py")), ROOT / "lenetc" / "ir.py",
           *sorted((ROOT / "lenetc" / "codegen").glob("*.py"))]  # fmt: skip
#: Words that name a CPU family, an instruction set or a vendor extension.
FAMILY_WORDS = r"x86|avx\w*|sse\d*|vnni|neon|sdot|aarch64|arm\w*|cortex\w*|dsp|smlad|sxtb16|helium|mve|risc-?v|rvv|sve"


def _family_names() -> set[str]:
    names = set()
    for d in DIALECTS.values():
        names |= {d.name, d.folder.name} - {PORTABLE.name, PORTABLE.folder.name}
    return names


@pytest.mark.parametrize("path", NEUTRAL, ids=lambda p: p.name)
def test_no_kind_module_or_planner_names_a_cpu_family(path):
    """Docstrings and comments included: a kind that must mention a family is a kind that
    knows one. Family names come from the registry, so a new family is covered at once."""
    text = path.read_text()
    words = "|".join([FAMILY_WORDS, *(re.escape(n) for n in sorted(_family_names()))])
    hits = sorted({m.group(0) for m in re.finditer(rf"(?<![\w-])({words})(?![\w-])", text, re.I)})
    assert not hits, f"{path.relative_to(ROOT)} names CPU families: {hits}"


def test_the_family_word_check_fails_on_a_family_name():
    """The check above can fail: it finds the names the kinds used to compare against."""
    words = "|".join([FAMILY_WORDS, *(re.escape(n) for n in sorted(_family_names()))])
    for old in ('lw.dialect.name == "cortex-m-dsp"', 'BLOCKED_DIALECTS = frozenset({"x86"})'):
        assert re.search(rf"(?<![\w-])({words})(?![\w-])", old, re.I)


def test_every_family_is_a_complete_folder():
    """Each registered family: a folder under lenetc/families holding its headers and the
    templates of its variants; every variant is of a registered kind and number type."""
    for family in FAMILIES:
        d = family.dialect
        assert d.folder.parent == families_dir() and (d.folder / "__init__.py").is_file()
        for h in d.headers(True):
            assert h.is_file() and h.parent == d.folder
        for v in family.variants:
            for t in {v.template, *v.mode_templates.values()}:
                assert t.startswith(f"{d.folder.name}/kernels/{v.kind}/"), t
                assert (families_dir() / t).is_file(), t
    names = [v.name for v in VARIANTS]
    assert len(names) == len(set(names))
    for v in VARIANTS:
        assert v.kind in KINDS and v.numeric in ("float32", "int8")
        if not v.template.startswith(tuple(f.dialect.folder.name + "/" for f in FAMILIES)):
            assert (templates_dir() / v.template).is_file()


def test_host_detection_is_by_declared_macros():
    assert dialect_from_macros(frozenset()) is PORTABLE
    assert dialect_from_macros(frozenset({"__AVX2__", "__FMA__", "__x86_64__"})).name == "x86"
    assert dialect_from_macros(frozenset({"__AVX2__"})) is PORTABLE  # no FMA: no float kernels of x86
    assert dialect_from_macros(frozenset({"__aarch64__", "__ARM_NEON"})).name == "neon"
    # a Cortex-M55 predefines both the DSP and the MVE macros: the MVE dialect is preferred
    assert dialect_from_macros(frozenset({"__ARM_FEATURE_DSP", "__ARM_FEATURE_MVE"})).name == "cortex-m-mve"
    assert dialect_from_macros(frozenset({"__ARM_FEATURE_DSP"})).name == "cortex-m-dsp"


def _call_variants(plan) -> list[tuple[str, str]]:
    return [(op.layer, op.variant) for op in plan.ops]


def test_kernels_follow_capabilities_not_names():
    """A dialect of another name with the DSP family's capabilities gets the same kernels as
    the DSP family, and one with no capabilities the portable ones: the choice reads
    capabilities only."""
    qnet = quantized_zoo("lenet-caffe")
    dsp = DIALECTS["cortex-m-dsp"]
    twin = Dialect("twin", "a family with SMLAD", dsp.caps, dsp.folder, dsp.header)
    plain = Dialect("plain", "nothing", Capabilities(), PORTABLE.folder, PORTABLE.header)
    assert _call_variants(make_plan(qnet, dialect=twin)) == _call_variants(make_plan(qnet, dialect=dsp))
    assert _call_variants(make_plan(qnet, dialect=plain)) == _call_variants(make_plan(qnet))
    assert {v for _, v in _call_variants(make_plan(qnet, dialect=dsp))} >= {"conv2d/int8_dsp2", "dense/int8_dsp"}


#: lenet5's C1 (5x5, 6 maps, 32x32 -> 28x28, then a 2x2 subsampling: int32 window sums) in
#: int8, scratch bytes by hand: im2col rows of 25 taps widened to int16, padded to 32 (portable)
#: or 28 (DSP: whole SXTB16 words); fused: + a band of 2 rows x 6 maps x 28 int8; window: + 6
#: int32 accumulators; the x86 blocked kernel widens the whole input: 2 * (32 * 32 + 1).
C1_SCRATCH = {
    ("portable", "fused"): ("conv2d/int8", 2 * 32 + 2 * 6 * 28),
    ("portable", "window"): ("conv2d/int8", 2 * 32 + 6 * 4),
    ("portable", "whole"): ("conv2d/int8", 2 * 32),
    ("cortex-m-dsp", "fused"): ("conv2d/int8_dsp2", 2 * 2 * 28 + 2 * 6 * 28),  # 2 maps x 2 pixels: two rows
    ("cortex-m-dsp", "window"): ("conv2d/int8_dsp2", 2 * 2 * 28 + 6 * 4),
    ("cortex-m-dsp", "window-narrow"): ("conv2d/int8_dsp2", 2 * 28 + 6 * 4),
    ("x86", "fused"): ("conv2d/int8_blocked", 2 * (32 * 32 + 1) + 2 * 6 * 28),
    ("x86", "window"): ("conv2d/int8_blocked", 2 * (32 * 32 + 1) + 2 * 6 * 28),  # no window kernel: its band
}


@pytest.mark.parametrize("key", list(C1_SCRATCH), ids="-".join)
def test_the_chosen_kernel_and_its_scratch(key):
    """The kernel the registry picks for lenet5's C1 and the scratch planned for it in each
    mode, against the hand count above."""
    dialect, mode = key
    plan = make_plan(quantized_zoo("lenet5"), dialect=dialect, modes={"C1": mode})
    op = next(op for op in plan.ops if op.layer == "C1")
    variant, nbytes = C1_SCRATCH[key]
    assert op.variant == variant
    assert plan.tensors[op.scratch].nbytes(1) == nbytes
    expected = "fused" if dialect == "x86" and mode == "window" else "window" if mode.startswith("window") else mode
    assert {s.layer: s.mode for s in plan.stages}["C1"] == expected


def test_best_prefers_rank_then_registration_order():
    caps = Capabilities(smlad=True)
    a = Variant("k/a", "conv2d", "int8", "a.j2")
    b = Variant("k/b", "conv2d", "int8", "b.j2", applies=lambda call, c: c.smlad, rank=5)
    c = Variant("k/c", "conv2d", "int8", "c.j2", applies=lambda call, c: c.smlad, rank=5)
    assert best((a, b, c), "conv2d", "int8", None, caps) is b
    assert best((a, b, c), "conv2d", "int8", None, Capabilities()) is a
    with pytest.raises(lenetc.LenetcError, match="no kernel of kind 'dense'"):
        best((a, b, c), "dense", "int8", None, caps)


def test_a_new_family_with_only_a_dialect_builds_and_agrees(tmp_path):
    """What "how to add a CPU family" promises for the minimum: a dialect with no variants of
    its own generates C with the portable kernels and its header before the portable one."""
    qnet = quantized_zoo("lenet5")
    folder = tmp_path / "newcpu"
    folder.mkdir()
    (folder / "lenetc_arch_newcpu.h").write_text("/* newcpu primitives: none yet, the portable ones apply */\n")
    new = Dialect("newcpu", "a new CPU", Capabilities(vla=True), folder, "lenetc_arch_newcpu.h", align=8)
    gen = lenetc.generate(qnet, target=new)
    c = gen.files["lenet5.c"]
    assert "newcpu primitives" in c and c.index("newcpu primitives") < c.index("lenetc primitives, portable C99")
    assert _call_variants(gen.plan) == _call_variants(make_plan(qnet))
    assert gen.plan.arena_bytes % 8 == 0
    x = int8_inputs(qnet.net.input_shape, n=4)
    got = build(gen, ("-O1", *STRICT)).run_int8(x)
    np.testing.assert_array_equal(got, forward_int8(qnet, x))


_DEF = re.compile(r"^(?:LENETC_\w+ )?static[^(;=]*?\blenetc_(\w+)\(", re.M)
_CALL = re.compile(r"\blenetc_(\w+)\(")
#: Preprocessor tests that select a family's own code (a template's #else keeps its fallback).
_FEATURE = re.compile(r"LENETC_HAVE_|__ARM_FEATURE|__riscv|__AVX|__aarch64__|__ARM_NEON")


def _contract() -> set[str]:
    """The routines the portable headers and the number types' helpers define."""
    names: set[str] = set()
    for h in [*PORTABLE.headers(True), *sorted((ROOT / "csrc").glob("*.h"))]:
        names |= set(_DEF.findall(h.read_text()))
    return names


def _unguarded_calls(text: str) -> set[str]:
    """``lenetc_*`` routines a template calls outside a family feature test."""
    stack: list[list] = []  # [feature test?, in its #else]
    calls: set[str] = set()
    for line in text.splitlines():
        s = line.strip()
        if s.startswith(("#if", "#ifdef", "#ifndef")):
            stack.append([bool(_FEATURE.search(s)) and "!defined" not in s, False])
        elif s.startswith(("#else", "#elif")) and stack:
            stack[-1][1] = True
        elif s.startswith("#endif") and stack:
            stack.pop()
        elif not any(feature and not in_else for feature, in_else in stack):
            calls |= set(_CALL.findall(s))
    return calls


def _kernel_templates() -> list[Path]:
    return sorted((templates_dir() / "kernels").rglob("*.j2")) + sorted(families_dir().rglob("kernels/**/*.j2"))


def test_templates_call_only_the_primitive_contract():
    """Every routine a kernel template calls outside a family feature test is implemented by the
    portable headers (or the number types' helpers): a file generated for any family builds
    with any C99 compiler. Names built inside a template ({{ }}) are left out."""
    contract = _contract()
    assert {"dot_s16s8", "i32x8_madd", "f32x8_fma", "dot4_s16s8p", "dotsp2_s16s8p", "gather_s8"} <= contract
    missing = {}
    for t in _kernel_templates():
        text = re.sub(r"\{\{.*?\}\}", "X", t.read_text())
        extra = {c for c in _unguarded_calls(text) if not c.endswith("X")} - contract
        if extra:
            missing[str(t.relative_to(ROOT))] = sorted(extra)
    assert not missing, f"primitives without a portable fallback: {missing}"


def test_the_contract_check_sees_a_family_only_call():
    text = (
        "#if defined(LENETC_HAVE_RQVEC_I)\nlenetc_rqvec_i(a);\n#else\nlenetc_requant(a);\n#endif\nlenetc_only_dsp(x);\n"
    )
    assert _unguarded_calls(text) == {"requant", "only_dsp"}


def test_family_headers_keep_no_fallbacks_of_their_own():
    """A family header defines routines only under its feature tests (the portable fallback of a
    contract routine lives in the portable header, once)."""
    for family in FAMILIES:
        if family.dialect is PORTABLE:
            continue
        for h in family.dialect.headers(True):
            fallbacks = re.findall(r"#if[^\n]*!defined\(LENETC_HAVE_(\w+)\)", h.read_text())
            assert not fallbacks, f"{h.name} carries portable fallbacks: {fallbacks}"


def test_target_names_a_dialect_or_a_board_by_one_rule():
    """--target: a dialect's name is that dialect, a board's name the dialect the board holds;
    the registries never share a name, so the rule never has to guess."""
    from lenetc.commands.model_args import resolve_dialect
    from lenetc.firmware.targets import TARGETS

    assert not set(DIALECTS) & set(TARGETS)
    for name, d in DIALECTS.items():
        assert resolve_dialect(name) is d
    for name, board in TARGETS.items():
        if name != "host":  # host: detected from the host compiler
            assert resolve_dialect(name) is board.dialect and board.dialect in DIALECTS.values()
    with pytest.raises(lenetc.LenetcError, match="unknown --target"):
        resolve_dialect("cortex-m99")
