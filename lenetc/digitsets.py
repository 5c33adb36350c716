"""Sets of the user's own digits, for calibration (``--calib-data``) and for ``eval``/``verify``
(``--inputs``), in three documented forms:

- ``FILE.npy``: an array (N, 28, 28) of pixels 0..255 (uint8, or numbers in that range; floats
  in [0, 1] are scaled by 255), MNIST style: light ink on black. Other sizes (N, H, W) are
  resized and centred like ``lenetc predict`` does. No labels.
- ``FILE.npz``: ``images`` as above and, optionally, ``labels`` (N,) integers 0..9.
- ``DIR``: picture files (PNG, PGM, JPEG, .npy; any size, light or dark ink: each is resized and
  centred like MNIST). Labels, if any, from ``DIR/labels.csv`` (lines ``file,label``, relative to
  DIR, an optional header line ``file,label``; only the files it lists are used) or from
  sub-folders named ``0`` .. ``9``; else unlabelled, every picture in DIR in name order.

Sizes are bounded (:data:`MAX_BYTES` of pixels, checked from the .npy header before reading).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import LenetcError
from .images import load_digit, to_mnist
from .limits import check_image_pixels
from .npz import MAX_NPZ_BYTES, npz_keys, read_npz

#: Largest pixel array read from a .npy (the same bound as a .npz).
MAX_BYTES = MAX_NPZ_BYTES
#: The arrays a digits .npz may hold; any other member is refused before it is inflated.
DIGIT_MEMBERS = frozenset({"images", "labels"})
PICTURE_SUFFIXES = (".png", ".pgm", ".pnm", ".jpg", ".jpeg", ".bmp", ".npy")


@dataclass(frozen=True)
class DigitSet:
    """uint8 digits (N, 28, 28), their labels (N,) or None, and where they came from."""

    images: np.ndarray
    labels: np.ndarray | None
    source: str

    def first(self, n: int | None) -> DigitSet:
        """The first ``n`` digits (all with None)."""
        if n is None:
            return self
        if n < 1:
            raise LenetcError(f"number of digits must be at least 1, got {n}")
        labels = None if self.labels is None else self.labels[:n]
        return DigitSet(self.images[:n], labels, self.source)

    def describe(self) -> str:
        return f"{len(self.images):,} digits from {self.source}"


def _pixels(arr: np.ndarray, where: str) -> np.ndarray:
    """An (N, H, W) numeric array as uint8 MNIST digits (N, 28, 28). Converted one image at a
    time: a float64 copy of the whole array would cost 8 times a uint8 file's bytes."""
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or not np.issubdtype(arr.dtype, np.number) or arr.shape[0] < 1:
        raise LenetcError(f"{where}: expected digits (N, 28, 28), got shape {arr.shape} dtype {arr.dtype}")
    if arr.dtype == np.uint8 and arr.shape[1:] == (28, 28):
        return arr
    if np.iscomplexobj(arr):
        raise LenetcError(f"{where}: pixels must be real numbers, got {arr.dtype}")
    check_image_pixels(arr.shape[1], arr.shape[2], f"{where}: each image")
    if arr.dtype.kind == "f" and not all(np.isfinite(img).all() for img in arr):
        raise LenetcError(f"{where}: the digits hold NaN or Inf")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0 or hi > 255:
        raise LenetcError(f"{where}: pixels must be 0..255 (or 0..1), got {lo:g}..{hi:g}")
    scale = 255.0 if hi <= 1.0 and arr.dtype.kind == "f" else 1.0
    out = np.empty((arr.shape[0], 28, 28), dtype=np.uint8)
    for i, img in enumerate(arr):
        a = img.astype(np.float64) * scale
        out[i] = np.rint(a).astype(np.uint8) if a.shape == (28, 28) else to_mnist(a, f"{where}[{i}]")
    return out


