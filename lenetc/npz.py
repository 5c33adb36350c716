"""lenetc's own weights format: a NumPy ``.npz`` of ``<layer>.<suffix>`` arrays, optionally
carrying the architecture as a JSON string under ``__arch__``."""

from __future__ import annotations

import io
import math
import zipfile
import zlib
from collections.abc import Callable, Collection
from pathlib import Path

import numpy as np

from .errors import LenetcError
from .fileio import write_file
from .names import shown
from .network import ARCH_KEY, Network

#: Most bytes all arrays of one .npz may decompress to. The largest zoo weights file holds 1.7 MB;
#: the limit only stops a file that claims (or, zip bomb, expands to) far more than a LeNet needs.
MAX_NPZ_BYTES = 256 * 2**20
#: Most arrays (members) in one .npz; a LeNet has a few dozen.
MAX_NPZ_MEMBERS = 4096


def read_npz(
    path: str | Path, expected: Callable[[str | None], Collection[str] | None] | None = None, what: str = "array"
) -> tuple[dict[str, np.ndarray], str | None]:
    """Read the arrays of an .npz file and its ``__arch__`` JSON (None if absent).

    Memory stays bounded whatever the file claims: the members' declared sizes must add up to
    at most :data:`MAX_NPZ_BYTES`, and each member's .npy header (shape, dtype) must describe
    exactly the bytes the member holds, all checked before any data is decompressed. With
    ``expected``, ``__arch__`` is read first and ``expected(arch)`` names the arrays the file
    may hold (None: any): any other member is refused before it is inflated, named as an
    unexpected ``what``.
    """
    path = Path(path)
    if not path.is_file():
        raise LenetcError(f"weights file '{path}' does not exist")
    try:
        with zipfile.ZipFile(path) as zf:
            members = _checked_members(zf, path)
            arrays = {}
            if expected is not None:
                for info in members.values():  # every header first: what each member claims
                    with zf.open(info) as fh:
                        _member_header(fh, info, path)
                if ARCH_KEY in members:
                    with zf.open(members[ARCH_KEY]) as fh:
                        arrays[ARCH_KEY] = _read_member(fh, members[ARCH_KEY], path)
                arch_text = str(arrays[ARCH_KEY]) if ARCH_KEY in arrays else None
                names = expected(arch_text)
                allowed = set(names) if names is not None else set(members)
                unknown = sorted(k for k in members if k not in allowed and k not in arrays)
                if unknown:
                    names = sorted(allowed - {ARCH_KEY})
                    listed = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
                    raise LenetcError(
                        f"unexpected {what} {shown(unknown[0])} in '{path}' (expected: {listed or 'none'}); "
                        "refused before reading it"
                    )
            for key, info in members.items():
                if key in arrays:
                    continue
                with zf.open(info) as fh:
                    arrays[key] = _read_member(fh, info, path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, zlib.error) as exc:
        raise LenetcError(f"cannot read weights file '{path}': {exc}") from None
    except NotImplementedError as exc:  # an unsupported compression method
        raise LenetcError(f"cannot read weights file '{path}': {exc}") from None
    arch = arrays.pop(ARCH_KEY, None)
    if arch is not None and (arch.dtype.kind != "U" or arch.ndim != 0):
        raise LenetcError(f"weights file '{path}': {ARCH_KEY} must be a string, not a {arch.dtype} array")
    return arrays, (str(arch) if arch is not None else None)


