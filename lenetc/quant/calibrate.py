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
- Memory: the images stream through the float64 reference in batches; each tensor keeps
  bounded statistics (:mod:`.observer`: exact min/max, a histogram whose percentiles are within
  1.6 % of a quantization step, a 200,000-value sample for ``mse``), not its values.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..errors import LenetcError
from ..inputs import input_kind
from ..kinds import Layer, QLayer, QuantStep, kind_of, merge_activations
from ..kinds.rbf import RBF
from ..kinds.softmax import Softmax
from ..network import Network
from ..numeric import QParams
from ..reference import as_batch
from .observer import TensorStats
from .qnetwork import QuantizedNetwork

METHODS = ("minmax", "percentile", "mse")
DEFAULT_METHOD = "percentile"
DEFAULT_PERCENTILE = 99.99
#: Calibration images run through the float network this many at a time: calibration holds one
#: batch's activations and each tensor's bounded statistics, whatever the number of images.
BATCH = 256


def choose_qparams(values, method: str = DEFAULT_METHOD, percentile: float = DEFAULT_PERCENTILE) -> QParams:
    """Scale and zero point for a tensor whose calibration values are ``values``: an array, or
    the :class:`TensorStats` calibration kept of them."""
    if method not in METHODS:
        raise LenetcError(f"unknown calibration method '{method}' (known: {', '.join(METHODS)})")
    stats = values if isinstance(values, TensorStats) else TensorStats.of(values, method)
    lo, hi = (stats.lo, stats.hi) if stats.count else (0.0, 0.0)
    if method == "percentile" and stats.count:
        lo, hi = stats.percentile(100.0 - percentile), stats.percentile(percentile)
    elif method == "mse" and stats.count:
        lo, hi = _mse_range(stats.sampled(), lo, hi)
    return _affine(min(lo, 0.0), max(hi, 0.0))


def _affine(lo: float, hi: float) -> QParams:
    if hi - lo <= 0.0:
        return QParams(1.0, 0)  # an all-zero tensor
    # A float32 value, as every model file stores scales: the QDQ export and its import then hold
    # exactly the same scales, multipliers and bits.
    scale = float(np.float32((hi - lo) / 255.0))
    zp = int(np.clip(round(-128.0 - lo / scale), -128, 127))
    return QParams(scale, zp)


