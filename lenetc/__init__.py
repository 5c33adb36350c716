"""lenetc: compile trained LeNet-family networks to small, fast, checked C99."""

from ._version import __version__
from .build import CompiledNetwork, compile
from .codegen import generate, make_plan
from .errors import LenetcError
from .layers import RBF, Act, Activation, Conv2D, Dense, Flatten, Pool2D, Softmax, Subsampling
from .models import load
from .network import Network, Preprocess
from .quant import QuantizedNetwork, quantize

__all__ = [
    "__version__", "load", "compile", "generate", "make_plan", "CompiledNetwork", "LenetcError",
    "Network", "Preprocess", "Act", "Activation", "Conv2D", "Dense", "Flatten", "Pool2D", "RBF",
    "Softmax", "Subsampling", "quantize", "QuantizedNetwork",
]  # fmt: skip