def _labels(values, n: int, where: str) -> np.ndarray:
    labels = np.asarray(values)
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise LenetcError(f"{where}: labels must be {n} integers, got shape {labels.shape} dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() > 9:
        raise LenetcError(f"{where}: labels must be digits 0..9, got {labels.min()}..{labels.max()}")
    return labels.astype(np.int64)


def _npy_shape(path: Path) -> tuple[int, ...]:
    """The shape a .npy file's header states (nothing else is read)."""
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            return tuple(read_header(fh)[0])
    except (ValueError, OSError, EOFError) as exc:
        raise LenetcError(f"cannot read '{path}' as .npy: {exc}") from None


def is_digit_batch(path: str | Path) -> bool:
    """Whether ``path`` is a .npy holding several digits (N, 28, 28) rather than one picture."""
    p = Path(path)
    if p.suffix.lower() != ".npy" or not p.is_file():
        return False
    return len(_npy_shape(p)) == 3


def _read_npy(path: Path) -> np.ndarray:
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read_header(fh)
            if dtype.hasobject:
                raise LenetcError(f"'{path}': object arrays are not digits")
            if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize > MAX_BYTES:
                raise LenetcError(f"'{path}': {shape} {dtype} is more than {MAX_BYTES >> 20} MiB of pixels")
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise LenetcError(f"cannot read digits from '{path}': {exc}") from None


def _pictures(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in PICTURE_SUFFIXES)


def _read_dir(directory: Path) -> tuple[np.ndarray, np.ndarray | None]:
    listing = directory / "labels.csv"
    if listing.is_file():
        files, labels = [], []
        with open(listing, newline="") as fh:
            for row_no, row in enumerate(csv.reader(fh), 1):
                if not row or (row_no == 1 and row[0].strip().lower() == "file"):
                    continue
                if len(row) != 2 or not re.fullmatch("[0-9]+", row[1].strip()):  # not isdigit: '²' is one
                    raise LenetcError(f"{listing}, line {row_no}: expected 'file,label', got {','.join(row)!r}")
                name = row[0].strip()
                inside = directory.resolve()
                if Path(name).is_absolute() or inside not in (directory / name).resolve().parents:
                    raise LenetcError(
                        f"{listing}, line {row_no}: {name!r} is outside its folder (labels.csv lists its own files)"
                    )
                files.append(directory / name)
                labels.append(int(row[1]))
        if not files:
            raise LenetcError(f"{listing} lists no digits")
        return np.stack([load_digit(f) for f in files]), _labels(labels, len(files), str(listing))
    classes = [directory / str(d) for d in range(10) if (directory / str(d)).is_dir()]
    if classes:
        pairs = [(p, int(c.name)) for c in classes for p in _pictures(c)]
        if not pairs:
            raise LenetcError(f"'{directory}': the digit folders 0..9 hold no pictures")
        images = np.stack([load_digit(p) for p, _ in pairs])
        return images, _labels([d for _, d in pairs], len(pairs), str(directory))
    files = _pictures(directory)
    if not files:
        raise LenetcError(
            f"'{directory}' holds no pictures ({', '.join(PICTURE_SUFFIXES)}), labels.csv or 0..9 folders"
        )
    return np.stack([load_digit(p) for p in files]), None


def load_digit_set(path: str | Path) -> DigitSet:
    """The digits at ``path`` (see the module's docstring for the forms)."""
    p = Path(path)
    if p.is_dir():
        images, labels = _read_dir(p)
    elif not p.is_file():
        raise LenetcError(f"digits '{p}' do not exist (a folder of pictures, FILE.npy or FILE.npz)")
    elif p.suffix.lower() == ".npy":
        images, labels = _pixels(_read_npy(p), str(p)), None
    elif p.suffix.lower() == ".npz":
        if "images" not in npz_keys(p):
            raise LenetcError(f"'{p}': a digits .npz needs an 'images' array (and optionally 'labels')")
        arrays, _ = read_npz(p, expected=lambda _arch: DIGIT_MEMBERS)
        images = _pixels(arrays["images"], f"{p}: images")
        labels = _labels(arrays["labels"], len(images), f"{p}") if "labels" in arrays else None
    else:
        raise LenetcError(f"'{p}': digits come as a folder of pictures, FILE.npy or FILE.npz")
    images.setflags(write=False)
    return DigitSet(images, labels, str(p))
