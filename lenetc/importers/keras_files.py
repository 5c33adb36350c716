"""Reading Keras model files without TensorFlow: the config and each layer's weight arrays.

* Keras 2 (and Keras 3's legacy) ``.h5``: the root attribute ``model_config`` (JSON) describes
  the model; group ``model_weights/<layer name>`` lists its arrays in attribute ``weight_names``.
  Layer names are unique within a model, so the name is the right key.
* Keras 3 ``.keras``: a zip of ``config.json`` and ``model.weights.h5``. Keras 3 does *not*
  store a layer under its name: ``model.layers`` (the Sequential's layers without its
  InputLayer) are stored in order at ``layers/<snake-case class name>`` with a per-model
  counter per class, ``conv2d``, ``conv2d_1``, ``dense``, ... and the arrays at ``vars/0``,
  ``vars/1``... in creation order. The config name (``conv2d_7`` in a process that built other
  models first, or anything the user chose) may equal another layer's storage path, so only
  the storage path is used; recent Keras versions also record the layer's name on the
  ``vars`` group, and a mismatch there is an error.

Memory stays bounded: the zip members and every HDF5 dataset are size-checked before reading.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LenetcError
from ..names import shown
from .hdf5_guard import check_hdf5

#: Most bytes lenetc reads from one Keras file (config plus weights); LeNets need a few MB.
MAX_KERAS_BYTES = 256 * 2**20


def _h5py():
    try:
        import h5py
    except ImportError:  # pragma: no cover - depends on the environment
        raise LenetcError("reading Keras files needs h5py: pip install lenetc[keras]") from None
    return h5py


def snake_case(class_name: str) -> str:
    """Keras 3's storage name of a layer class: ``Conv2D`` -> ``conv2d``, ``MaxPooling2D`` ->
    ``max_pooling2d``, ``BatchNormalization`` -> ``batch_normalization``."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def storage_paths(layers: list[dict[str, Any]]) -> list[str | None]:
    """Where Keras 3 stores each config layer's weights (None for the Sequential's InputLayer)."""
    counts: dict[str, int] = {}
    paths: list[str | None] = []
    for i, layer in enumerate(layers):
        kind = str(layer.get("class_name", ""))
        if i == 0 and kind == "InputLayer":
            paths.append(None)
            continue
        base = snake_case(kind)
        k = counts.get(base, -1) + 1
        counts[base] = k
        paths.append(f"layers/{base}" if k == 0 else f"layers/{base}_{k}")
    return paths


class KerasWeights:
    """Per-layer weight arrays from either file layout."""

    def __init__(self, h5, keras3: bool, source: Path):
        self.h5, self.keras3, self.source = h5, keras3, source
        self.read_bytes = 0

    def get(self, name: str, storage: str | None) -> list[np.ndarray]:
        """The arrays of config layer ``name`` stored at ``storage`` (Keras 3) or under ``name`` (.h5)."""
        if self.keras3:
            return self._keras3(name, storage)
        root = self.h5["model_weights"] if "model_weights" in self.h5 else self.h5
        if name not in root:
            return []
        group = root[name]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs.get("weight_names", [])]
        return [self._array(group, n) for n in names]

    def _keras3(self, name: str, storage: str | None) -> list[np.ndarray]:
        if storage is None:
            return []
        group = self.h5.get(f"{storage}/vars")
        if group is None and "_layer_checkpoint_dependencies" in self.h5:  # files written by Keras 2.13
            group = self.h5.get(storage.replace("layers", "_layer_checkpoint_dependencies", 1) + "/vars")
        if group is None:
            return []
        recorded = group.attrs.get("name")
        if isinstance(recorded, bytes):
            recorded = recorded.decode("utf-8", "replace")
        if recorded is not None and str(recorded) != name:
            raise LenetcError(
                f"the weights stored at '{storage}' belong to layer {shown(str(recorded))}: "
                "the config and the weights file disagree"
            )
        keys = list(group)
        if not all(re.fullmatch("[0-9]+", k) for k in keys):
            raise LenetcError(f"'{storage}/vars' holds {shown(keys)}, expected arrays named 0, 1, ...")
        return [self._array(group, k) for k in sorted(keys, key=int)]

    def _array(self, group, key: str) -> np.ndarray:
        dataset = group[key]
        if not hasattr(dataset, "dtype") or dataset.dtype.kind not in "biuf":
            raise LenetcError(f"weight '{dataset.name}' is not a numeric array")
        self.read_bytes += int(dataset.size) * dataset.dtype.itemsize
        if self.read_bytes > MAX_KERAS_BYTES:
            raise LenetcError(f"'{self.source}' holds more than {MAX_KERAS_BYTES:,} bytes of weights")
        return np.array(dataset)


def _member(zf: zipfile.ZipFile, name: str, path: Path) -> bytes:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise LenetcError(f"'{path}' is not a Keras 3 file: it has no {name}") from None
    if info.file_size > MAX_KERAS_BYTES:
        raise LenetcError(f"'{path}': {name} decompresses to {info.file_size:,} bytes (at most {MAX_KERAS_BYTES:,})")
    return zf.read(info)


def _json(raw: object, what: str, path: Path) -> dict[str, Any]:
    if isinstance(raw, np.ndarray) and raw.ndim == 0:
        raw = raw.item()
    if not isinstance(raw, (bytes, str)):
        raise LenetcError(f"'{path}': {what} must be JSON text, not {type(raw).__name__}")
    try:
        config = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except RecursionError:
        raise LenetcError(f"'{path}': {what} is nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise LenetcError(f"'{path}': {what} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except ValueError as exc:
        raise LenetcError(f"'{path}': {what} is not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise LenetcError(f"'{path}': {what} must be a JSON object, not {type(config).__name__}")
    return config


def read_keras(path: Path) -> tuple[dict[str, Any], KerasWeights]:
    """The model config and its weights; the caller closes ``weights.h5``."""
    h5py = _h5py()
    try:
        if path.suffix.lower() == ".keras":
            with zipfile.ZipFile(path) as zf:
                config = _json(_member(zf, "config.json", path), "config.json", path)
                blob = _member(zf, "model.weights.h5", path)
            h5 = h5py.File(io.BytesIO(blob), "r")
        else:
            config = None
            h5 = h5py.File(path, "r")
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError) as exc:
        raise LenetcError(f"'{path}' is not a readable Keras model ({str(exc).splitlines()[0]})") from None
    try:
        check_hdf5(h5py, h5, path)
        if config is not None:
            return config, KerasWeights(h5, True, path)
        raw = h5.attrs.get("model_config")
        if raw is None:
            raise LenetcError(f"'{path}' has no model_config: a weights-only .h5 file cannot be imported")
        return _json(raw, "model_config", path), KerasWeights(h5, False, path)
    except BaseException:
        h5.close()
        raise
