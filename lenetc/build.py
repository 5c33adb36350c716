"""Compile generated C into a Python extension with cffi, cached on disk by content hash."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .codegen.plan import Plan, make_plan
from .codegen.render import cdef, render
from .errors import LenetcError
from .extension import ExtensionSource, compiler, host_flags, load_cached
from .network import Network
from .reference import as_batch, predict_classes


class CompiledNetwork:
    """The generated C of a network, compiled and loaded: call it on NumPy arrays.

    ``net(x)`` takes (N, C, H, W), (N, H, W), (C, H, W) or (H, W) and returns float32
    outputs (N, classes), or (classes,) for one image. The batch loop runs in C with the GIL
    released; each call has its own workspace, so calls from several threads are safe.
    """

    def __init__(self, net: Network, plan: Plan, module, build_dir: Path):
        self.net, self.plan, self.build_dir = net, plan, build_dir
        self.ffi, self.lib = module.ffi, module.lib
        self._run_batch = getattr(self.lib, f"{plan.prefix}_run_batch")
        self.input_shape = tuple(net.input_shape)
        self.output_size = plan.output_size
        self.arena_bytes = plan.arena_bytes

    @property
    def source_files(self) -> list[Path]:
        return [self.build_dir / f"{self.plan.prefix}.c", self.build_dir / f"{self.plan.prefix}.h"]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        batch, single = as_batch(x, self.input_shape)
        inp = np.ascontiguousarray(batch, dtype=np.float32)
        n = inp.shape[0]
        out = np.empty((n, self.output_size), dtype=np.float32)
        workspace = np.empty(max(self.arena_bytes, 1) // 4 + 1, dtype=np.float32)
        status = self._run_batch(
            self.ffi.from_buffer("float[]", inp),
            self.ffi.from_buffer("float[]", out),
            n,
            self.ffi.from_buffer("float[]", workspace),
        )
        if status != 0:
            raise LenetcError(f"generated C returned status {status}")
        return out[0] if single else out

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class indices (argmin for RBF distances, argmax otherwise)."""
        return predict_classes(self.net, self(x))


def compile(
    net: Network, prefix: str | None = None, dtype: str = "float32", flags: list[str] | None = None, calibration=None
) -> CompiledNetwork:
    """Generate, compile (``-O3`` plus the host's SIMD flags) and load ``net``'s C.

    The compiler is ``$CC`` if set (see :func:`lenetc.extension.compiler`); ``flags``
    replaces :data:`~lenetc.extension.HOST_FLAGS` and ``-march=native``. Builds are cached under
    :func:`lenetc.cache.cache_dir` by a hash of the generated source, the flags, the compiler
    and the Python ABI, so a second call with the same model loads in milliseconds.
    With ``dtype="int8"``, ``calibration`` is a :class:`~lenetc.quant.QuantizedNetwork` or
    calibration images for :func:`lenetc.quant.quantize` (None: MNIST training digits); the
    result is a :class:`~lenetc.quant.compiled.CompiledInt8Network`.
    """
    quantized = None
    if dtype == "int8" and calibration is not None:
        from .quant import QuantizedNetwork, quantize

        quantized = calibration if isinstance(calibration, QuantizedNetwork) else quantize(net, calibration)
    plan = make_plan(net, prefix, dtype, quantized)
    files = render(plan)
    declarations = cdef(plan)
    cc = compiler()
    flags = tuple(flags) if flags is not None else host_flags(cc)
    source = ExtensionSource(plan.prefix, files, declarations, f'#include "{plan.prefix}.h"', flags)
    built = load_cached(source, cc)
    module, final_dir = built.module, built.directory
    if dtype == "int8":
        from .quant.compiled import CompiledInt8Network

        return CompiledInt8Network(net, plan, module, final_dir)
    return CompiledNetwork(net, plan, module, final_dir)
