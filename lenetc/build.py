"""Compile generated C into a Python extension with cffi, cached on disk by content hash."""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from functools import cache
from pathlib import Path

import cffi
import numpy as np

from .codegen.artifact import Generated
from .errors import LenetcError
from .reference import as_batch, predict_classes

#: Flags for the host build; the generated C itself needs none of them. -ffp-contract=off is
#: the float policy (only the explicit fmaf calls fuse; clang contracts by default, and
#: -std=c99 stops only GCC). -fno-trapping-math changes no result (only floating-point
#: exception flags) and lets GCC vectorise the compares in tanh/sigmoid and the clamps.
HOST_FLAGS = ("-std=c99", "-O3", "-ffp-contract=off", "-fno-trapping-math", "-fPIC")

#: What the entry points' status codes mean (see the generated header).
STATUS_MESSAGES = {
    -1: "a NULL pointer was passed",
    -2: "the workspace is misaligned",
    -3: "the image count is negative",
    -4: "an input value is NaN or Inf (the generated C refuses non-finite input)",
}


def _check_status(status: int) -> None:
    if status != 0:
        raise LenetcError(f"generated C returned status {status}: {STATUS_MESSAGES.get(status, 'unknown status')}")


def check_finite(x: np.ndarray) -> None:
    """Refuse NaN and Inf in a float input, as the C does, naming the first bad element."""
    bad = ~np.isfinite(x)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise LenetcError(f"input holds NaN or Inf (first at index {where}): lenetc refuses non-finite input")


