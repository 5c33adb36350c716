"""lenetc: compile trained LeNet-family networks to small, fast, checked C99.

The public names are imported on first use (PEP 562), so ``import lenetc`` and the command
line start in milliseconds: a Ctrl-C during start-up then lands in code that reports it in
one line instead of in NumPy's import.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

from ._version import __version__
from .errors import LenetcError

#: Public name -> (module, attribute).
_PUBLIC = {
    "load": (".models", "load"),
    "save": (".npz", "save_npz"),
    "forward": (".reference", "forward"),
    "compile": (".api", "compile"),
    "generate": (".api", "generate"),
    "prepare": (".api", "prepare"),
    "quantize": (".api", "quantize"),
    "make_plan": (".codegen", "make_plan"),
    "Generated": (".codegen", "Generated"),
    "CompiledNetwork": (".build", "CompiledNetwork"),
    "CompiledInt8Network": (".build", "CompiledInt8Network"),
    "Network": (".network", "Network"),
    "Preprocess": (".network", "Preprocess"),
    "QuantizedNetwork": (".quant", "QuantizedNetwork"),
    **{name: (".layers", name) for name in ("RBF", "Act", "Activation", "Affine", "Conv2D", "Dense", "Flatten",
                                             "Pool2D", "Softmax", "Subsampling")},
}  # fmt: skip

__all__ = [
    "__version__", "load", "save", "forward", "compile", "generate", "make_plan", "prepare", "quantize",
    "CompiledNetwork", "CompiledInt8Network", "Generated", "LenetcError", "Network", "Preprocess", "Act",
    "Activation", "Affine", "Conv2D", "Dense", "Flatten", "Pool2D", "RBF", "Softmax", "Subsampling",
    "QuantizedNetwork",
]  # fmt: skip


def __getattr__(name: str):
    if name not in _PUBLIC:
        # ``lenetc.api``, ``lenetc.models``...: submodules stay reachable as attributes, as when
        # this package imported them eagerly
        if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
            return importlib.import_module(f"{__name__}.{name}")
        raise AttributeError(f"module 'lenetc' has no attribute {name!r}")
    module, attribute = _PUBLIC[name]
    value = getattr(importlib.import_module(module, __name__), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})


if TYPE_CHECKING:
    from .api import compile, generate, prepare, quantize
    from .build import CompiledInt8Network, CompiledNetwork
    from .codegen import Generated, make_plan
    from .layers import RBF, Act, Activation, Affine, Conv2D, Dense, Flatten, Pool2D, Softmax, Subsampling
    from .models import load
    from .network import Network, Preprocess
    from .npz import save_npz as save
    from .quant import QuantizedNetwork
    from .reference import forward
