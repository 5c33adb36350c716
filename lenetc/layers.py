"""The layer dataclasses of the public API, gathered from their kind modules (``lenetc/kinds``)."""

from .activations import ACTIVATIONS, SCALED_TANH_A, SCALED_TANH_S, Act
from .kinds import KINDS, layer_from_json
from .kinds.activation import Activation
from .kinds.affine import AFFINE_PER, Affine
from .kinds.base import Layer, Shape
from .kinds.conv2d import Conv2D
from .kinds.dense import Dense
from .kinds.flatten import Flatten
from .kinds.pool2d import Pool2D
from .kinds.rbf import RBF
from .kinds.softmax import Softmax
from .kinds.subsampling import Subsampling

#: Layer class by kind name (``conv2d``, ``dense`` ...).
LAYER_KINDS = {name: kind.layer_type for name, kind in KINDS.items()}

__all__ = [
    "ACTIVATIONS", "AFFINE_PER", "LAYER_KINDS", "SCALED_TANH_A", "SCALED_TANH_S", "Act", "Activation", "Affine",
    "Conv2D", "Dense", "Flatten", "Layer", "Pool2D", "RBF", "Shape", "Softmax", "Subsampling", "layer_from_json",
]  # fmt: skip