def cache_dir() -> Path:
    """``$LENETC_CACHE``, else ``$XDG_CACHE_HOME/lenetc``, else ``~/.cache/lenetc``."""
    if os.environ.get("LENETC_CACHE"):
        return Path(os.environ["LENETC_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lenetc"


def compiler() -> str:
    return os.environ.get("CC") or sysconfig.get_config_var("CC").split()[0] or "cc"


@cache
def native_flags(cc: str) -> tuple[str, ...]:
    """``-march=native`` where the compiler accepts it (gcc, clang on x86 and Arm), else nothing."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "t.c"
        src.write_text("int main(void) { return 0; }\n")
        for flags in (("-march=native",), ("-mcpu=native",)):
            probe = subprocess.run([cc, *flags, "-c", str(src), "-o", str(Path(tmp) / "t.o")], capture_output=True)
            if probe.returncode == 0:
                return flags
    return ()


class CompiledNetwork:
    """The generated C of a network, compiled and loaded: call it on NumPy arrays.

    ``net(x)`` takes (N, C, H, W), (N, H, W), (C, H, W) or (H, W) and returns float32
    outputs (N, classes), or (classes,) for one image. The batch loop runs in C with the GIL
    released; each call has its own workspace, so calls from several threads are safe.
    """

    def __init__(self, gen: Generated, module, build_dir: Path):
        plan = gen.plan
        self.generated, self.net, self.plan, self.build_dir = gen, plan.net, plan, build_dir
        self.ffi, self.lib = module.ffi, module.lib
        self._run_batch = getattr(self.lib, gen.symbols.run_batch)
        self.input_shape = tuple(plan.net.input_shape)
        self.output_size = plan.output_size
        self.arena_bytes = plan.arena_bytes
        self.align = plan.dialect.align

    def workspace(self) -> np.ndarray:
        """A fresh workspace of ``arena_bytes`` bytes aligned as the C requires."""
        raw = np.empty(self.arena_bytes + self.align, dtype=np.uint8)
        skip = -raw.ctypes.data % self.align
        return raw[skip : skip + max(self.arena_bytes, 1)]

    @property
    def source_files(self) -> list[Path]:
        return [self.build_dir / self.generated.symbols.source, self.build_dir / self.generated.symbols.header]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        batch, single = as_batch(x, self.input_shape)
        inp = np.ascontiguousarray(batch, dtype=np.float32)
        check_finite(inp)
        n = inp.shape[0]
        out = np.empty((n, self.output_size), dtype=np.float32)
        status = self._run_batch(
            self.ffi.from_buffer("float[]", inp),
            self.ffi.from_buffer("float[]", out),
            n,
            self.ffi.from_buffer("unsigned char[]", self.workspace()),
        )
        _check_status(status)
        return out[0] if single else out

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class indices (argmin for RBF distances, argmax otherwise)."""
        return predict_classes(self.net, self(x))


class CompiledInt8Network(CompiledNetwork):
    """``net(x)`` quantizes float input with the input scale/zero point, runs the int8 C and
    returns dequantized float outputs (softmax re-applied when the float model ends in one).
    ``net.run_int8(q)`` takes int8 input and returns the raw C output (int8 logits or int32
    RBF distances). ``net(x, raw=True)`` returns (float output, raw output)."""

    def __init__(self, gen: Generated, module, build_dir: Path):
        super().__init__(gen, module, build_dir)
        self.qnet = gen.plan.qnet
        self.out_dtype = np.int32 if gen.plan.out_ctype == "int32_t" else np.int8

    def run_int8(self, xq: np.ndarray) -> np.ndarray:
        batch, single = as_batch(xq, self.input_shape)
        if batch.dtype != np.int8:
            raise LenetcError(f"run_int8 needs int8 input, got {batch.dtype}")
        inp = np.ascontiguousarray(batch)
        n = inp.shape[0]
        out = np.empty((n, self.output_size), dtype=self.out_dtype)
        status = self._run_batch(
            self.ffi.from_buffer("int8_t[]", inp),
            self.ffi.from_buffer("int32_t[]" if self.out_dtype == np.int32 else "int8_t[]", out),
            n,
            self.ffi.from_buffer("unsigned char[]", self.workspace()),
        )
        _check_status(status)
        return out[0] if single else out

    def __call__(self, x: np.ndarray, raw: bool = False):
        x = np.asarray(x)
        raw_out = self.run_int8(x if x.dtype == np.int8 else self.qnet.quantize_input(x))
        y = self.qnet.dequantize_output(raw_out).astype(np.float32)
        return (y, raw_out) if raw else y


def _load_module(name: str, path: Path):
    loader = importlib.machinery.ExtensionFileLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, str(path), loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _build(build_dir: Path, files: dict[str, str], declarations: str, prefix: str, mod_name: str, flags: list[str]):
    cc = compiler()
    for fname, text in files.items():
        (build_dir / fname).write_text(text)
    obj = build_dir / f"{prefix}.o"
    proc = subprocess.run(
        [cc, *flags, "-c", str(build_dir / f"{prefix}.c"), "-o", str(obj)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise LenetcError(f"compiling generated C failed ({cc}): {proc.stderr.strip().splitlines()[0:3]}")
    ffi = cffi.FFI()
    ffi.cdef(declarations)
    ffi.set_source(
        mod_name, f'#include "{prefix}.h"', include_dirs=[str(build_dir)], extra_objects=[str(obj)], libraries=["m"]
    )
    try:
        so = ffi.compile(tmpdir=str(build_dir), verbose=False)
    except Exception as exc:  # cffi raises distutils/setuptools errors of several kinds
        raise LenetcError(f"building the Python extension failed: {exc}") from None
    return Path(so)


def build(gen: Generated, flags: list[str] | None = None) -> CompiledNetwork:
    """Compile (``-O3`` plus the host's SIMD flags, unless ``flags`` are given) and load the C
    of ``gen``; a :class:`CompiledInt8Network` for an int8 plan.

    Builds are cached under :func:`cache_dir` by a hash of the generated source, the flags,
    the compiler and the Python ABI, so a second call with the same model loads in milliseconds.
    """
    plan, files, declarations = gen.plan, gen.files, gen.declarations
    cc = compiler()
    flags = list(flags) if flags is not None else [*HOST_FLAGS, *native_flags(cc)]
    key_src = "\0".join(
        [
            *files.values(),
            declarations,
            " ".join(flags),
            cc,
            cffi.__version__,
            sys.version,
            sysconfig.get_config_var("EXT_SUFFIX") or "",
        ]
    )
    key = hashlib.sha256(key_src.encode()).hexdigest()[:20]
    mod_name = f"_lenetc_{plan.prefix}_{key}"
    final_dir = cache_dir() / key
    ext = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    so = final_dir / f"{mod_name}{ext}"
    if not so.is_file():
        cache_dir().mkdir(parents=True, exist_ok=True)
        tmp_dir = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=cache_dir()))
        try:
            built = _build(tmp_dir, files, declarations, plan.prefix, mod_name, flags)
            if built.name != so.name:
                built.rename(tmp_dir / so.name)
            try:
                tmp_dir.rename(final_dir)  # atomic publish; a concurrent builder may have won
            except OSError:
                pass
        finally:
            if tmp_dir.exists():
                shutil.rmtree(tmp_dir, ignore_errors=True)
    module = sys.modules.get(mod_name) or _load_module(mod_name, so)
    sys.modules[mod_name] = module
    cls = CompiledInt8Network if plan.qnet is not None else CompiledNetwork
    return cls(gen, module, final_dir)
