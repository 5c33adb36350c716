"""lenetc's own weights format: a NumPy ``.npz`` of ``<layer>.<suffix>`` arrays, optionally
carrying the architecture as a JSON string under ``__arch__``."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from .errors import LenetcError
from .fileio import write_file
from .network import ARCH_KEY, Network


def read_npz(path: str | Path) -> tuple[dict[str, np.ndarray], str | None]:
    """Read the arrays of an .npz file and its ``__arch__`` JSON (None if absent)."""
    path = Path(path)
    if not path.is_file():
        raise LenetcError(f"weights file '{path}' does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: np.array(data[key]) for key in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise LenetcError(f"cannot read weights file '{path}': {exc}") from None
    arch = arrays.pop(ARCH_KEY, None)
    return arrays, (str(arch) if arch is not None else None)


def params_from_arrays(net: Network, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Cast arrays to the canonical dtypes: float32 weights, uint8 tables."""
    out = {}
    for key, arr in arrays.items():
        if key.endswith(".table"):
            out[key] = np.asarray(arr).astype(np.uint8)
        elif not np.issubdtype(np.asarray(arr).dtype, np.number):
            raise LenetcError(f"weight '{key}' is not numeric (dtype {arr.dtype})")
        else:
            out[key] = np.asarray(arr, dtype=np.float32)
    return out


def load_npz(path: str | Path, architecture: Network | None = None) -> Network:
    """A network from an .npz; its architecture comes from ``__arch__`` or from ``architecture``."""
    arrays, arch = read_npz(path)
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
