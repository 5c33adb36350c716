"""``load``: one entry point that turns a zoo name or a model file into a :class:`Network`."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path

from . import zoo
from .errors import LenetcError
from .importers.keras_import import load_keras
from .importers.onnx_load import load_onnx
from .importers.tflite_load import load_tflite
from .names import shown
from .network import Network, Preprocess, stated_preprocess
from .npz import load_npz
from .quant.qnetwork import QuantizedNetwork

WEIGHTS_DIR = Path(__file__).parent / "weights"
IMPORTED_SUFFIXES = (".onnx", ".h5", ".keras", ".tflite")
_RANDOM = re.compile(r"random(?::([0-9]+))?")


def shipped_weights(name: str) -> Path | None:
    """The trained weights that ship with lenetc for zoo model ``name``, if any."""
    path = WEIGHTS_DIR / f"{name}.npz"
    return path if path.is_file() else None


def load(
    model: str | Path,
    weights: str | Path | None = None,
    preprocess: Preprocess | Mapping[str, float] | None = None,
) -> Network:
    """Load a model.

    An int8 ``.tflite`` file gives a :class:`~lenetc.quant.qnetwork.QuantizedNetwork` with the
    file's own scales, requantizing as TensorFlow Lite Micro does (``requant="tflm"``); its
    ``net`` is the float network of the dequantized weights.

    ``model`` is a zoo name (``lenet5``, ``lenet-caffe``, ``lenet-keras``, ``lenet5-keras``,
    ``lenet5-softmax``) or a path to an ``.npz`` that carries its architecture, an ``.onnx`` file, or a
    Keras ``.h5``/``.keras`` file (imported by :mod:`lenetc.importers`). ``weights``
    is an ``.npz`` path, ``"random:SEED"`` for reproducible random weights, or None for the
    shipped trained weights; a zoo model without shipped weights needs ``weights`` then.

    ``preprocess`` states how MNIST pixels become the model's input, replacing what the file
    says or what lenetc guesses for a foreign model: a :class:`Preprocess`, or a mapping with
    some of ``scale``, ``offset``, ``pad`` (the others are kept).
    """
    net = _load(str(model), weights)
    if preprocess is None:
        return net
    if isinstance(net, QuantizedNetwork):  # an int8 .tflite file
        pre = stated_preprocess(net.net.preprocess, preprocess, "the preprocess argument of load()")
        return dataclasses.replace(net, net=net.net.with_preprocess(pre))
    return net.with_preprocess(stated_preprocess(net.preprocess, preprocess, "the preprocess argument of load()"))


def _load(model: str, weights: str | Path | None) -> Network:
    if model in zoo.ZOO:
        arch = zoo.architecture(model)
        if weights is None:
            weights = shipped_weights(model)
        if weights is None:
            raise LenetcError(
                f"no trained weights ship for '{model}': give --weights FILE.npz (weights=...), "
                f"train some with 'lenetc train {model} -o FILE.npz', or ask for random ones with --weights random:SEED"
            )
        match = _RANDOM.fullmatch(str(weights))
        if match is None and str(weights).startswith("random:") and not Path(str(weights)).exists():
            raise LenetcError(f"--weights {shown(str(weights))}: random:SEED needs a whole number seed >= 0")
        if match:
            arch.params = zoo.random_params(arch, int(match.group(1) or 0))
            return arch.validate()
        return load_npz(weights, architecture=arch)
    path = Path(model)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        if weights is not None:
            raise LenetcError("--weights goes with a zoo model name; a .npz model carries its own weights")
        return load_npz(path)
    if suffix in IMPORTED_SUFFIXES and weights is not None:
        raise LenetcError(f"--weights goes with a zoo model name; a {suffix} model carries its own weights")
    if suffix == ".onnx":
        return load_onnx(path)
    if suffix in (".h5", ".keras"):
        return load_keras(path)
    if suffix == ".tflite":
        return load_tflite(path)
    if path.exists():
        raise LenetcError(
            f"cannot load '{model}': unsupported file type '{suffix or path.name}' "
            "(expected .npz, .onnx, .h5, .keras, .tflite)"
        )
    raise LenetcError(
        f"unknown model '{model}' (zoo: {', '.join(zoo.ZOO)}; or give a .npz/.onnx/.h5/.keras/.tflite path)"
    )
