"""The public API's entry points: where a dtype string becomes a model of one number type,
and where calibration defaults live. Everything below takes a :class:`Network` (float32) or a
:class:`QuantizedNetwork` (int8) and asks it, never a string."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .build import CompiledNetwork, build
from .codegen.artifact import Generated, generated
from .codegen.budget import fit
from .codegen.plan import make_plan
from .datasets import mnist
from .errors import LenetcError
from .extension import compiler, host_flags
from .families import PORTABLE, host_dialect
from .network import Network
from .numeric import numeric_type
from .quant.calibrate import DEFAULT_METHOD, DEFAULT_PERCENTILE
from .quant.calibrate import quantize as calibrate
from .quant.qnetwork import QuantizedNetwork
from .variants import Dialect

#: Calibration digits used by default: enough for stable 99.99th percentiles, a few seconds.
DEFAULT_CALIBRATION = 1000

Model = Network | QuantizedNetwork


def calibration_digits(n: int = DEFAULT_CALIBRATION, directory=None) -> np.ndarray:
    """The first ``n`` MNIST *training* digits (uint8 (n, 28, 28)); test digits stay unseen."""
    if n < 1:
        raise LenetcError(f"number of calibration digits must be at least 1, got {n}")
    images, _ = mnist("train", directory)
    return images[:n]


def quantize(
    net: Network,
    calibration_images: np.ndarray | None = None,
    method: str = DEFAULT_METHOD,
    percentile: float = DEFAULT_PERCENTILE,
    n_calib: int = DEFAULT_CALIBRATION,
    data: str | Path | None = None,
) -> QuantizedNetwork:
    """Quantize ``net`` to int8.

    ``calibration_images`` are preprocessed inputs (N, C, H, W) or raw uint8 digits (N, 28, 28);
    None calibrates on the first ``n_calib`` MNIST training digits (from ``data`` if given).
    """
    images = calibration_digits(n_calib, data) if calibration_images is None else calibration_images
    return calibrate(net, images, method, percentile)


def prepare(model: Model, dtype: str | None = None, calibration=None) -> Model:
    """The model in the number type ``dtype``: a :class:`Network` itself for float32; for int8
    the :class:`QuantizedNetwork` ``calibration`` (checked to belong to the network), or the
    network quantized on the images ``calibration`` (None: MNIST training digits). Without
    ``dtype`` a Network is float32 and a QuantizedNetwork int8."""
    if dtype is None:
        dtype = "int8" if isinstance(model, QuantizedNetwork) else "float32"
    numeric = numeric_type(dtype)
    if isinstance(model, QuantizedNetwork):
        if numeric.is_float:
            return model.net
        return model
    if numeric.is_float:
        return model
    if isinstance(calibration, QuantizedNetwork):
        if calibration.net is not model and calibration.net.weights_hash() != model.weights_hash():
            raise LenetcError(f"the quantized network was calibrated for other weights than model '{model.name}'")
        return calibration
    return quantize(model, calibration)


def generate(
    model: Model,
    out_dir: str | Path | None = None,
    prefix: str | None = None,
    dtype: str | None = None,
    calibration=None,
    target: str | Dialect = PORTABLE,
    ram_bytes: int | None = None,
) -> Generated:
    """Plan and render ``model``'s C; with ``out_dir`` write ``<prefix>.h`` and ``<prefix>.c`` there.

    ``target`` is the dialect the C is for (``portable``, the default, builds with any C99
    compiler; ``x86``, ``neon``, ``cortex-m-dsp``, ``cortex-m-mve``; see
    :mod:`lenetc.families`).

    Returns the :class:`Generated` artifact (plan, files, symbols, memory; ``paths`` of the
    written files, which iterating over it yields). Files are rendered in memory and written
    under temporary names, then renamed, so a failure leaves no half-written output.

    With ``ram_bytes`` the plan is the fastest whose arena plus stack (reserved:
    :data:`lenetc.codegen.budget.STACK_RESERVE`) fits that many bytes
    (:func:`lenetc.codegen.budget.fit`); a :class:`LenetcError` names the smallest feasible
    budget when none does.
    """
    m = prepare(model, dtype, calibration)
    if ram_bytes is None:
        gen = generated(make_plan(m, prefix, target))
    else:
        plan, stack = fit(m, ram_bytes, prefix, target)
        gen = generated(plan, stack, ram_bytes)
    return gen.write(out_dir) if out_dir is not None else gen


def compile(  # noqa: A001 - the public name since 0.1
    model: Model,
    prefix: str | None = None,
    dtype: str | None = None,
    flags: list[str] | None = None,
    calibration=None,
    threads: int = 1,
) -> CompiledNetwork:
    """Generate ``model``'s C for the host's dialect, compile it (``-O3`` plus the host's SIMD
    flags, unless ``flags`` are given) and load it.

    With ``dtype="int8"``, ``calibration`` is a :class:`QuantizedNetwork` or calibration images
    (None: MNIST training digits); the result is then a :class:`~lenetc.build.CompiledInt8Network`.
    The compiler is ``$CC`` if set (see :func:`lenetc.extension.compiler`); ``flags`` replace
    :data:`~lenetc.extension.HOST_FLAGS` and ``-march=native`` (keep ``-ffp-contract=off`` in
    them for the float policy). The dialect is detected from what the compiler predefines under
    the flags it builds with. ``threads`` splits each batch across that many threads (0: one
    per CPU; settable later as ``net.threads``).
    """
    cc = compiler()
    chosen = tuple(flags) if flags is not None else host_flags(cc)
    dialect = host_dialect(cc, chosen)
    return build(generate(model, None, prefix, dtype, calibration, dialect), chosen, cc, threads)
