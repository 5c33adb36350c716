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

import dataclasses
import math

import numpy as np

from ..errors import LenetcError
from ..layers import RBF, Act, Activation, Conv2D, Dense, Flatten, Layer, Pool2D, Softmax, Subsampling
from ..network import Network
from ..reference import LAYER_FORWARD, apply_act, as_batch
from .qnetwork import QLayer, QParams, QuantizedNetwork
from .requant import multipliers

METHODS = ("minmax", "percentile", "mse")
DEFAULT_METHOD = "percentile"
DEFAULT_PERCENTILE = 99.99
#: Largest |bias| kept (int32 headroom for the products; see QLayer.acc_bound).
BIAS_LIMIT = 1 << 30
ACC_LIMIT = (1 << 31) - 1


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


def _weights_per_channel(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 weights and per-output-channel scales (symmetric, [-127, 127])."""
    w = np.asarray(w, dtype=np.float64)
    flat = w.reshape(w.shape[0], -1)
    amax = np.abs(flat).max(axis=1)
    scale = np.where(amax > 0, amax / 127.0, 1.0)
    q = np.clip(np.round(flat / scale[:, None]), -127, 127).astype(np.int8)
    return q.reshape(w.shape), scale


def _linear(
    q: QLayer, w: np.ndarray, b: np.ndarray, taps_per_channel: np.ndarray, req_q: QParams, relu: bool
) -> QLayer:
    """Fill weight, folded bias, multipliers and the accumulator bound of a linear layer.

    ``taps_per_channel`` (O,) counts how many inputs each output sums (for the zero-point fold
    of the subsampling layer, whose single weight multiplies a whole window)."""
    wq, w_scale = _weights_per_channel(w)
    s_in, z_in = q.in_q.scale, q.in_q.zero_point
    bq = np.clip(np.round(np.asarray(b, np.float64) / (s_in * w_scale)), -BIAS_LIMIT, BIAS_LIMIT).astype(np.int64)
    wsum = wq.reshape(wq.shape[0], -1).astype(np.int64).sum(axis=1) * taps_per_channel
    bias = bq - z_in * wsum
    q.weight, q.bias = wq, bias.astype(np.int32)
    q.mult, q.shift = multipliers(s_in * w_scale / req_q.scale)
    q.req_zp = req_q.zero_point
    q.lo = max(-128, req_q.zero_point) if relu else -128
    # Every int8 input lies in [-128, 127]: |acc| <= |bias| + 128 * sum|w| (per output channel).
    wabs = np.abs(wq.reshape(wq.shape[0], -1).astype(np.int64)).sum(axis=1) * taps_per_channel
    q.acc_bound = int((np.abs(bias) + 128 * wabs).max())
    if q.acc_bound > ACC_LIMIT:
        raise LenetcError(f"layer '{q.name}': int32 accumulator bound {q.acc_bound} exceeds 2^31-1")
    return q


def _lut(act: Act, pre: QParams, out: QParams) -> np.ndarray:
    """256-entry table: int8 pre-activation (index q + 128) -> int8 activation."""
    q = np.arange(-128, 128)
    return out.quantize(apply_act(act, pre.dequantize(q)))


def _merge_activations(layers: list[Layer]) -> list[Layer]:
    """Fold a stand-alone activation into the linear layer before it (as the float plan does)."""
    out: list[Layer] = []
    for layer in layers:
        prev = out[-1] if out else None
        if isinstance(layer, Activation) and isinstance(prev, Conv2D | Dense | Subsampling) and prev.act is None:
            out[-1] = dataclasses.replace(prev, act=layer.act)
            continue
        out.append(layer)
    return out


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
    layers = _merge_activations(list(net.layers))
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
        last = i == len(layers) - 1
        out_shape = layer.output_shape(shape)
        act = getattr(layer, "act", None)
        y = LAYER_FORWARD[type(layer)](layer, h, net.params)
        q = QLayer(layer.name, "", layer, shape, out_shape, in_q, in_q)
        if isinstance(layer, Conv2D | Dense | Subsampling):
            q.kind = {Conv2D: "conv", Dense: "dense", Subsampling: "subsampling"}[type(layer)]
            q.out_q = choose(y, last, i)
            relu = act is not None and act.fn == "relu"
            req_q = q.out_q
            if act is not None and not relu:
                pre = LAYER_FORWARD[type(layer)](dataclasses.replace(layer, act=None), h, net.params)
                q.pre_q = req_q = choose(pre, False)
                q.lut = _lut(act, q.pre_q, q.out_q)
            p = net.params
            if isinstance(layer, Subsampling):
                w = p[f"{layer.name}.coeff"].reshape(-1, 1)
                taps = np.full(w.shape[0], layer.size * layer.size, dtype=np.int64)
                _linear(q, w, p[f"{layer.name}.bias"], taps, req_q, relu)
                q.weight = q.weight.reshape(-1)
            else:
                w = p[f"{layer.name}.weight"].astype(np.float64)
                if isinstance(layer, Conv2D) and layer.sparse:
                    w = w * p[f"{layer.name}.table"].astype(np.float64)[:, :, None, None]
                _linear(q, w, p[f"{layer.name}.bias"], np.ones(w.shape[0], dtype=np.int64), req_q, relu)
        elif isinstance(layer, Pool2D | Flatten):
            q.kind = "pool" if isinstance(layer, Pool2D) else "flatten"
        elif isinstance(layer, Activation):
            q.kind, q.out_q = "lut", choose(y, last, i)
            q.lut = _lut(layer.act, in_q, q.out_q)
        elif isinstance(layer, RBF):
            if not last:
                raise LenetcError(f"int8: RBF layer '{layer.name}' must be the last layer")
            q.kind = "rbf"
            proto = net.params[f"{layer.name}.prototypes"].astype(np.float64)
            # In range by construction (see choose); the clip only guards hand-made QParams.
            q.proto = np.clip(np.round(proto / in_q.scale) + in_q.zero_point, -1024, 1023).astype(np.int16)
            d = np.maximum((127 - q.proto.astype(np.int64)) ** 2, (-128 - q.proto.astype(np.int64)) ** 2)
            q.acc_bound = int(d.sum(axis=1).max())
            if q.acc_bound > ACC_LIMIT:
                raise LenetcError(f"layer '{layer.name}': RBF distance bound {q.acc_bound} exceeds 2^31-1")
            q.out_q = QParams(in_q.scale**2, 0)
        else:
            raise LenetcError(f"int8: layer '{layer.name}' of kind '{layer.kind}' cannot be quantized")
        qlayers.append(q)
        h, shape, in_q = y, out_shape, q.out_q
    if not qlayers:
        raise LenetcError(f"model '{net.name}' has no layer to quantize")
    out_dtype = "int32" if qlayers[-1].kind == "rbf" else "int8"
    return QuantizedNetwork(net, input_q, qlayers, qlayers[-1].out_q, out_dtype, final_softmax, method, int(x.shape[0]))
