"""Render a :class:`Plan` to ``<prefix>.h`` and ``<prefix>.c`` with the Jinja2 templates."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path

import jinja2
import numpy as np

from .._version import __version__
from ..errors import LenetcError
from ..fileio import write_files_atomic
from ..layers import SCALED_TANH_A, SCALED_TANH_S, Act
from ..network import Network
from ..paths import csrc_dir, templates_dir
from .plan import Plan, make_plan


def c_float(v: float) -> str:
    """A C float literal that reads back as exactly the same float32."""
    v = float(np.float32(v))
    if math.isinf(v):
        return "HUGE_VALF" if v > 0 else "(-HUGE_VALF)"
    s = f"{v:.9g}"
    if not any(ch in s for ch in ".en"):
        s += ".0"
    return f"{s}f"


def c_array(values: np.ndarray, ctype: str, per_line: int = 8) -> str:
    fmt = c_float if ctype == "float" else (lambda v: str(int(v)))
    items = [fmt(v) for v in np.asarray(values).reshape(-1)]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return ",\n    ".join(lines)


def act_expr(act: Act | None, v: str) -> str:
    """The C expression applying ``act`` to the float expression ``v``."""
    if act is None:
        return v
    if act.fn == "relu":
        return f"({v} > 0.0f ? {v} : 0.0f)"
    if act.fn == "tanh":
        return f"lenetc_tanhf({v})"
    if act.fn == "scaled_tanh":
        return f"{c_float(SCALED_TANH_A)} * lenetc_tanhf({c_float(SCALED_TANH_S)} * {v})"
    if act.fn == "sigmoid":
        return f"lenetc_sigmoidf({v})"
    if act.fn == "leaky_relu":
        return f"({v} >= 0.0f ? {v} : {c_float(act.alpha)} * {v})"
    if act.fn == "clip":
        expr = v
        if not math.isinf(act.hi):
            expr = f"({expr} > {c_float(act.hi)} ? {c_float(act.hi)} : {expr})"
        if not math.isinf(act.lo):
            expr = f"({v} < {c_float(act.lo)} ? {c_float(act.lo)} : {expr})"
        return expr
    raise LenetcError(f"activation '{act.fn}' has no C implementation")


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["c_float"] = c_float
    env.globals["act_expr"] = act_expr
    env.globals["c_array"] = c_array
    return env


_HELPER_CALL = re.compile(r"\blenetc_(\w+?)f\(")


def _helpers(code: str, names: tuple[str, ...]) -> str:
    """The hand-written helpers, enabling just the routines ``code`` calls (no unused statics)."""
    used = sorted(set(_HELPER_CALL.findall(code)))
    defines = "".join(f"#define LENETC_USE_{name.upper()}F 1\n" for name in used)
    return defines + "\n".join((csrc_dir() / n).read_text() for n in names)


def _int8_helpers(code: str) -> str:
    used = sorted(set(re.findall(r"\blenetc_(requant|round_div)\(", code)))
    defines = "".join(f"#define LENETC_USE_{name.upper()} 1\n" for name in used)
    return defines + (csrc_dir() / "lenetc_int8.h").read_text()


def render(plan: Plan) -> dict[str, str]:
    """The generated files as ``{filename: text}``: ``<prefix>.h`` and ``<prefix>.c``."""
    env = _environment()
    net = plan.net
    ctx = {
        "plan": plan,
        "net": net,
        "P": plan.prefix,
        "PU": plan.prefix.upper(),
        "version": __version__,
        "weights_sha256": net.weights_hash(),
        "ops": plan.ops,
        "tensors": plan.tensors,
        "helpers": "@HELPERS@",
        "output_is_distance": int(net.output_kind == "distance"),
    }
    if plan.dtype == "int8":
        # integer-only C: its own templates and helper header, and no float helpers at all
        ctx["q"] = plan.qnet  # type: ignore[attr-defined]
        code = env.get_template("int8/model.c.j2").render(ctx)
        return {
            f"{plan.prefix}.h": env.get_template("int8/model.h.j2").render(ctx),
            f"{plan.prefix}.c": code.replace("@HELPERS@", _int8_helpers(code), 1),
        }
    code = env.get_template("model.c.j2").render(ctx)
    return {
        f"{plan.prefix}.h": env.get_template("model.h.j2").render(ctx),
        f"{plan.prefix}.c": code.replace("@HELPERS@", _helpers(code, ("lenetc_float.h",)), 1),
    }


def cdef(plan: Plan) -> str:
    """Declarations for cffi: the header without preprocessor guards."""
    name = "int8/model.cdef.j2" if plan.dtype == "int8" else "model.cdef.j2"
    return _environment().get_template(name).render(P=plan.prefix, PU=plan.prefix.upper(), plan=plan)


def generate(
    net: Network, out_dir: str | Path, prefix: str | None = None, dtype: str = "float32", quantized=None
) -> list[Path]:
    """Write ``<prefix>.h`` and ``<prefix>.c`` for ``net`` into ``out_dir``; returns the paths.

    Every file is rendered in memory first and then written under a temporary name and
    renamed, so a failure leaves no half-written output.
    """
    return write_output(out_dir, render(make_plan(net, prefix, dtype, quantized)))


def write_output(out_dir: str | Path, files: dict[str, str]) -> list[Path]:
    """Create ``out_dir`` if needed and write ``files`` there atomically (see
    :func:`write_files_atomic`); an OS error becomes a one-line :class:`LenetcError`."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        return write_files_atomic(out, files)
    except OSError as exc:
        raise LenetcError(f"cannot write to output directory '{out}': {exc.strerror or exc}") from None
