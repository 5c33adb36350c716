"""Builds channels_first Keras models and saves them as Keras itself does (.keras and .h5), for
tests/test_hardening_answers.py (issue 21 item 7).

Run as ``KERAS_BACKEND=jax python tests/keras_layout_models.py OUT_DIR``. OUT_DIR/<model>.npz
holds the inputs (as the models take them: N, C, H, W for channels_first ones) and Keras's own
``predict`` outputs. Models whose layout lenetc must refuse are saved without a reference.
"""

from __future__ import annotations

import os
import sys

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
from keras import layers as L  # noqa: E402

CF = "channels_first"


def cf_flat() -> keras.Sequential:
    """Conv2D -> Flatten (its default data_format, channels_last: flattens as stored, C,H,W) -> Dense."""
    return keras.Sequential(
        [keras.Input((1, 12, 12)), L.Conv2D(4, 3, data_format=CF, activation="relu"), L.Flatten(), L.Dense(10)]
    )


def cf_pool() -> keras.Sequential:
    """With pooling, BatchNorm on the channel axis, and a Flatten told channels_first (which
    Keras moves the channels last before flattening: H,W,C order)."""
    return keras.Sequential(
        [
            keras.Input((2, 14, 14)),
            L.Conv2D(6, 3, data_format=CF, activation="tanh"),
            L.MaxPooling2D(2, data_format=CF),
            L.BatchNormalization(axis=1),
            L.Conv2D(5, 3, padding="same", data_format=CF),
            L.AveragePooling2D(2, data_format=CF),
            L.Flatten(data_format=CF),
            L.Dense(8, activation="relu"),
            L.Dense(10, activation="softmax"),
        ]
    )


def mixed() -> keras.Sequential:
    """A channels_first convolution followed by a channels_last pooling: Keras pools over W and C."""
    return keras.Sequential(
        [
            keras.Input((3, 10, 10)),
            L.Conv2D(4, 3, data_format=CF),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(10),
        ]
    )


def last_then_cf_flatten() -> keras.Sequential:
    """A channels_last tensor flattened by a Flatten told channels_first: a W,C,H order."""
    return keras.Sequential([keras.Input((8, 8, 2)), L.Conv2D(3, 3), L.Flatten(data_format=CF), L.Dense(10)])


def api_names() -> keras.Sequential:
    """Layer names that spell lenetc's C API or another layer's constant (issue 21 item 12)."""
    return keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            L.Conv2D(4, 3, activation="relu", name="conv1"),
            L.Conv2D(4, 3, name="conv1_weight"),
            L.MaxPooling2D(2, name="run"),
            L.Activation("tanh", name="PROBE"),
            L.Flatten(name="preprocess"),
            L.Dense(12, activation="relu", name="workspace_size"),
            L.Dense(10, name="predict"),
        ]
    )


def randomise(model: keras.Sequential, rng: np.random.Generator) -> None:
    """Every weight random (biases non-zero; BatchNorm variances positive)."""
    for layer in model.layers:
        values = []
        for w in layer.get_weights():
            v = rng.normal(0.0, 0.3, w.shape)
            values.append((np.abs(v) + 0.5 if "normalization" in layer.name else v).astype(np.float32))
        layer.set_weights(values)


def main(out: str) -> None:
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    models = {
        "cf_flat": cf_flat(),
        "cf_pool": cf_pool(),
        "mixed": mixed(),
        "last_cf": last_then_cf_flatten(),
        "api_names": api_names(),
    }
    for name, model in models.items():
        randomise(model, rng)
        shape = model.inputs[0].shape[1:]
        x = rng.uniform(0.0, 1.0, (16, *shape)).astype(np.float32)
        np.savez(os.path.join(out, f"{name}.npz"), x=x, y=np.asarray(model.predict(x, verbose=0)))
        model.save(os.path.join(out, f"{name}.keras"))
        model.save(os.path.join(out, f"{name}.h5"))  # Keras 3's legacy HDF5 format


if __name__ == "__main__":
    main(sys.argv[1])
