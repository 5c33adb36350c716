"""Post-training quantization: calibrate activation ranges on real images, quantize weights.

- Weights: symmetric int8 per output channel, scale max|w| / 127, values in [-127, 127].
- Biases: int32 in units of input scale x weight scale, with the input zero point folded in.
- Activations: asymmetric int8 per tensor (scale, zero point); real 0 is exactly representable
  (so ReLU is a clamp at the zero point and zero padding is the zero point).
- Range choice (``method``): ``minmax``; ``percentile`` (the ``percentile``-th and
  (100 - ``percentile``)-th percentiles of the calibration values); ``mse`` (the clipping range,
  shrunk from the min/max in 2 % steps, that minimises the squared quantization error).
  The network input and the final output always use min/max: the input range is known
  exactly (MNIST pixels), and clipping the output would make the largest logits tie.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import LenetcError
from ..kinds import QLayer, QuantStep, kind_of, merge_activations
from ..kinds.rbf import RBF
from ..kinds.softmax import Softmax
from ..network import Network
from ..numeric import QParams
from ..reference import as_batch
from .qnetwork import QuantizedNetwork

METHODS = ("minmax", "percentile", "mse")
DEFAULT_METHOD = "percentile"
DEFAULT_PERCENTILE = 99.99


def choose_qparams(values: np.ndarray, method: str = DEFAULT_METHOD, percentile: float = DEFAULT_PERCENTILE) -> QParams:
    """Scale and zero point for a tensor whose calibration values are ``values``."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    lo, hi = float(v.min(initial=0.0)), float(v.max(initial=0.0))
    if method == "percentile" and v.size:
        lo, hi = (float(t) for t in np.percentile(v, [100.0 - percentile, percentile]))
    elif method == "mse" and v.size:
        lo, hi = _mse_range(v, lo, hi)
    elif method not in METHODS:
        raise LenetcError(f"unknown calibration method '{method}' (known: {', '.join(METHODS)})")
    return _affine(min(lo, 0.0), max(hi, 0.0))


def _affine(lo: float, hi: float) -> QParams:
    if hi - lo <= 0.0:
        return QParams(1.0, 0)  # an all-zero tensor
    scale = (hi - lo) / 255.0
    zp = int(np.clip(round(-128.0 - lo / scale), -128, 127))
    return QParams(scale, zp)


def _mse_range(v: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    sample = v if v.size <= 200_000 else np.random.default_rng(0).choice(v, 200_000, replace=False)
    best, best_err = (lo, hi), math.inf
    for frac in np.arange(1.0, 0.3, -0.02):
        q = _affine(min(lo * frac, 0.0), max(hi * frac, 0.0))
        err = float(((q.dequantize(q.quantize(sample)) - sample) ** 2).mean())
        if err < best_err:
            best, best_err = (lo * frac, hi * frac), err
    return best


def quantize(
    net: Network,
    calibration_images: np.ndarray,
    method: str = DEFAULT_METHOD,
    percentile: float = DEFAULT_PERCENTILE,
) -> QuantizedNetwork:
    """Quantize ``net`` to int8, calibrating activation ranges on ``calibration_images``.

    ``calibration_images``: preprocessed network inputs (N, C, H, W) float, or raw MNIST digits
    (N, 28, 28) uint8 which are preprocessed with ``net.preprocess``.
    """
    if method not in METHODS:
        raise LenetcError(f"unknown calibration method '{method}' (known: {', '.join(METHODS)})")
    net.validate()
    images = np.asarray(calibration_images)
    if images.dtype == np.uint8 and images.ndim == 3 and images.shape[1:] == (28, 28):
        images = net.preprocess.apply(images)
    x, _ = as_batch(images, net.input_shape)
    if x.shape[0] < 1:
        raise LenetcError("calibration needs at least one image")
    h = x.astype(np.float64)
    layers = merge_activations(list(net.layers))
    final_softmax = None
    if layers and isinstance(layers[-1], Softmax):
        final_softmax = "log_softmax" if layers[-1].log else "softmax"
        layers = layers[:-1]
    if any(isinstance(layer, Softmax) for layer in layers):
        raise LenetcError("int8: softmax is supported only as the last layer")

    def choose(v: np.ndarray, last: bool, i: int = -1) -> QParams:
        q = choose_qparams(v, "minmax" if last else method, percentile)
        nxt = layers[i + 1] if 0 <= i < len(layers) - 1 else None
        if isinstance(nxt, RBF):
            # The RBF compares its input with the prototypes in the input's quantized units:
            # widen the range so that every prototype is representable.
            proto = net.params[f"{nxt.name}.prototypes"]
            lo = min(q.dequantize(-128), float(proto.min()))
            hi = max(q.dequantize(127), float(proto.max()))
            q = _affine(min(lo, 0.0), max(hi, 0.0))
        return q

    in_q = choose_qparams(h, "minmax")
    input_q = in_q
    shape = tuple(net.input_shape)
    qlayers: list[QLayer] = []
    for i, layer in enumerate(layers):
        kind = kind_of(layer)
        if kind.quantize is None:
            raise LenetcError(f"int8: layer '{layer.name}' of kind '{layer.kind}' cannot be quantized")
        last = i == len(layers) - 1
        out_shape = layer.output_shape(shape)
        y = kind.forward(layer, h, net.params)
        step = QuantStep(
            layer, shape, out_shape, in_q, net.params, h, y,
            choose=lambda v, last=last, i=i: choose(v, last, i),
            choose_inner=lambda v: choose(v, False),
            last=last,
        )  # fmt: skip
        q = kind.quantize(step)
        qlayers.append(q)
        h, shape, in_q = y, out_shape, q.out_q
    if not qlayers:
        raise LenetcError(f"model '{net.name}' has no layer to quantize")
    out_dtype = "int32" if qlayers[-1].kind == "rbf" else "int8"
    return QuantizedNetwork(net, input_q, qlayers, qlayers[-1].out_q, out_dtype, final_softmax, method, int(x.shape[0]))
