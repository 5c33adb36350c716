"""MNIST: a checked reader for the idx format and the splits that ship with lenetc.

The four canonical MNIST files ship gzip-compressed in ``lenetc/data``; users who keep their
own copy point ``--data DIR`` or ``$LENETC_DATA`` at it. Every file is checked for its magic
number, its dimensions and the MD5 of its decompressed content before it is used, so a
truncated download or a foreign file fails with one clear line instead of bad accuracy.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import LenetcError

PACKAGE_DATA = Path(__file__).parent / "data"

#: idx type codes (third magic byte) -> big-endian NumPy dtype.
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True)
class IdxSpec:
    """What a canonical MNIST file must contain."""

    stem: str
    shape: tuple[int, ...]
    md5: str


#: The canonical files: split -> (images, labels). MD5 of the *decompressed* bytes.
MNIST_FILES: dict[str, tuple[IdxSpec, IdxSpec]] = {
    "train": (
        IdxSpec("train-images", (60000, 28, 28), "6bbc9ace898e44ae57da46a324031adb"),
        IdxSpec("train-labels", (60000,), "a25bea736e30d166cdddb491f175f624"),
    ),
    "test": (
        IdxSpec("t10k-images", (10000, 28, 28), "2646ac647ad5339dbf082846283269ea"),
        IdxSpec("t10k-labels", (10000,), "27ae3e4e09519cfbb04c329615203637"),
    ),
}


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise LenetcError(f"idx file '{path}' does not exist")
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise LenetcError(f"idx file '{path}' is a damaged or truncated gzip file ({exc})") from None


def parse_idx(data: bytes, source: str = "idx data") -> np.ndarray:
    """Decode idx bytes (magic 0x0000TTDD, DD big-endian uint32 dimensions, then the values)."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES or data[3] == 0:
        raise LenetcError(f"{source} is not an idx file (magic {data[:4].hex() or 'missing'}, expected 0000TTDD)")
    dtype, ndim = np.dtype(IDX_DTYPES[data[2]]), data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise LenetcError(f"{source} is truncated: {len(data)} bytes, the header alone needs {header}")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) < expected:
        raise LenetcError(f"{source} is truncated: {len(data)} bytes, dimensions {dims} need {expected}")
    if len(data) > expected:
        raise LenetcError(f"{source} has {len(data) - expected} bytes of trailing data after dimensions {dims}")
    return np.frombuffer(data, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def load_idx(path: str | Path, shape: tuple[int, ...] | None = None, md5: str | None = None) -> np.ndarray:
    """Read an idx file (gzip or not); check its ``shape`` and the ``md5`` of its content if given."""
    path = Path(path)
    data = _read_bytes(path)
    arr = parse_idx(data, f"idx file '{path}'")
    if shape is not None and arr.shape != tuple(shape):
        raise LenetcError(f"idx file '{path}' has dimensions {arr.shape}, expected {tuple(shape)}")
    if md5 is not None:
        digest = hashlib.md5(data).hexdigest()
        if digest != md5:
            raise LenetcError(f"idx file '{path}' has MD5 {digest}, expected {md5}: not the canonical MNIST file")
    return arr


def data_dir(directory: str | Path | None = None) -> Path:
    """``directory``, else ``$LENETC_DATA``, else the copy inside the package."""
    chosen = directory or os.environ.get("LENETC_DATA") or PACKAGE_DATA
    path = Path(chosen)
    if not path.is_dir():
        raise LenetcError(f"MNIST data directory '{path}' does not exist")
    return path


def find_file(directory: Path, stem: str) -> Path:
    """The file for ``stem`` under the usual spellings: ``stem.idxN-ubyte``, ``stem-idxN-ubyte``, +``.gz``."""
    kind = "idx3" if "images" in stem else "idx1"
    for sep in (".", "-"):
        for ext in ("", ".gz"):
            candidate = directory / f"{stem}{sep}{kind}-ubyte{ext}"
            if candidate.is_file():
                return candidate
    raise LenetcError(f"no MNIST file '{stem}.{kind}-ubyte[.gz]' in '{directory}'")


@lru_cache(maxsize=8)
def _mnist_cached(split: str, directory: str) -> tuple[np.ndarray, np.ndarray]:
    image_spec, label_spec = MNIST_FILES[split]
    base = Path(directory)
    images = load_idx(find_file(base, image_spec.stem), image_spec.shape, image_spec.md5)
    labels = load_idx(find_file(base, label_spec.stem), label_spec.shape, label_spec.md5)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def mnist(split: str = "test", directory: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST ``split`` ('train' or 'test') as (images uint8 (N, 28, 28), labels uint8 (N,)), read-only."""
    if split not in MNIST_FILES:
        raise LenetcError(f"unknown MNIST split '{split}' (expected 'train' or 'test')")
    return _mnist_cached(split, str(data_dir(directory).resolve()))


def mnist_inputs(net, n: int | None = None, split: str = "test", directory: str | Path | None = None):
    """The first ``n`` digits of ``split``, preprocessed for ``net``: (inputs float32 (n, C, H, W), labels)."""
    images, labels = mnist(split, directory)
    if n is not None:
        if n < 1:
            raise LenetcError(f"number of MNIST digits must be at least 1, got {n}")
        images, labels = images[:n], labels[:n]
    return preprocessed(net, images), labels.astype(np.int64)


def preprocessed(net, images: np.ndarray) -> np.ndarray:
    """uint8 digits (N, 28, 28) as ``net``'s inputs (its preprocessing), checked against its input shape."""
    inputs = net.preprocess.apply(images)
    if inputs.shape[1:] != tuple(net.input_shape):
        raise LenetcError(
            f"model '{net.name}' expects input {tuple(net.input_shape)}; "
            f"its MNIST preprocessing gives {inputs.shape[1:]}"
        )
    return inputs
