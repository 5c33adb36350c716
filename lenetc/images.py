"""Loading a user's digit picture as an MNIST-style uint8 28x28 image.

PNG (and whatever else Pillow reads) needs Pillow; PGM (P2/P5) and ``.npy`` are read with
NumPy alone. A 28x28 picture is taken as it is (inverted if it is dark ink on a light
background); any other size is normalised the way MNIST was made: the ink's bounding box is
scaled to fit 20x20 (keeping the aspect ratio, averaging over each output pixel's area) and
placed in a 28x28 field so that its centre of mass is at the centre. A blank picture of any size
gives an empty field; :mod:`lenetc.digit_shape` rejects it.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from .errors import LenetcError
from .limits import MAX_IMAGE_PIXELS, check_image_pixels

MNIST_SIZE = 28
BOX_SIZE = 20


def load_digit(path: str | Path) -> np.ndarray:
    """A digit picture as uint8 (28, 28), white ink (255) on black (0), centred like MNIST."""
    path = Path(path)
    if path.is_dir():
        raise LenetcError(f"'{path}' is a folder, not an image (a folder of digits goes to eval/verify --inputs)")
    if not path.is_file():
        raise LenetcError(f"image '{path}' does not exist")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        gray = pixel_values(_read_npy(path), str(path))
    elif suffix in (".pgm", ".pnm"):
        gray = read_pgm(path)
    else:
        gray = _read_pillow(path)
    return to_mnist(gray, str(path))


def pixel_values(arr: np.ndarray, where: str) -> np.ndarray:
    """A numeric array of pixels as float64 grey levels 0..255, by the rule of every digit input
    (``predict`` files, ``--inputs``, ``--calib-data``): finite, within 0..255, and float arrays
    within 0..1 scaled by 255. Anything else is refused, never clipped into range."""
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise LenetcError(f"{where}: pixels must be real numbers, got dtype {arr.dtype}")
    a = arr.astype(np.float64)
    if a.size == 0:
        raise LenetcError(f"{where}: no pixels")
    if not np.isfinite(a).all():
        raise LenetcError(f"{where}: the digits hold NaN or Inf")
    if a.min() < 0 or a.max() > 255:
        raise LenetcError(f"{where}: pixels must be 0..255 (or 0..1), got {a.min():g}..{a.max():g}")
    if a.max() <= 1.0 and arr.dtype.kind == "f":
        a = a * 255.0
    return a


def to_mnist(gray: np.ndarray, source: str = "image") -> np.ndarray:
    """Grey levels in [0, 255] (any size) -> uint8 (28, 28) MNIST-style digit."""
    gray = np.asarray(gray, dtype=np.float64)
    if gray.ndim != 2 or min(gray.shape) < 1:
        raise LenetcError(f"{source}: expected a 2-D grey image, got shape {gray.shape}")
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.median(border) > 127.5:
        gray = 255.0 - gray  # dark ink on a light background: MNIST is light ink on black
    if gray.shape == (MNIST_SIZE, MNIST_SIZE):
        return np.clip(np.rint(gray), 0, 255).astype(np.uint8)
    ink = gray - gray.min()
    if ink.max() <= 0:  # blank: the same empty field as a blank 28x28 picture, for the same ink check
        return np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.uint8)
    rows = np.flatnonzero(ink.max(axis=1) > 0.1 * ink.max())
    cols = np.flatnonzero(ink.max(axis=0) > 0.1 * ink.max())
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = BOX_SIZE / max(crop.shape)
    out_h = max(1, round(crop.shape[0] * scale))
    out_w = max(1, round(crop.shape[1] * scale))
    box = resize_area(crop, out_h, out_w)
    box *= 255.0 / box.max()
    canvas = np.zeros((MNIST_SIZE, MNIST_SIZE))
    # Centre of mass of the box, then the integer offset that puts it at the field's centre.
    yy, xx = np.mgrid[0:out_h, 0:out_w]
    total = box.sum()
    cy, cx = (yy * box).sum() / total, (xx * box).sum() / total
    top = int(np.clip(round(MNIST_SIZE / 2 - 0.5 - cy), 0, MNIST_SIZE - out_h))
    left = int(np.clip(round(MNIST_SIZE / 2 - 0.5 - cx), 0, MNIST_SIZE - out_w))
    canvas[top : top + out_h, left : left + out_w] = box
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8)


def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights: how much of each input cell falls in each output cell's footprint."""
    edges_out = np.linspace(0.0, n_in, n_out + 1)
    lo = np.maximum(edges_out[:-1, None], np.arange(n_in)[None, :])
    hi = np.minimum(edges_out[1:, None], np.arange(n_in)[None, :] + 1)
    overlap = np.clip(hi - lo, 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def resize_area(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Resample by area averaging (anti-aliased when shrinking, box-like when enlarging)."""
    return _area_matrix(img.shape[0], out_h) @ img @ _area_matrix(img.shape[1], out_w).T


def npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype a .npy file states, checked against the file's size (nothing else is read)."""
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version in ((2, 0), (3, 0)):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise LenetcError(f"'{path}': unsupported .npy format version {version}")
            start = fh.tell()
        size = path.stat().st_size
    except (ValueError, OSError, EOFError) as exc:
        raise LenetcError(f"cannot read '{path}' as .npy: {exc}") from None
    if dtype.hasobject:
        raise LenetcError(f"'{path}': object arrays are not pictures")
    claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if claimed != size - start:
        raise LenetcError(
            f"'{path}': its header claims {shape} {dtype} ({claimed:,} bytes) but the file holds {size - start:,}"
        )
    return tuple(int(v) for v in shape), dtype


def _read_npy(path: Path) -> np.ndarray:
    shape, _ = npy_header(path)
    kept = [v for v in shape if v != 1]
    if len(kept) == 2:
        check_image_pixels(kept[0], kept[1], f"'{path}'")
    elif len(kept) > 2 or not kept:
        raise LenetcError(f"'{path}': expected a 2-D numeric array, got shape {shape}")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise LenetcError(f"cannot read '{path}' as .npy: {exc}") from None
    arr = np.squeeze(arr)
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.number):
        raise LenetcError(f"'{path}': expected a 2-D numeric array, got shape {arr.shape} dtype {arr.dtype}")
    return arr  # checked and scaled by pixel_values, the rule every digit input follows


def read_pgm(path: str | Path) -> np.ndarray:
    """Read a binary (P5) or plain (P2) PGM file as float grey levels in [0, 255]."""
    path = Path(path)
    data = path.read_bytes()
    tokens: list[bytes] = []
    pos = 0
    # Header: magic, width, height, maxval, separated by whitespace, '#' comments allowed.
    while len(tokens) < 4 and pos < len(data):
        ch = data[pos : pos + 1]
        if ch == b"#":
            end = data.find(b"\n", pos)
            pos = len(data) if end < 0 else end + 1
        elif ch.isspace():
            pos += 1
        else:
            start = pos
            while pos < len(data) and not data[pos : pos + 1].isspace() and data[pos : pos + 1] != b"#":
                pos += 1
            tokens.append(data[start:pos])
    if not tokens or tokens[0] not in (b"P2", b"P5"):
        raise LenetcError(f"'{path}' is not a PGM file (magic {tokens[0][:2] if tokens else b''!r}, expected P2 or P5)")
    try:
        width, height, maxval = (int(t) for t in tokens[1:4])
    except ValueError:
        raise LenetcError(f"'{path}': malformed PGM header") from None
    if width < 1 or height < 1 or not 0 < maxval < 65536:
        raise LenetcError(f"'{path}': bad PGM size {width}x{height} or maxval {maxval}")
    check_image_pixels(height, width, f"'{path}'")
    count = width * height
    if tokens[0] == b"P5":
        pos += 1  # exactly one whitespace byte after maxval
        dtype = np.dtype(">u2") if maxval > 255 else np.dtype("u1")
        need = count * dtype.itemsize
        if len(data) - pos < need:
            raise LenetcError(f"'{path}' is truncated: {len(data) - pos} pixel bytes, {width}x{height} needs {need}")
        values = np.frombuffer(data, dtype, count, pos).astype(np.float64)
    else:
        try:
            values = np.array([int(t) for t in data[pos:].split()[:count]], dtype=np.float64)
        except ValueError:
            raise LenetcError(f"'{path}': non-numeric pixel in plain PGM") from None
        if values.size < count:
            raise LenetcError(f"'{path}' is truncated: {values.size} pixels, {width}x{height} needs {count}")
    return values.reshape(height, width) * (255.0 / maxval)


def _read_pillow(path: Path) -> np.ndarray:
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise LenetcError(
            f"reading '{path.name}' needs Pillow (pip install pillow); PGM and .npy work without it"
        ) from None
    try:
        with warnings.catch_warnings():
            # the size is checked below, far under Pillow's bomb limits: no warning from Pillow
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow: "Image size (N pixels) exceeds ..."
        size = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise LenetcError(f"'{path}': {size}, more than lenetc reads ({MAX_IMAGE_PIXELS:,})") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise LenetcError(f"cannot read image '{path}': {exc}") from None
    try:
        with im:
            check_image_pixels(im.height, im.width, f"'{path}'")
            im.load()
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                # Transparent pixels count as paper: composite onto white.
                rgba = im.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                im = Image.alpha_composite(background, rgba)
            gray = np.asarray(im.convert("L"), dtype=np.float64)
    except (UnidentifiedImageError, OSError) as exc:
        raise LenetcError(f"cannot read image '{path}': {exc}") from None
    return gray
