"""The firmware example bundle: the model's C plus a main.c that checks a few embedded digits,
a Makefile, a CMakeLists.txt, Cortex-M start-up code and one linker script per board.

The digits' expected outputs come from lenetc's NumPy reference; the firmware prints its raw
outputs and an FNV-1a checksum of them, which :func:`fnv1a32` recomputes in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._version import __version__
from ..codegen.plan import Plan, make_plan
from ..codegen.render import _environment, render, write_atomic
from ..errors import LenetcError
from ..network import Network
from ..reference import predict_classes
from .digits import DEFAULT_COUNT, Digits, as_digits
from .targets import BAREMETAL, TARGETS, WARN_CFLAGS, get_target

#: Relative bound the example's main.c allows between float32 outputs and the float64
#: reference: |got - want| <= FLOAT_TOLERANCE * (1 + |want|). Float32 rounding of sums of at
#: most a few thousand terms, and the helpers' 3e-7 tanh error, stay well below it.
FLOAT_TOLERANCE = 1e-4


@dataclass(frozen=True)
class DtypeSpec:
    """How the example talks to a model of one dtype: C types of its input and output."""

    in_ctype: str
    out_ctype: str
    ref_ctype: str
    is_float: bool


#: One entry per dtype the code generator supports. int8 slots in here once make_plan
#: accepts it: its input/output C types, and exact comparison with the integer reference.
DTYPES: dict[str, DtypeSpec] = {
    "float32": DtypeSpec(in_ctype="float", out_ctype="float", ref_ctype="float", is_float=True),
}


@dataclass(frozen=True)
class Example:
    """What main.c embeds: model inputs, labels, reference outputs and classes."""

    digits: Digits
    inputs: np.ndarray  # (N, C, H, W), the model's input type
    reference: np.ndarray  # (N, outputs), what the generated C should print
    classes: np.ndarray  # (N,), the reference's predicted classes


def fnv1a32(data: bytes, hash_: int = 0x811C9DC5) -> int:
    """32-bit FNV-1a of ``data``, the checksum the example firmware prints."""
    for byte in data:
        hash_ = ((hash_ ^ byte) * 0x01000193) & 0xFFFFFFFF
    return hash_


def output_checksum(outputs: np.ndarray, dtype: str = "float32") -> int:
    """The checksum of a batch of raw outputs (N, outputs), bytes little-endian as on every target."""
    ctype = {"float32": "<f4", "int8": "i1"}.get(dtype, "<f4")
    return fnv1a32(np.ascontiguousarray(outputs, dtype=ctype).tobytes())


def dtype_spec(dtype: str) -> DtypeSpec:
    try:
        return DTYPES[dtype]
    except KeyError:
        raise LenetcError(
            f"the firmware example does not support dtype '{dtype}' yet (supported: {', '.join(DTYPES)})"
        ) from None


def make_example(net: Network, dtype: str = "float32", digits=None, count: int = DEFAULT_COUNT) -> Example:
    """Preprocess ``digits`` (see :func:`as_digits`) for ``net`` and run the NumPy reference."""
    dtype_spec(dtype)
    chosen = as_digits(digits, count)
    inputs = net.preprocess.apply(chosen.images)
    if inputs.shape[1:] != tuple(net.input_shape):
        raise LenetcError(
            f"model '{net.name}': preprocessed digits have shape {inputs.shape[1:]}, "
            f"the model takes {tuple(net.input_shape)}"
        )
    reference = np.asarray(net.forward(inputs), dtype=np.float64).reshape(len(inputs), -1)
    return Example(chosen, inputs, reference.astype(np.float32), predict_classes(net, reference))


def _ctx(plan: Plan, example: Example | None, default_target: str) -> dict:
    net = plan.net
    ctx = {
        "P": plan.prefix,
        "PU": plan.prefix.upper(),
        "net": net,
        "dtype": plan.dtype,
        "version": __version__,
        "weights_sha256": net.weights_hash(),
        "targets": list(TARGETS.values()),
        "baremetal": [TARGETS[name] for name in BAREMETAL],
        "default_target": default_target,
        "warn": WARN_CFLAGS,
        "tolerance": FLOAT_TOLERANCE,
    }
    if example is not None:
        p = net.preprocess
        ctx.update(
            spec=dtype_spec(plan.dtype),
            n=len(example.inputs),
            source=example.digits.source,
            preprocess=f"pixel * {p.scale:.9g} + {p.offset:.9g}, padded by {p.pad}",
            inputs=[x.reshape(-1) for x in example.inputs],
            labels=[int(v) for v in example.digits.labels],
            classes=[int(v) for v in example.classes],
            reference=list(example.reference),
        )
    return ctx


def render_example(plan: Plan, example: Example, default_target: str = "host") -> dict[str, str]:
    """All the bundle's files except the model's own .c/.h, as ``{filename: text}``."""
    get_target(default_target)
    env = _environment()
    ctx = _ctx(plan, example, default_target)
    files = {
        "main.c": env.get_template("firmware/main.c.j2").render(ctx),
        "Makefile": env.get_template("firmware/Makefile.j2").render(ctx),
        "CMakeLists.txt": env.get_template("firmware/CMakeLists.txt.j2").render(ctx),
        "arm-none-eabi.cmake": env.get_template("firmware/arm-none-eabi.cmake.j2").render(ctx),
        "startup.c": env.get_template("firmware/startup.c.j2").render(ctx),
    }
    link = env.get_template("firmware/link.ld.j2")
    for name in BAREMETAL:
        files[f"link_{name}.ld"] = link.render({**ctx, "target": TARGETS[name]})
    return files


def write_example(
    net: Network,
    out_dir: str | Path,
    prefix: str | None = None,
    dtype: str = "float32",
    digits=None,
    target: str | None = None,
) -> list[Path]:
    """Write the model's ``<prefix>.c``/``.h`` and the example bundle into ``out_dir``.

    ``digits`` as for :func:`as_digits` (default: the first MNIST test digits, synthetic
    digit-like images when lenetc.datasets is not installed). ``target`` is the Makefile's
    default TARGET (default ``host``). Returns the paths written. Files are rendered in
    memory first and each is written through a temporary name and a rename.
    """
    plan = make_plan(net, prefix, dtype)
    example = make_example(net, dtype, digits)
    files = {**render(plan), **render_example(plan, example, target or "host")}
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LenetcError(f"cannot create output directory '{out}': {exc.strerror}") from None
    paths = []
    for name, text in files.items():
        try:
            write_atomic(out / name, text)
        except OSError as exc:
            raise LenetcError(f"cannot write '{out / name}': {exc.strerror}") from None
        paths.append(out / name)
    return paths
