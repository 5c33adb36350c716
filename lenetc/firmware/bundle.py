"""The firmware example bundle: the model's C plus a main.c that checks a few embedded digits,
a Makefile, a CMakeLists.txt, Cortex-M start-up code and one linker script per board.

The digits' expected outputs come from lenetc's NumPy reference; the firmware prints its raw
outputs and an FNV-1a checksum of them, which :func:`fnv1a32` recomputes in Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._version import __version__
from ..api import Model, generate, prepare
from ..codegen import Generated, Plan, Symbols
from ..codegen.render import environment, frame_helper
from ..errors import LenetcError
from ..numeric import NUMERIC_TYPES
from ..quant.reference_int8 import forward_int8
from ..reference import forward, predict_classes
from ..text import plus
from .digits import DEFAULT_COUNT, Digits, as_digits
from .size import fit_measured
from .targets import BAREMETAL, TARGETS, WARN_CFLAGS, get_target

#: Relative bound the example's main.c allows between float32 outputs and the float64
#: reference: |got - want| <= FLOAT_TOLERANCE * (1 + |want|). Float32 rounding of sums of at
#: most a few thousand terms, and the helpers' 3e-7 tanh error, stay well below it.
FLOAT_TOLERANCE = 1e-4

#: Stack the example's own code needs beside ``<P>_run`` (main's frame, newlib's printf): a
#: bundle planned for a RAM budget reserves the plan's measured stack plus this.
EXAMPLE_STACK_BYTES = 2048
#: Heap of a budgeted bundle: newlib's stdio buffers (the model itself allocates nothing).
EXAMPLE_HEAP_BYTES = 2048
#: RAM the example needs beside the model's budget: its stack and heap, and its own .data/.bss
#: (the output buffer, the preprocessed frame, newlib's state) with room to spare.
EXAMPLE_RAM_BYTES = EXAMPLE_STACK_BYTES + EXAMPLE_HEAP_BYTES + 2048


@dataclass(frozen=True)
class DtypeSpec:
    """How the example talks to a model of one dtype: C types of its input and output."""

    in_ctype: str
    out_ctype: str
    is_float: bool


def supported_dtypes() -> list[str]:
    """The number types the example (and every generated model) comes in."""
    return list(NUMERIC_TYPES)


def dtype_spec(plan: Plan) -> DtypeSpec:
    """C types of the plan's entry points: float in/out, or int8 in and int8/int32 out."""
    return DtypeSpec(in_ctype=plan.numeric.ctype, out_ctype=plan.out_ctype, is_float=plan.numeric.is_float)


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


def output_checksum(outputs: np.ndarray) -> int:
    """The checksum of a batch of raw outputs (N, outputs) as the firmware computes it: over
    the bytes of float32, int8 or int32 values, little-endian as on every target."""
    a = np.asarray(outputs)
    if a.dtype.kind == "f":
        a = a.astype("<f4")
    elif a.dtype not in (np.int8, np.int32):
        raise LenetcError(f"outputs of dtype {a.dtype} have no firmware checksum (float32, int8, int32)")
    return fnv1a32(np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes())


def make_example(plan: Plan, digits=None, count: int = DEFAULT_COUNT) -> Example:
    """Preprocess ``digits`` (see :func:`as_digits`) for the plan's network and compute the
    expected outputs: the float64 NumPy reference for float32, the NumPy integer reference
    (bit-exact) for int8, whose inputs are quantized in Python as the C expects them."""
    net = plan.net
    chosen = as_digits(digits, count)
    inputs = net.preprocess.apply(chosen.images)
    if inputs.shape[1:] != tuple(net.input_shape):
        raise LenetcError(
            f"model '{net.name}': preprocessed digits have shape {inputs.shape[1:]}, "
            f"the model takes {tuple(net.input_shape)}"
        )
    qnet = plan.qnet
    if qnet is not None:
        inputs = qnet.quantize_input(inputs)
        reference = np.asarray(forward_int8(qnet, inputs)).reshape(len(inputs), -1)
        return Example(chosen, inputs, reference, predict_classes(net, reference))
    reference = np.asarray(forward(net, inputs), dtype=np.float64).reshape(len(inputs), -1)
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
        "linux": [t for t in TARGETS.values() if t.kind == "linux"],
        "cross": [t for t in TARGETS.values() if t.toolchain],
        "default_target": default_target,
        "warn": WARN_CFLAGS,
        "tolerance": FLOAT_TOLERANCE,
        "frame": frame_helper(plan),
    }
    if example is not None:
        p = net.preprocess
        ctx.update(
            spec=dtype_spec(plan),
            n=len(example.inputs),
            source=example.digits.source,
            preprocess=f"pixel * {p.scale:.9g}{plus(p.offset, '.9g')}, padded by {p.pad}",
            inputs=[x.reshape(-1) for x in example.inputs],
            frames=[f.reshape(-1) for f in example.digits.images],
            labels=[int(v) for v in example.digits.labels],
            classes=[int(v) for v in example.classes],
            reference=list(example.reference),
        )
    return ctx