def npz_keys(path: str | Path) -> set[str]:
    """The array names an .npz holds (its members, nothing inflated)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return set(_checked_members(zf, Path(path)))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise LenetcError(f"cannot read '{path}': {exc}") from None


def _checked_members(zf: zipfile.ZipFile, path: Path) -> dict[str, zipfile.ZipInfo]:
    """The .npy members by key, after the count and total-size checks."""
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > MAX_NPZ_MEMBERS:
        raise LenetcError(f"weights file '{path}' has {len(infos):,} members (at most {MAX_NPZ_MEMBERS:,})")
    total = sum(i.file_size for i in infos)
    if total > MAX_NPZ_BYTES:
        raise LenetcError(
            f"weights file '{path}' decompresses to {total:,} bytes, more than lenetc's limit of "
            f"{MAX_NPZ_BYTES:,} (LeNet weights take a few MB)"
        )
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        if not info.filename.endswith(".npy"):
            raise LenetcError(f"weights file '{path}': member {shown(info.filename)} is not a .npy array")
        key = info.filename[: -len(".npy")]
        if key in members:
            raise LenetcError(f"weights file '{path}': array {shown(key)} appears twice")
        members[key] = info
    return members


def _member_header(fh, info: zipfile.ZipInfo, path: Path) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """A .npy member's shape, order, dtype and data bytes, checked against the member's size."""
    where = f"weights file '{path}', array {shown(info.filename)}"
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        raise LenetcError(f"{where}: unsupported .npy format version {version}")
    if dtype.kind not in "biufcUS" or dtype.hasobject:
        raise LenetcError(f"{where}: dtype {dtype} is not a plain number or string type")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes != info.file_size - fh.tell():
        raise LenetcError(
            f"{where}: header declares shape {shape} of {dtype} ({nbytes:,} bytes) "
            f"but the member holds {info.file_size - fh.tell():,} bytes of data"
        )
    return shape, fortran, dtype, nbytes


def _read_member(fh, info: zipfile.ZipInfo, path: Path) -> np.ndarray:
    """One .npy member: header first, then exactly the bytes it declares (no pickles)."""
    where = f"weights file '{path}', array {shown(info.filename)}"
    shape, fortran, dtype, nbytes = _member_header(fh, info, path)
    buf = bytearray(nbytes)
    if fh.readinto(buf) != nbytes:
        raise LenetcError(f"{where} is truncated")
    return np.frombuffer(buf, dtype).reshape(shape, order="F" if fortran else "C")


def params_from_arrays(net: Network, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Cast arrays to the canonical dtypes: float32 weights, uint8 tables."""
    out = {}
    for key, arr in arrays.items():
        arr = np.asarray(arr)
        if not np.issubdtype(arr.dtype, np.number) and not (arr.dtype == np.bool_ and key.endswith(".table")):
            raise LenetcError(f"weight {shown(key)} is not numeric (dtype {arr.dtype})")
        if np.issubdtype(arr.dtype, np.complexfloating):
            raise LenetcError(f"weight {shown(key)} is complex (dtype {arr.dtype}); weights are real numbers")
        if key.endswith(".table"):
            # checked as stored: a cast first would make 257 and 1.5 look like 1
            if arr.size and not np.isin(arr, (0, 1)).all():
                bad = arr.reshape(-1)[~np.isin(arr.reshape(-1), (0, 1))][0]
                raise LenetcError(f"connection table {shown(key)} holds {bad.item()!r}; its entries must be 0 or 1")
            out[key] = arr.astype(np.uint8)
            continue
        if arr.dtype.kind == "f" and arr.dtype.itemsize > 4 and arr.size:
            finite = arr[np.isfinite(arr)]
            big = float(np.abs(finite).max()) if finite.size else 0.0
            if big > float(np.finfo(np.float32).max):
                raise LenetcError(f"weight {shown(key)} holds {big:g}, beyond float32's range (3.4e38)")
        out[key] = arr.astype(np.float32)
    return out


def load_npz(path: str | Path, architecture: Network | None = None) -> Network:
    """A network from an .npz; its architecture comes from ``__arch__`` or from ``architecture``."""

    def expected(arch_text: str | None) -> set[str] | None:
        if architecture is None and arch_text is None:
            return None  # the error below names what is missing
        shape = architecture or Network.from_arch_json(arch_text)  # type: ignore[arg-type]
        return {ARCH_KEY, *shape.expected_params()}

    arrays, arch = read_npz(path, expected, what="weight")
    if architecture is not None:
        base = architecture
    elif arch is not None:
        base = Network.from_arch_json(arch)
    else:
        raise LenetcError(
            f"weights file '{path}' has no {ARCH_KEY} entry: name the model (e.g. lenet5 --weights {path})"
        )
    net = Network(base.name, base.input_shape, list(base.layers), {}, base.preprocess)
    net.params = params_from_arrays(net, arrays)
    return net.validate(source=str(path))


def save_npz(net: Network, path: str | Path) -> Path:
    """Write ``net``'s parameters and architecture to ``path`` atomically, with the umask's mode."""
    net.validate()
    arrays = {key: np.ascontiguousarray(arr) for key, arr in sorted(net.params.items())}
    arrays[ARCH_KEY] = np.array(net.arch_json())
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return write_file(path, buffer.getvalue())
