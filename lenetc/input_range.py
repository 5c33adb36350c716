"""The largest float input a float32 model computes without overflow, and its refusal.

The generated C computes in float32. A finite input can still be so large that a sum of
products overflows to Inf (3e38 pixels gave a near-uniform answer while the float64 reference
answered class 0), so inputs of magnitude 2^k or more are refused, by the C (status
``<P>_ERR_INPUT``, as NaN and Inf are) and by the Python API alike. ``k`` is the largest power of
two for which a bound of every intermediate value, propagated layer by layer from the weights
(sum of |w| times the largest input, plus |b|; tanh, sigmoid and their kin bounded, other
activations at most ``max(1, |alpha|)(|z| + 1)``;
RBF distances ``n (|x| + |p|)^2``), stays below ``FLT_MAX / 2^8``.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import LenetcError

FLT_MAX = float(np.finfo(np.float32).max)
#: Room left below FLT_MAX for float32 rounding and a softmax's x - max.
HEADROOM = 2.0**-8
#: The exponent field of float32 inputs refused: 2^k for k = field - 127; 255 refuses only NaN/Inf.
NO_LIMIT = 255


#: Activations whose output is bounded whatever the input: that bound.
BOUNDED = {"tanh": 1.0, "sigmoid": 1.0, "hard_sigmoid": 1.0, "scaled_tanh": 1.7159}


def _act(act, m: float) -> float:
    if act is None:
        return m
    if act.fn in BOUNDED:
        return BOUNDED[act.fn]
    c = max(1.0, abs(float(getattr(act, "alpha", 0.0) or 0.0)), 1.7159)
    out = c * (m + 1.0)
    lo, hi = float(getattr(act, "lo", -math.inf)), float(getattr(act, "hi", math.inf))
    if act.fn == "clip" and math.isfinite(lo) and math.isfinite(hi):
        out = min(out, max(abs(lo), abs(hi)))
    return out


def _linear(params, name: str, m: float) -> float:
    w = np.abs(np.asarray(params[f"{name}.weight"], np.float64))
    rows = w.reshape(w.shape[0], -1).sum(axis=1)
    b = np.abs(np.asarray(params.get(f"{name}.bias", np.zeros(len(rows))), np.float64)).reshape(-1)
    return float((rows * m + b).max())


def _layer(layer, shape, params, m: float) -> tuple[float, float]:
    """Bounds of the layer's sums (before its activation) and of its output."""
    kind, name = layer.kind, layer.name
    if kind in ("conv2d", "dense"):
        out = _linear(params, name, m)
    elif kind == "subsampling":
        coeff = np.abs(np.asarray(params[f"{name}.coeff"], np.float64))
        bias = np.abs(np.asarray(params[f"{name}.bias"], np.float64))
        out = float((coeff * layer.size * layer.size * m + bias).max())
    elif kind == "affine":
        out = float(np.abs(params[f"{name}.scale"]).max() * m + np.abs(params[f"{name}.shift"]).max())
    elif kind in ("pool2d", "flatten"):
        out = m
    elif kind == "activation":
        return m, _act(layer.act, m)
    elif kind == "softmax":
        out = 2.0 * m  # x - max; the outputs themselves are at most 1
    elif kind == "rbf":
        proto = float(np.abs(params[f"{name}.prototypes"]).max())
        out = int(math.prod(shape)) * (m + proto) ** 2
    else:
        raise LenetcError(f"layer '{name}': no overflow bound for kind '{kind}'")
    return out, _act(getattr(layer, "act", None), out)


def _fits(net, m: float) -> bool:
    with np.errstate(over="ignore"):
        for layer, shape in zip(net.layers, net.shapes(), strict=False):
            sums, m = _layer(layer, shape, net.params, m)
            if not max(sums, m) <= FLT_MAX * HEADROOM:
                return False
    return True


def input_limit_exponent(net) -> int:
    """The float32 exponent field from which inputs are refused (:data:`NO_LIMIT`: none but
    NaN and Inf): inputs of magnitude ``2 ** (field - 127)`` or more."""
    if _fits(net, FLT_MAX):
        return NO_LIMIT
    lo, hi = -126, 127  # 2^lo fits (or nothing does), 2^hi does not
    if not _fits(net, 2.0**lo):
        return lo + 127
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if _fits(net, 2.0**mid) else (lo, mid)
    return lo + 127


def input_limit(net) -> float:
    """The smallest input magnitude refused (inf: only NaN and Inf are)."""
    e = input_limit_exponent(net)
    return math.inf if e >= NO_LIMIT else 2.0 ** (e - 127)


def check_input_range(net, x: np.ndarray) -> None:
    """Refuse NaN, Inf and values of magnitude :func:`input_limit` or more, as the C does."""
    finite = np.isfinite(x)
    if not finite.all():
        where = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise LenetcError(f"input holds NaN or Inf (first at index {where}): lenetc refuses non-finite input")
    limit = input_limit(net)
    if math.isfinite(limit) and x.size and float(np.abs(x).max()) >= limit:
        where = tuple(int(i) for i in np.argwhere(np.abs(x) >= limit)[0])
        raise LenetcError(
            f"input value {float(x[where]):g} at index {where} is too large: model '{net.name}' refuses |x| >= "
            f"2^{round(math.log2(limit))}, beyond which its float32 sums could overflow"
        )