def _mse_range(sample: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    best, best_err = (lo, hi), math.inf
    for frac in np.arange(1.0, 0.3, -0.02):
        q = _affine(min(lo * frac, 0.0), max(hi * frac, 0.0))
        err = float(((q.dequantize(q.quantize(sample)) - sample) ** 2).mean())
        if err < best_err:
            best, best_err = (lo * frac, hi * frac), err
    return best


def _needs_pre_activation(layer: Layer) -> bool:
    """A linear layer with a table activation also calibrates the tensor before the table."""
    act = getattr(layer, "act", None)
    return kind_of(layer).takes_act and act is not None and act.fn != "relu"


def _batches(net: Network, images: np.ndarray) -> tuple[int, Iterator[np.ndarray]]:
    """The number of calibration images and an iterator over them as float64 network inputs,
    :data:`BATCH` at a time (raw uint8 digits are preprocessed batch by batch). What the array
    means follows its dtype, as everywhere (:mod:`lenetc.inputs`)."""
    raw = input_kind(images, net.preprocess, what="calibration images") == "pixels"
    x = (images if images.ndim == 3 else images[None]) if raw else as_batch(images, net.input_shape)[0]

    def batches() -> Iterator[np.ndarray]:
        for start in range(0, x.shape[0], BATCH):
            part = x[start : start + BATCH]
            part = as_batch(net.preprocess.apply(part), net.input_shape)[0] if raw else part
            yield part.astype(np.float64)

    return int(x.shape[0]), batches()


@dataclass
class _Observed:
    """What the calibration pass kept: the input's and every layer's statistics."""

    inputs: TensorStats
    outputs: list[TensorStats]
    pre: list[TensorStats | None]


def _observe(net: Network, layers: list[Layer], batches: Iterator[np.ndarray], method: str) -> _Observed:
    """Run the float64 reference batch by batch, folding every tensor into its statistics."""

    def new() -> TensorStats:
        return TensorStats(histogram=method == "percentile", sample=method == "mse")

    seen = _Observed(TensorStats(histogram=False), [new() for _ in layers], [None] * len(layers))
    seen.pre = [new() if _needs_pre_activation(layer) else None for layer in layers]
    for h in batches:
        seen.inputs.add(h)
        for i, layer in enumerate(layers):
            kind = kind_of(layer)
            y = kind.forward(layer, h, net.params)
            seen.outputs[i].add(y)
            pre = seen.pre[i]
            if pre is not None:
                pre.add(kind.forward(dataclasses.replace(layer, act=None), h, net.params))
            h = y
    return seen


def quantize(
    net: Network,
    calibration_images: np.ndarray,
    method: str = DEFAULT_METHOD,
    percentile: float = DEFAULT_PERCENTILE,
) -> QuantizedNetwork:
    """Quantize ``net`` to int8, calibrating activation ranges on ``calibration_images``.

    ``calibration_images``: preprocessed network inputs (N, C, H, W) float, or raw MNIST digits
    (N, 28, 28) uint8 which are preprocessed with ``net.preprocess`` (the dtype decides, see
    :mod:`lenetc.inputs`; whole-number floats 0..255 that the preprocessing never produces are
    refused as pixels in the wrong dtype). The images stream through
    the network :data:`BATCH` at a time into bounded per-tensor statistics, so memory does not
    grow with N.
    """
    if method not in METHODS:
        raise LenetcError(f"unknown calibration method '{method}' (known: {', '.join(METHODS)})")
    net.validate()
    n_images, batches = _batches(net, np.asarray(calibration_images))
    if n_images < 1:
        raise LenetcError("calibration needs at least one image")
    layers = merge_activations(list(net.layers))
    final_softmax = None
    if layers and isinstance(layers[-1], Softmax):
        final_softmax = "log_softmax" if layers[-1].log else "softmax"
        layers = layers[:-1]
    if any(isinstance(layer, Softmax) for layer in layers):
        raise LenetcError("int8: softmax is supported only as the last layer")
    for layer in layers:
        if kind_of(layer).quantize is None:
            raise LenetcError(f"int8: layer '{layer.name}' of kind '{layer.kind}' cannot be quantized")
    if not layers:
        raise LenetcError(f"model '{net.name}' has no layer to quantize")
    seen = _observe(net, layers, batches, method)

    def choose(stats: TensorStats, last: bool, i: int = -1) -> QParams:
        q = choose_qparams(stats, "minmax" if last else method, percentile)
        nxt = layers[i + 1] if 0 <= i < len(layers) - 1 else None
        if isinstance(nxt, RBF):
            # The RBF compares its input with the prototypes in the input's quantized units:
            # widen the range so that every prototype is representable.
            proto = net.params[f"{nxt.name}.prototypes"]
            lo = min(q.dequantize(-128), float(proto.min()))
            hi = max(q.dequantize(127), float(proto.max()))
            q = _affine(min(lo, 0.0), max(hi, 0.0))
        return q

    in_q = choose_qparams(seen.inputs, "minmax")
    input_q = in_q
    shape = tuple(net.input_shape)
    qlayers: list[QLayer] = []
    for i, layer in enumerate(layers):
        last = i == len(layers) - 1
        out_shape = layer.output_shape(shape)
        step = QuantStep(
            layer, shape, out_shape, in_q, net.params, seen.outputs[i], seen.pre[i],
            choose=lambda v, last=last, i=i: choose(v, last, i),
            choose_inner=lambda v: choose(v, False),
            last=last,
        )  # fmt: skip
        q = kind_of(layer).quantize(step)
        qlayers.append(q)
        shape, in_q = out_shape, q.out_q
    out_dtype = "int32" if qlayers[-1].kind == "rbf" else "int8"
    return QuantizedNetwork(net, input_q, qlayers, qlayers[-1].out_q, out_dtype, final_softmax, method, n_images)
