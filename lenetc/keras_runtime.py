"""Run a Keras ``.keras``/``.h5`` file in Keras itself, for ``verify --against keras``: the model
the user trained, on the same inputs lenetc's C gets. Keras is an optional extra (``pip install
keras`` with a backend: jax, tensorflow or torch); without a configured backend, jax is used
when it is installed."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from .errors import LenetcError
from .network import Network

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


def _keras():
    if "KERAS_BACKEND" not in os.environ and importlib.util.find_spec("tensorflow") is None:
        if importlib.util.find_spec("jax") is not None:
            os.environ["KERAS_BACKEND"] = "jax"  # Keras 3 defaults to tensorflow, which may be absent
    try:
        import keras
    except ImportError:
        raise LenetcError("--against keras needs Keras 3 and a backend: pip install keras jax") from None
    return keras


def keras_outputs(path: str | Path, net: Network, x: np.ndarray) -> np.ndarray:
    """Keras's ``predict`` on the file at ``path`` for lenetc's inputs ``x`` (N, C, H, W).

    The inputs go back into the form the Keras model reads: channels last (or flat, for a model
    whose first layer is a Reshape of a vector), and raw pixels where the model's Rescaling layer
    is lenetc's preprocessing (``x = pixel * scale + offset`` undone exactly as stated)."""
    path = Path(path)
    if path.suffix.lower() not in KERAS_SUFFIXES:
        raise LenetcError(f"--against keras runs the Keras file itself: MODEL must be {', '.join(KERAS_SUFFIXES)}")
    keras = _keras()
    try:
        model = keras.saving.load_model(str(path), compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many kinds for a file it cannot rebuild
        raise LenetcError(f"Keras cannot load '{path}': {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    x = np.asarray(x, dtype=np.float64)
    if "Rescaling" in net.preprocess.source:
        x = (x - net.preprocess.offset) / net.preprocess.scale
    shape = tuple(model.inputs[0].shape[1:])
    batch = x.transpose(0, 2, 3, 1) if x.ndim == 4 else x  # lenetc's C,H,W to Keras's H,W,C
    if len(shape) == 3 and shape[0] == net.input_shape[0] and shape[0] != shape[-1]:
        batch = x  # a channels_first model reads C,H,W as lenetc does
    batch = batch.reshape(len(x), *shape).astype(np.float32)
    return np.asarray(model.predict(batch, verbose=0), dtype=np.float64).reshape(len(x), -1)
