"""int8 quantization: calibration, requantization arithmetic and the NumPy integer reference."""

from .calibrate import DEFAULT_METHOD, METHODS, choose_qparams, quantize
from .cli import quantize_for_cli
from .qnetwork import QLayer, QParams, QuantizedNetwork
from .reference_int8 import forward_float, forward_int8

__all__ = [
    "quantize", "quantize_for_cli", "choose_qparams", "forward_int8", "forward_float", "QuantizedNetwork",
    "QLayer", "QParams", "METHODS", "DEFAULT_METHOD",
]  # fmt: skip
