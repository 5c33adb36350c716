"""Builds Keras 3 models the way people write them and saves them as Keras itself does, for
tests/test_keras_user_models.py.

Run as ``KERAS_BACKEND=jax python tests/keras_user_models.py OUT_DIR``: functional chains, a
Rescaling layer stating the preprocessing, ZeroPadding2D, Reshape, DepthwiseConv2D,
BatchNormalization after Dense, and the elu / silu (swish) / hard_sigmoid activations. Every
weight is random from a fixed seed; OUT_DIR/<model>.npz holds raw-pixel inputs (N, 28, 28) as
uint8 and Keras's own ``predict`` outputs; each model is saved as .keras and as .h5. One more
file, ``branching.keras``, is a functional model with a residual Add, which lenetc refuses.
"""

from __future__ import annotations

import os
import sys

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
from keras import layers as L  # noqa: E402
from keras3_models import randomise  # noqa: E402  (beside this script: every weight random, from a seed)


def functional() -> keras.Model:
    inp = keras.Input((28, 28, 1))
    x = L.Rescaling(1.0 / 255.0, offset=-0.5)(inp)
    x = L.ZeroPadding2D(2)(x)
    x = L.Conv2D(6, 5, activation="elu")(x)
    x = L.MaxPooling2D(2)(x)
    x = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="silu")(x)
    x = L.Conv2D(8, 3, strides=2)(x)
    x = L.Activation("swish")(x)
    x = L.Flatten()(x)
    x = L.Dense(24)(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("hard_sigmoid")(x)
    return keras.Model(inp, L.Dense(10, activation="softmax")(x))


def flat_input() -> keras.Sequential:
    return keras.Sequential(
        [
            keras.Input((784,)),
            L.Rescaling(1.0 / 127.5, offset=-1.0),
            L.Reshape((28, 28, 1)),
            L.ZeroPadding2D(((1, 2), (2, 1))),
            L.Conv2D(4, 5, strides=2),
            L.ELU(alpha=0.5),
            L.DepthwiseConv2D(3),
            L.Flatten(),
            L.Dense(16, activation="hard_sigmoid"),
            L.Dense(10),
        ]
    )


def branching() -> keras.Model:
    inp = keras.Input((28, 28, 1))
    a = L.Conv2D(4, 3, padding="same")(inp)
    b = L.Conv2D(4, 3, padding="same")(a)
    return keras.Model(inp, L.Dense(10)(L.Flatten()(L.Add()([a, b]))))


def main(out: str) -> None:
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    pixels = rng.integers(0, 256, (16, 28, 28)).astype(np.uint8)
    for name, model in {"functional": functional(), "flat_input": flat_input()}.items():
        randomise(model, rng)
        x = pixels.reshape(16, 784) if name == "flat_input" else pixels[..., None]
        y = np.asarray(model.predict(x.astype(np.float32), verbose=0))
        np.savez(os.path.join(out, f"{name}.npz"), pixels=pixels, y=y)
        model.save(os.path.join(out, f"{name}.keras"))
        model.save(os.path.join(out, f"{name}.h5"))  # Keras 3's legacy HDF5 format
    branching().save(os.path.join(out, "branching.keras"))


if __name__ == "__main__":
    main(sys.argv[1])
