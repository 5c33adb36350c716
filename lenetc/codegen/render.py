"""Render a :class:`Plan` to ``<prefix>.h`` and ``<prefix>.c`` with the Jinja2 templates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2

from .._version import __version__
from ..activations import act_expr
from ..errors import LenetcError
from ..families import PORTABLE
from ..fileio import write_files_atomic
from ..input_range import NO_LIMIT, input_limit_exponent
from ..numeric import c_array, c_double, c_float, c_int
from ..paths import csrc_dir, families_dir, templates_dir
from ..quant.pixel_map import PixelMap, pixel_map
from ..text import plural_noun
from .plan import Plan

#: The hand-written helper header of each numeric type (after the dialect's primitives).
_NUMERIC_HELPERS = {"float32": "lenetc_float.h", "int8": "lenetc_int8.h"}
#: A call of a helper routine; only the routines the generated code calls are compiled.
_HELPER_CALL = re.compile(r"\blenetc_(\w+)\(")
_COMMENT_BREAKERS = re.compile(r"[\x00-\x1f\x7f]")
#: The side of an MNIST frame, what ``<P>_preprocess`` reads.
FRAME = 28


def comment_text(text: object) -> str:
    """``text`` made safe inside a C block comment or a ``#`` comment of a Makefile: control
    characters (newlines included) become spaces and ``*/`` / ``/*`` are broken apart."""
    s = _COMMENT_BREAKERS.sub(" ", str(text))
    while "*/" in s or "/*" in s:
        s = s.replace("*/", "* /").replace("/*", "/ *")
    return s


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja2 environment over ``templates/`` (kernels, model files, firmware bundle) and
    the CPU families' folders (``<family>/kernels/...``)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(templates_dir()), str(families_dir())]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["c_float"] = c_float
    env.filters["c_float_macro"] = lambda v: f"({c_float(v)})" if c_float(v).startswith("-") else c_float(v)
    env.filters["c_double"] = c_double
    env.filters["c_int"] = lambda v, plain=False: str(int(v)) if plain else c_int(v)
    env.filters["comment"] = comment_text
    env.filters["plural_noun"] = plural_noun
    env.globals["act_expr"] = act_expr
    env.globals["c_array"] = c_array
    return env


def _helpers(code: str, plan: Plan) -> str:
    """The dialect's primitives, the portable fallbacks and the number type's helpers, enabling
    just the routines ``code`` calls."""
    used = sorted(set(_HELPER_CALL.findall(code)))
    defines = "".join(f"#define LENETC_USE_{name.upper()} 1\n" for name in used)
    is_float = plan.numeric.is_float  # a family's float primitives are kept out of integer-only C
    headers = plan.dialect.headers(is_float)
    if plan.dialect != PORTABLE:
        headers += PORTABLE.headers(is_float)
    if is_float:  # before any fmaf: the soft-float replacement for C libraries whose fmaf rounds twice
        headers.insert(0, csrc_dir() / "lenetc_fmaf.h")
    headers.append(csrc_dir() / _NUMERIC_HELPERS[plan.numeric.name])
    if "requant_f" in used:  # --requant float: the one helper with float arithmetic, kept out otherwise
        headers.append(csrc_dir() / "lenetc_int8_f32.h")
    return defines + "\n".join(h.read_text() for h in headers)


@dataclass(frozen=True)
class FrameHelper:
    """What ``<P>_preprocess`` needs: the frame size and padding, the float32 scale and offset,
    and for int8 the exact integer pixel map (:mod:`lenetc.quant.pixel_map`)."""

    h: int
    w: int
    pad: int
    scale: float
    offset: float
    pixels: PixelMap | None

    @property
    def uint_mult(self) -> str:
        """The multiplier as the uint32 the C computes with (modulo 2^32: the sum is exact)."""
        return f"{self.pixels.mult % (1 << 32)}u"


def frame_helper(plan: Plan) -> FrameHelper | None:
    """The preprocessing helper's facts, or None when the model's input is not one 28x28 MNIST
    frame padded by the model's ``pad`` (then there is no ``<P>_preprocess``)."""
    pre = plan.net.preprocess
    side = FRAME + 2 * pre.pad
    if tuple(plan.net.input_shape) != (1, side, side):
        return None
    qnet = plan.qnet
    pixels = pixel_map(pre, qnet.input_q, qnet.quantize_input) if qnet is not None else None
    return FrameHelper(FRAME, FRAME, pre.pad, pre.scale, pre.offset, pixels)


def _context(plan: Plan) -> dict:
    net = plan.net
    T = plan.numeric.ctype
    return {
        "plan": plan,
        "net": net,
        "numeric": plan.numeric,
        "q": plan.qnet,
        "T": T,
        "out_t": f"{plan.prefix}_out_t" if plan.qnet is not None else T,
        "P": plan.prefix,
        "PU": plan.prefix.upper(),
        "version": __version__,
        "weights_sha256": net.weights_hash(),
        "ops": plan.ops,
        "tensors": plan.tensors,
        "helpers": "@HELPERS@",
        "output_is_distance": int(net.output_kind == "distance"),
        "for_cffi": False,
        "frame": frame_helper(plan),
        # float32 inputs with this exponent field or more are refused (255: only NaN and Inf)
        "input_exp_limit": input_limit_exponent(net) if plan.numeric.is_float else NO_LIMIT,
    }


def render(plan: Plan) -> dict[str, str]:
    """The generated files as ``{filename: text}``: ``<prefix>.h`` and ``<prefix>.c``."""
    env = environment()
    ctx = _context(plan)
    code = env.get_template("model.c.j2").render(ctx)
    return {
        f"{plan.prefix}.h": env.get_template("model.h.j2").render(ctx),
        f"{plan.prefix}.c": code.replace("@HELPERS@", _helpers(code, plan), 1),
    }


def cdef(plan: Plan) -> str:
    """Declarations for cffi: the header without preprocessor guards."""
    return environment().get_template("model.cdef.j2").render({**_context(plan), "for_cffi": True})


def write_output(out_dir: str | Path, files: dict[str, str]) -> list[Path]:
    """Create ``out_dir`` if needed and write ``files`` there atomically (see
    :func:`write_files_atomic`); an OS error becomes a one-line :class:`LenetcError`."""
    if not str(out_dir):
        raise LenetcError("output directory is empty (give -o DIR; '.' for this one)")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        return write_files_atomic(out, files)
    except OSError as exc:
        where = f"'{exc.filename}'" if exc.filename else f"to output directory '{out}'"
        raise LenetcError(f"cannot write {where}: {exc.strerror or exc}") from None
