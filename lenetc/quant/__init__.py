"""int8 quantization: calibration and the NumPy integer reference (depends only on the model
and its float reference; the defaults for calibrating on MNIST live in :func:`lenetc.quantize`)."""

from ..kinds.given import GivenLinear, GivenOutput, GivenTensor
from ..numeric import QParams
from .calibrate import DEFAULT_METHOD, METHODS, choose_qparams, quantize
from .from_scales import quantized_from_scales
from .qnetwork import QLayer, QuantizedNetwork
from .reference_int8 import forward_float, forward_int8
from .requant_mode import REQUANT_MODES, with_requant

__all__ = [
    "quantize", "choose_qparams", "forward_int8", "forward_float", "QuantizedNetwork", "QLayer", "QParams",
    "METHODS", "DEFAULT_METHOD", "with_requant", "REQUANT_MODES", "quantized_from_scales", "GivenTensor",
    "GivenLinear", "GivenOutput",
]  # fmt: skip
