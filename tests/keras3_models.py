"""Builds Keras 3 models and saves them as Keras itself does, for tests/test_keras3_files.py.

Run as ``KERAS_BACKEND=jax python tests/keras3_models.py OUT_DIR``. All models are built in
this one process, so Keras's per-process name counters advance (the second Conv2D built is
``conv2d_1`` and so on), while the weights file stores each layer under its class's snake-case
name with a per-model counter. ``collide`` names its layers after other layers' storage names.
Every weight (biases included) is set from a fixed seed; OUT_DIR/<model>.npz holds the inputs
(N, H, W, C) and Keras's own ``predict`` outputs.
"""

from __future__ import annotations

import os
import sys

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
from keras import layers as L  # noqa: E402


def lenet() -> keras.Sequential:
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            L.Conv2D(6, 5, activation="relu"),
            L.MaxPooling2D(2),
            L.Conv2D(16, 5, activation="tanh"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(120, activation="relu"),
            L.Dropout(0.5),
            L.Dense(84, activation="relu"),
            L.Dense(10, activation="softmax"),
        ]
    )


def second() -> keras.Sequential:
    """Built after ``lenet``: its config names carry _1, _2 ... but its storage names start again at conv2d."""
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            L.Conv2D(8, 3, strides=2, padding="same", use_bias=False),
            L.BatchNormalization(),
            L.Activation("relu"),
            L.AveragePooling2D(2),
            L.Conv2D(12, 3, activation="sigmoid"),
            L.Flatten(),
            L.Dense(10),
        ]
    )


def collide() -> keras.Sequential:
    """Config names that are other layers' storage names, with equal shapes: a name lookup swaps
    the two convolutions' weights (and the two dense layers') without any shape error."""
    return keras.Sequential(
        [
            keras.Input((12, 12, 4)),
            L.Conv2D(4, 3, padding="same", activation="relu", name="conv2d_1"),
            L.Conv2D(4, 3, padding="same", activation="relu", name="conv2d"),
            L.Flatten(name="dense"),
            L.Dense(16, activation="relu", name="dense_1"),
            L.Dense(16, name="flatten"),
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
    models = {"lenet": lenet(), "second": second(), "collide": collide()}
    for name, model in models.items():
        randomise(model, rng)
        shape = model.inputs[0].shape[1:]
        x = rng.uniform(0.0, 1.0, (8, *shape)).astype(np.float32)
        np.savez(os.path.join(out, f"{name}.npz"), x=x, y=np.asarray(model.predict(x, verbose=0)))
        model.save(os.path.join(out, f"{name}.keras"))
    models["lenet"].save(os.path.join(out, "lenet.h5"))  # Keras 3's legacy HDF5 format


if __name__ == "__main__":
    main(sys.argv[1])
