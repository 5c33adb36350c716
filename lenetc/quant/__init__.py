"""int8 quantization: calibration and the NumPy integer reference (depends only on the model
and its float reference; the defaults for calibrating on MNIST live in :func:`lenetc.quantize`)."""

from ..numeric import QParams
from .calibrate import DEFAULT_METHOD, METHODS, choose_qparams, quantize
from .qnetwork import QLayer, QuantizedNetwork
from .reference_int8 import forward_float, forward_int8
from .requant_mode import REQUANT_MODES, with_requant

__all__ = [
    "quantize", "choose_qparams", "forward_int8", "forward_float", "QuantizedNetwork", "QLayer", "QParams",
    "METHODS", "DEFAULT_METHOD", "with_requant", "REQUANT_MODES",
]  # fmt: skip
