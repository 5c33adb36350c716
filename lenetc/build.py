"""Compile generated C into a Python extension with cffi, cached on disk by content hash."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .codegen.artifact import Generated
from .errors import LenetcError
from .extension import ExtensionSource, load_cached
from .input_range import check_input_range
from .inputs import input_kind
from .reference import as_batch, predict_classes

#: What the entry points' status codes mean (see the generated header).
STATUS_MESSAGES = {
    -1: "a NULL pointer was passed",
    -2: "the workspace is misaligned",
    -3: "the image count is negative",
    -4: "an input value is NaN or Inf, or too large for the model's float32 sums (the generated C refuses it)",
}


def _check_status(status: int) -> None:
    if status != 0:
        raise LenetcError(f"generated C returned status {status}: {STATUS_MESSAGES.get(status, 'unknown status')}")


class CompiledNetwork:
    """The generated C of a network, compiled and loaded: call it on NumPy arrays.

    ``net(x)`` takes raw uint8 digits (N, 28, 28) or float inputs (N, C, H, W), (N, H, W),
    (C, H, W) or (H, W) (see :meth:`__call__`) and returns float32 outputs (N, classes), or
    (classes,) for one image. The batch loop runs in C with the GIL
    released; each call has its own workspace, so calls from several threads are safe.

    ``threads`` (default 1; 0 means one per CPU) splits a batch into that many contiguous
    chunks, each run by the C on its own workspace in a thread of its own: the same outputs,
    bit for bit, as one thread (each image is computed alone either way).
    """

    def __init__(self, gen: Generated, module, build_dir: Path, threads: int = 1):
        plan = gen.plan
        self.generated, self.net, self.plan, self.build_dir = gen, plan.net, plan, build_dir
        self.ffi, self.lib = module.ffi, module.lib
        self._run_batch = getattr(self.lib, gen.symbols.run_batch)
        # the tiled entry (host dialects): several images per tile, layer by layer; same bits
        tiled = plan.dialect.batch_tile > 0
        self._run_tiled = getattr(self.lib, gen.symbols.run_tiled) if tiled else None
        self.tiled_bytes = int(getattr(self.lib, gen.symbols.tiled_workspace_size)()) if tiled else 0
        self.input_shape = tuple(plan.net.input_shape)
        self.output_size = plan.output_size
        self.arena_bytes = plan.arena_bytes
        self.align = plan.dialect.align
        self.threads = threads

    @property
    def threads(self) -> int:
        """How many threads a batch is split across."""
        return self._threads

    @threads.setter
    def threads(self, n: int) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise LenetcError(f"threads must be a whole number >= 0 (0: one per CPU), got {n!r}")
        self._threads = n or (os.cpu_count() or 1)

    def _run_chunks(self, inp: np.ndarray, out: np.ndarray, in_ctype: str, out_ctype: str) -> None:
        """Run the C's batch entry over ``inp`` into ``out``, split across ``self.threads``."""

        def run(lo: int, hi: int) -> int:
            tiled = self._run_tiled is not None and hi - lo > 1
            return (self._run_tiled if tiled else self._run_batch)(
                self.ffi.from_buffer(in_ctype, inp[lo:hi]),
                self.ffi.from_buffer(out_ctype, out[lo:hi]),
                hi - lo,
                self.ffi.from_buffer("unsigned char[]", self.workspace(self.tiled_bytes if tiled else 0)),
            )

        n = inp.shape[0]
        parts = min(self._threads, n)
        if parts <= 1:
            _check_status(run(0, n))
            return
        bounds = [n * i // parts for i in range(parts + 1)]
        with ThreadPoolExecutor(parts) as pool:
            statuses = list(pool.map(run, bounds[:-1], bounds[1:]))
        for status in statuses:
            _check_status(status)

    def workspace(self, nbytes: int = 0) -> np.ndarray:
        """A fresh workspace of ``nbytes`` (default ``arena_bytes``) bytes aligned as the C requires."""
        nbytes = nbytes or self.arena_bytes
        raw = np.empty(nbytes + self.align, dtype=np.uint8)
        skip = -raw.ctypes.data % self.align
        return raw[skip : skip + max(nbytes, 1)]

    @property
    def source_files(self) -> list[Path]:
        return [self.build_dir / self.generated.symbols.source, self.build_dir / self.generated.symbols.header]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Run the C on ``x``; what ``x`` means follows its dtype (:mod:`lenetc.inputs`):

        - uint8 (N, 28, 28) or (28, 28): raw digits, pixels 0..255, made inputs by the C's
          ``<P>_preprocess`` (the model's ``x = pixel * scale + offset`` and padding);
        - float: preprocessed inputs (N, C, H, W), (N, H, W), (C, H, W) or (H, W);
        - int8: quantized inputs (int8 models only); any other dtype is refused.

        Returns float32 outputs (N, classes), or (classes,) for one image.
        """
        x = np.asarray(x)
        if input_kind(x, self.net.preprocess, int8=self.plan.qnet is not None) == "pixels":
            x = self.preprocess(x)
        batch, single = as_batch(x, self.input_shape)
        inp = np.ascontiguousarray(batch, dtype=np.float32)
        check_input_range(self.net, inp)
        out = np.empty((inp.shape[0], self.output_size), dtype=np.float32)
        self._run_chunks(inp, out, "float[]", "float[]")
        return out[0] if single else out

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class indices (argmin for RBF distances, argmax otherwise)."""
        return predict_classes(self.net, self(x))

    def preprocess(self, frames: np.ndarray) -> np.ndarray:
        """The C's ``<P>_preprocess`` on uint8 28x28 frames (N, 28, 28) or one (28, 28): the
        model's inputs (N, C, H, W) -- float32, or int8 for an int8 model."""
        frames = np.asarray(frames)
        single = frames.ndim == 2
        batch = np.ascontiguousarray(frames[None] if single else frames)
        if batch.dtype != np.uint8 or batch.shape[1:] != (28, 28):
            raise LenetcError(f"preprocess takes uint8 frames (N, 28, 28), got {batch.dtype} {batch.shape}")
        name = self.generated.symbols.preprocess
        if not hasattr(self.lib, name):
            raise LenetcError(f"model '{self.net.name}' has no {name}: its input is not one padded 28x28 frame")
        fn = getattr(self.lib, name)
        dtype, ctype = (np.float32, "float[]") if self.plan.numeric.is_float else (np.int8, "int8_t[]")
        out = np.empty((len(batch), *self.input_shape), dtype=dtype)
        for i in range(len(batch)):
            _check_status(fn(self.ffi.from_buffer("uint8_t[]", batch[i]), self.ffi.from_buffer(ctype, out[i])))
        return out[0] if single else out


class CompiledInt8Network(CompiledNetwork):
    """``net(x)`` quantizes float input with the input scale/zero point, runs the int8 C and
    returns dequantized float outputs (softmax re-applied when the float model ends in one).
    ``net.run_int8(q)`` takes int8 input and returns the raw C output (int8 logits or int32
    RBF distances). ``net(x, raw=True)`` returns (float output, raw output)."""

    def __init__(self, gen: Generated, module, build_dir: Path, threads: int = 1):
        super().__init__(gen, module, build_dir, threads)
        self.qnet = gen.plan.qnet
        self.out_dtype = np.int32 if gen.plan.out_ctype == "int32_t" else np.int8

    def run_int8(self, xq: np.ndarray) -> np.ndarray:
        batch, single = as_batch(xq, self.input_shape)
        if batch.dtype != np.int8:
            raise LenetcError(f"run_int8 needs int8 input, got {batch.dtype}")
        inp = np.ascontiguousarray(batch)
        out = np.empty((inp.shape[0], self.output_size), dtype=self.out_dtype)
        self._run_chunks(inp, out, "int8_t[]", "int32_t[]" if self.out_dtype == np.int32 else "int8_t[]")
        return out[0] if single else out

    def quantize_input_c(self, x: np.ndarray) -> np.ndarray:
        """The header's ``<P>_quantize_input`` on float inputs (N, C, H, W): the int8 inputs."""
        batch, single = as_batch(np.asarray(x), self.input_shape)
        inp = np.ascontiguousarray(batch, dtype=np.float32)
        out = np.empty(inp.shape, dtype=np.int8)
        fn = getattr(self.lib, self.generated.symbols.quantize_input)
        for i in range(len(inp)):
            _check_status(fn(self.ffi.from_buffer("float[]", inp[i]), self.ffi.from_buffer("int8_t[]", out[i])))
        return out[0] if single else out

    def __call__(self, x: np.ndarray, raw: bool = False):
        """Run the int8 C on ``x``, by the same dtype rule as :meth:`CompiledNetwork.__call__`:
        uint8 raw digits (through the C's integer ``<P>_preprocess``), float preprocessed inputs
        (quantized with the input scale and zero point), int8 already quantized inputs."""
        x = np.asarray(x)
        kind = input_kind(x, self.net.preprocess, int8=True)
        if kind == "pixels":
            x = self.preprocess(x)
        raw_out = self.run_int8(x if kind != "inputs" else self.qnet.quantize_input(x))
        y = self.qnet.dequantize_output(raw_out).astype(np.float32)
        return (y, raw_out) if raw else y


def build(
    gen: Generated, flags: tuple[str, ...], cc: tuple[str, ...] | None = None, threads: int = 1
) -> CompiledNetwork:
    """Compile the C of ``gen`` with ``flags`` (see :func:`lenetc.extension.host_flags`) and load
    it; a :class:`CompiledInt8Network` for an int8 plan.

    Builds are cached under :func:`lenetc.cache.cache_dir` by a hash of the generated source,
    the flags, the compiler and the Python ABI, so a second call with the same model loads in
    milliseconds.
    """
    symbols = gen.symbols
    source = ExtensionSource(symbols.prefix, gen.files, gen.declarations, f'#include "{symbols.header}"', tuple(flags))
    built = load_cached(source, cc)
    cls = CompiledInt8Network if gen.plan.qnet is not None else CompiledNetwork
    return cls(gen, built.module, built.directory, threads)
