"""Build generated C into a cffi extension module with the host C compiler, cached, and load it.

The cffi wrapper is emitted as C (``ffi.emit_c_code``) and compiled and linked here by
calling the compiler with ``cwd=`` the private build directory. cffi's own ``ffi.compile``
is not used: it changes the working directory of the whole process, so builds running in
several threads would write into each other's directories.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from importlib.machinery import ExtensionFileLoader
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path
from types import ModuleType

import cffi

from . import cache as build_cache
from .errors import LenetcError

#: Flags for the host build; the generated C itself needs none of them. -ffp-contract=off
#: forbids fusing a*b+c into one FMA (clang and GCC in GNU mode do it by default), so every
#: compiler and target rounds each operation and gives the same bits. -fno-trapping-math
#: changes no result (only floating-point exception flags) and lets GCC vectorise the
#: compares in tanh/sigmoid and the clamps.
HOST_FLAGS = ("-std=c99", "-O3", "-ffp-contract=off", "-fno-trapping-math", "-fPIC")
#: The cffi wrapper only converts arguments: no float arithmetic, no need for -O3.
WRAPPER_FLAGS = ("-O2", "-fPIC", "-DNDEBUG")
#: Part of every cache key: bump when the way an extension is built changes.
RECIPE = "cffi-emit-c/1"

_LOAD_LOCK = threading.Lock()


@dataclass(frozen=True)
class ExtensionSource:
    """What goes into one extension module.

    ``files`` are written into the build directory (each ``.c`` is compiled with ``flags``);
    ``declarations`` is the cffi ``cdef``; ``preamble`` is the C the cffi wrapper starts
    with (the ``#include`` lines of the headers in ``files``).
    """

    name: str
    files: dict[str, str]
    declarations: str
    preamble: str
    flags: tuple[str, ...]


@dataclass(frozen=True)
class BuiltExtension:
    """A loaded extension and the cache directory it was loaded from."""

    module: ModuleType
    directory: Path


def compiler() -> tuple[str, ...]:
    """The C compiler command: ``$CC`` (split like a shell would) or, unset, the compiler
    Python was built with, ``cc``, ``gcc`` or ``clang``, whichever is on ``PATH`` first."""
    if os.environ.get("CC", "").strip():
        try:
            words = tuple(shlex.split(os.environ["CC"]))
        except ValueError as exc:
            raise LenetcError(f"cannot parse $CC ({os.environ['CC']!r}): {exc}") from None
        if shutil.which(words[0]) is None:
            raise LenetcError(f"C compiler '{words[0]}' (from $CC) not found on PATH")
        return words
    python_cc = (sysconfig.get_config_var("CC") or "").split()
    candidates = dict.fromkeys([*python_cc[:1], "cc", "gcc", "clang"])
    for name in candidates:
        if shutil.which(name):
            return (name,)
    raise LenetcError(f"no C compiler found on PATH (tried {', '.join(candidates)}): install gcc or set CC")


@cache
def compiler_version(cc: tuple[str, ...]) -> str:
    """The first line of ``cc --version``, so that upgrading the compiler invalidates the cache."""
    try:
        proc = subprocess.run([*cc, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (proc.stdout.splitlines() or [""])[0]


@cache
def native_flags(cc: tuple[str, ...]) -> tuple[str, ...]:
    """``-march=native`` where the compiler accepts it (gcc, clang on x86 and Arm), else nothing."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "t.c"
        src.write_text("int main(void) { return 0; }\n")
        for flags in (("-march=native",), ("-mcpu=native",)):
            probe = subprocess.run([*cc, *flags, "-c", "t.c", "-o", "t.o"], capture_output=True, cwd=tmp)
            if probe.returncode == 0:
                return flags
    return ()


def host_flags(cc: tuple[str, ...]) -> tuple[str, ...]:
    """:data:`HOST_FLAGS` plus the host's SIMD flags."""
    return (*HOST_FLAGS, *native_flags(cc))


def load_cached(source: ExtensionSource, cc: tuple[str, ...] | None = None) -> BuiltExtension:
    """Load ``source`` as an extension module, from the build cache or freshly built into it.

    The cache key covers the sources, flags, compiler (command and version), cffi and the
    Python ABI; the module is named ``_lenetc_<name>_<key>``.
    """
    cc = cc or compiler()
    key = build_cache.make_key(
        RECIPE,
        *(f"{name}\0{text}" for name, text in sorted(source.files.items())),
        source.declarations,
        source.preamble,
        " ".join(source.flags),
        " ".join(cc),
        compiler_version(cc),
        cffi.__version__,
        sys.version,
        _ext_suffix(),
    )
    module_name = f"_lenetc_{source.name}_{key}"
    so = build_cache.extension_path(key, lambda directory: build(directory, module_name, source, cc))
    return BuiltExtension(load_module(module_name, so), so.parent)


def build(directory: Path, module_name: str, source: ExtensionSource, cc: tuple[str, ...]) -> Path:
    """Write and compile ``source`` in ``directory``; returns the extension's path there.

    Object files are deleted afterwards: the sources stay for reading, the ``.so`` for loading.
    """
    for name, text in source.files.items():
        (directory / name).write_text(text)
    ffi = cffi.FFI()
    ffi.cdef(source.declarations)
    # compiler_verbose reaches emit_c_code's recompile(): without it cffi prints "generating ..."
    ffi.set_source(module_name, source.preamble, compiler_verbose=False)
    wrapper = f"{module_name}.c"
    ffi.emit_c_code(str(directory / wrapper))
    includes = [f"-I{d}" for d in dict.fromkeys([*_python_includes(), "."])]
    jobs = [([*source.flags, "-I."], name) for name in source.files if name.endswith(".c")]
    jobs.append(([*WRAPPER_FLAGS, *includes], wrapper))
    with ThreadPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1)) as pool:
        objects = list(pool.map(lambda job: _compile_object(directory, cc, *job), jobs))
    so = f"{module_name}{_ext_suffix()}"
    _run(directory, [*cc, *_shared_flags(), *objects, "-lm", "-o", so], "linking the Python extension")
    _wrote(directory / so, cc)
    for obj in objects:
        (directory / obj).unlink()
    (directory / wrapper).unlink()
    return directory / so


