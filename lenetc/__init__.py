"""lenetc: compile trained LeNet-family networks to small, fast, checked C99."""

from ._version import __version__
from .api import compile, generate, prepare, quantize
from .build import CompiledInt8Network, CompiledNetwork
from .codegen import Generated, make_plan
from .errors import LenetcError
from .layers import RBF, Act, Activation, Affine, Conv2D, Dense, Flatten, Pool2D, Softmax, Subsampling
from .models import load
from .network import Network, Preprocess
from .npz import save_npz as save
from .quant import QuantizedNetwork
from .reference import forward

__all__ = [
    "__version__", "load", "save", "forward", "compile", "generate", "make_plan", "prepare", "quantize",
    "CompiledNetwork", "CompiledInt8Network", "Generated", "LenetcError", "Network", "Preprocess", "Act",
    "Activation", "Affine", "Conv2D", "Dense", "Flatten", "Pool2D", "RBF", "Softmax", "Subsampling",
    "QuantizedNetwork",
]  # fmt: skip