def render_example(
    plan: Plan, example: Example, default_target: str = "host", stack_bytes: int | None = None
) -> dict[str, str]:
    """All the bundle's files except the model's own .c/.h, as ``{filename: text}``.
    ``stack_bytes``: the linker scripts' stack (default: each board's own)."""
    get_target(default_target)
    env = environment()
    heap = EXAMPLE_HEAP_BYTES if stack_bytes else None
    ctx = {**_ctx(plan, example, default_target), "stack_bytes": stack_bytes, "heap_bytes": heap}
    files = {
        "main.c": env.get_template("firmware/main.c.j2").render(ctx),
        "Makefile": env.get_template("firmware/Makefile.j2").render(ctx),
        "CMakeLists.txt": env.get_template("firmware/CMakeLists.txt.j2").render(ctx),
    }
    # each target's toolchain file, start-up code and linker script (shared ones rendered once)
    for t in TARGETS.values():
        for name in (t.toolchain, t.clang_toolchain, t.startup):
            if name and name not in files:
                files[name] = env.get_template(f"firmware/{name}.j2").render(ctx)
        if t.link_template:
            files[f"link_{t.name}.ld"] = env.get_template(t.link_template).render({**ctx, "target": t})
    return files


@dataclass
class Bundle:
    """A written example: its ``directory`` and the model's :class:`Generated` C (whose ``paths``
    list every file written). Iterating over it yields those paths."""

    directory: Path
    generated: Generated

    @property
    def symbols(self) -> Symbols:
        return self.generated.symbols

    @property
    def plan(self) -> Plan:
        return self.generated.plan

    @property
    def paths(self) -> list[Path]:
        return self.generated.paths

    @property
    def memory(self):
        return self.generated.memory

    def __iter__(self) -> Iterator[Path]:
        return iter(self.paths)

    def __repr__(self) -> str:
        return f"Bundle(directory={str(self.directory)!r}, generated={self.generated!r})"

    def executable(self, target: str) -> Path:
        """Where the Makefile puts the program it builds for ``target``."""
        return self.directory / "build" / target / f"{self.symbols.prefix}_example"


def write_example(
    model: Model,
    out_dir: str | Path,
    prefix: str | None = None,
    dtype: str | None = None,
    digits=None,
    target: str | None = None,
    calibration=None,
    ram_bytes: int | None = None,
) -> Bundle:
    """Write the model's ``<prefix>.c``/``.h`` and the example bundle into ``out_dir``.

    ``model`` is a :class:`~lenetc.Network` (with ``dtype`` and ``calibration`` as for
    :func:`lenetc.generate`) or a :class:`~lenetc.QuantizedNetwork`. ``digits`` as for
    :func:`as_digits` (default: the first MNIST test digits). ``target`` is the Makefile's
    default TARGET (default ``host``) and the code generator's dialect is that target's (the C
    keeps portable fallbacks, so the other targets build too). Files are rendered in memory
    first and each is written through a temporary name and a rename.

    With ``ram_bytes`` the model is planned for that RAM (arena + the stack of ``<P>_run``
    measured on the default target, or on the Cortex-M4 for a hosted one) and the linker
    scripts' stack is that stack plus :data:`EXAMPLE_STACK_BYTES`, the heap
    :data:`EXAMPLE_HEAP_BYTES`: it links into ``RAM_LENGTH = N + EXAMPLE_RAM_BYTES``.
    """
    default_target = get_target(target or "host")
    stack = None
    if ram_bytes is None:
        gen = generate(model, None, prefix, dtype, calibration, default_target.dialect)
    else:
        measured_on = default_target if default_target.kind == "baremetal" else get_target("cortex-m4")
        gen = fit_measured(prepare(model, dtype, calibration), ram_bytes, measured_on, prefix)
        stack = (gen.memory.stack_bytes or 0) + EXAMPLE_STACK_BYTES
    example = make_example(gen.plan, digits)
    gen.write(out_dir, render_example(gen.plan, example, default_target.name, stack))
    return Bundle(Path(out_dir), gen)