def load_module(name: str, path: Path) -> ModuleType:
    """Import the extension at ``path`` as ``name`` (once per process: later calls reuse it)."""
    with _LOAD_LOCK:
        module = sys.modules.get(name)
        if module is None:
            loader = ExtensionFileLoader(name, str(path))
            module = module_from_spec(spec_from_file_location(name, str(path), loader=loader))
            try:
                loader.exec_module(module)
            except ImportError as exc:
                raise LenetcError(f"cannot load the compiled extension '{path}': {exc}") from None
            sys.modules[name] = module
    return module


def _compile_object(directory: Path, cc: tuple[str, ...], flags: Sequence[str], source: str) -> str:
    obj = source[:-2] + ".o"
    _run(directory, [*cc, *flags, "-c", source, "-o", obj], f"compiling {source}")
    _wrote(directory / obj, cc)
    return obj


def _wrote(path: Path, cc: tuple[str, ...]) -> None:
    """A compiler that exits 0 without writing its output (CC=true) is named, not the cache."""
    if not path.is_file():
        raise LenetcError(
            f"the C compiler '{' '.join(cc)}' reported success but wrote no '{path.name}' (is $CC a C compiler?)"
        )


def _run(directory: Path, argv: list[str], what: str) -> None:
    try:
        proc = subprocess.run(argv, cwd=directory, capture_output=True, text=True)
    except OSError as exc:
        raise LenetcError(f"{what} failed: cannot run '{argv[0]}': {exc.strerror}") from None
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[:3]
        raise LenetcError(f"{what} failed ({' '.join(argv[:1])} in {directory}): {' | '.join(tail)}")


def _python_includes() -> list[str]:
    paths = sysconfig.get_paths()
    includes = [paths["include"], paths.get("platinclude", paths["include"])]
    if not (Path(includes[0]) / "Python.h").is_file():
        raise LenetcError(f"Python.h not found in {includes[0]}: install the Python headers (python3-dev)")
    return includes


def _shared_flags() -> list[str]:
    return ["-bundle", "-undefined", "dynamic_lookup"] if sys.platform == "darwin" else ["-shared"]


def _ext_suffix() -> str:
    return sysconfig.get_config_var("EXT_SUFFIX") or ".so"
