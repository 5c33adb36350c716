"""Element-wise activations: one table gives each its NumPy form, gradient, C expression and
ONNX nodes, so reference, trainer, code generator and exporter cannot drift apart."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import LenetcError
from .numeric import c_float

#: LeCun's squashing function f(a) = A * tanh(S * a).
SCALED_TANH_A = 1.7159
SCALED_TANH_S = 2.0 / 3.0


@dataclass(frozen=True)
class Act:
    """An element-wise activation. ``alpha`` is LeakyReLU's slope; ``lo``/``hi`` bound Clip."""

    fn: str
    alpha: float = 0.0
    lo: float = -math.inf
    hi: float = math.inf

    def __post_init__(self) -> None:
        if self.fn not in ACTIVATIONS:
            raise LenetcError(f"unknown activation '{self.fn}' (known: {', '.join(ACTIVATIONS)})")
        if not math.isfinite(self.alpha) or math.isnan(self.lo) or math.isnan(self.hi) or self.lo > self.hi:
            raise LenetcError(f"activation '{self.fn}': alpha must be finite and lo <= hi (got {self})")

    @property
    def spec(self) -> ActivationSpec:
        return ACTIVATIONS[self.fn]

    def to_json(self) -> Any:
        if self.fn in ("leaky_relu", "elu"):
            return {"fn": self.fn, "alpha": self.alpha}
        if self.fn == "clip":
            return {"fn": self.fn, "lo": _json_float(self.lo), "hi": _json_float(self.hi)}
        return self.fn

    @staticmethod
    def from_json(value: Any) -> Act | None:
        if value is None:
            return None
        if isinstance(value, str):
            return Act(value)
        if not isinstance(value, dict) or "fn" not in value:
            raise LenetcError(f"activation must be a name or an object with 'fn', got {value!r}")
        lo, hi, alpha = value.get("lo", "-inf"), value.get("hi", "inf"), value.get("alpha", 0.0)
        if not isinstance(value["fn"], str):
            raise LenetcError(f"activation 'fn' must be a string, got {value['fn']!r}")
        for what, v, infinite in (("alpha", alpha, ()), ("lo", lo, ("-inf",)), ("hi", hi, ("inf",))):
            if isinstance(v, bool) or not (isinstance(v, int | float) or v in infinite):
                raise LenetcError(f"activation '{what}' must be a number, got {v!r}")
        return Act(value["fn"], float(alpha), float(lo), float(hi))


def _json_float(v: float) -> Any:
    return str(v) if math.isinf(v) else v


@dataclass(frozen=True)
class ActivationSpec:
    """What every part of lenetc knows of one activation.

    ``forward(act, z)`` keeps the dtype of ``z`` (float64 reference, float32 training);
    ``grad(act, dy, z, y)`` is dL/dz from dL/dy, the pre-activation ``z`` and the output ``y``;
    ``c_expr(act, v)`` is the C expression of the activated float expression ``v``;
    ``onnx(graph, act, x, name)`` appends the ONNX nodes and returns the output's name.
    """

    name: str
    forward: Callable[[Act, np.ndarray], np.ndarray]
    grad: Callable[[Act, np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    c_expr: Callable[[Act, str], str]
    onnx: Callable[[Any, Act, str, str], str]


def _clip_c(act: Act, v: str) -> str:
    expr = v
    if not math.isinf(act.hi):
        expr = f"({expr} > {c_float(act.hi)} ? {c_float(act.hi)} : {expr})"
    if not math.isinf(act.lo):
        expr = f"({v} < {c_float(act.lo)} ? {c_float(act.lo)} : {expr})"
    return expr


def _clip_onnx(g: Any, act: Act, x: str, name: str) -> str:
    lo = "" if math.isinf(act.lo) else g.const(f"{name}_min", np.array(act.lo))
    hi = "" if math.isinf(act.hi) else g.const(f"{name}_max", np.array(act.hi))
    return g.node("Clip", [x, lo, hi] if hi else [x, lo], name)


def _scaled_tanh_onnx(g: Any, act: Act, x: str, name: str) -> str:
    inner = g.node("Mul", [x, g.const(f"{name}_S", np.array(SCALED_TANH_S))], name)
    t = g.node("Tanh", [inner], name)
    return g.node("Mul", [t, g.const(f"{name}_A", np.array(SCALED_TANH_A))], name)


_SPECS = (
    ActivationSpec(
        "relu",
        forward=lambda a, z: np.maximum(z, 0.0),
        grad=lambda a, dy, z, y: dy * (z > 0),
        c_expr=lambda a, v: f"({v} > 0.0f ? {v} : 0.0f)",
        onnx=lambda g, a, x, name: g.node("Relu", [x], name),
    ),
    ActivationSpec(
        "tanh",
        forward=lambda a, z: np.tanh(z),
        grad=lambda a, dy, z, y: dy * (1 - y * y),
        c_expr=lambda a, v: f"lenetc_tanhf({v})",
        onnx=lambda g, a, x, name: g.node("Tanh", [x], name),
    ),
    ActivationSpec(
        "scaled_tanh",
        forward=lambda a, z: SCALED_TANH_A * np.tanh(SCALED_TANH_S * z),
        # y = A tanh(S z)  =>  dy/dz = S (A - y^2 / A)
        grad=lambda a, dy, z, y: dy * (SCALED_TANH_S * (SCALED_TANH_A - y * y / SCALED_TANH_A)),
        c_expr=lambda a, v: f"{c_float(SCALED_TANH_A)} * lenetc_tanhf({c_float(SCALED_TANH_S)} * {v})",
        onnx=_scaled_tanh_onnx,
    ),
    ActivationSpec(
        "sigmoid",
        forward=lambda a, z: 1.0 / (1.0 + np.exp(-z)),
        grad=lambda a, dy, z, y: dy * (y * (1 - y)),
        c_expr=lambda a, v: f"lenetc_sigmoidf({v})",
        onnx=lambda g, a, x, name: g.node("Sigmoid", [x], name),
    ),
    ActivationSpec(
        "leaky_relu",
        forward=lambda a, z: np.where(z >= 0.0, z, a.alpha * z),
        grad=lambda a, dy, z, y: dy * np.where(z >= 0, 1, a.alpha).astype(dy.dtype),
        c_expr=lambda a, v: f"({v} >= 0.0f ? {v} : {c_float(a.alpha)} * {v})",
        onnx=lambda g, a, x, name: g.node("LeakyRelu", [x], name, alpha=float(a.alpha)),
    ),
    ActivationSpec(
        "clip",
        forward=lambda a, z: np.clip(z, a.lo, a.hi),
        grad=lambda a, dy, z, y: dy * ((z >= a.lo) & (z <= a.hi)),
        c_expr=_clip_c,
        onnx=_clip_onnx,
    ),
)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow for large |z|


def _hard_sigmoid_c(act: Act, v: str) -> str:
    # Keras 3's form, relu6(x + 3) / 6: the same float32 operations in the same order
    return f"(({v}) <= -3.0f ? 0.0f : (({v}) >= 3.0f ? 1.0f : (({v}) + 3.0f) / 6.0f))"


_SPECS += (
    ActivationSpec(
        "elu",  # alpha * (e^z - 1) below 0; e^z from lenetc_expf, the same bits with every libc
        forward=lambda a, z: np.where(z > 0.0, z, a.alpha * np.expm1(np.minimum(z, 0.0))),
        grad=lambda a, dy, z, y: dy * np.where(z > 0, 1.0, y + a.alpha).astype(dy.dtype),
        c_expr=lambda a, v: f"(({v}) > 0.0f ? ({v}) : {c_float(a.alpha)} * (lenetc_expf({v}) - 1.0f))",
        onnx=lambda g, a, x, name: g.node("Elu", [x], name, alpha=float(a.alpha)),
    ),
    ActivationSpec(
        "silu",  # z * sigmoid(z), Keras's silu / swish
        forward=lambda a, z: z * _sigmoid(z),
        grad=lambda a, dy, z, y: dy * (_sigmoid(z) * (1.0 + z * (1.0 - _sigmoid(z)))).astype(dy.dtype),
        c_expr=lambda a, v: f"({v}) * lenetc_sigmoidf({v})",
        onnx=lambda g, a, x, name: g.node("Mul", [x, g.node("Sigmoid", [x], name)], name),
    ),
    ActivationSpec(
        "hard_sigmoid",  # relu6(z + 3) / 6 (Keras 3; ONNX HardSigmoid with alpha 1/6, beta 0.5)
        forward=lambda a, z: np.clip(z + 3.0, 0.0, 6.0) / 6.0,
        grad=lambda a, dy, z, y: dy * (((z > -3) & (z < 3)) / 6.0).astype(dy.dtype),
        c_expr=_hard_sigmoid_c,
        onnx=lambda g, a, x, name: g.node("HardSigmoid", [x], name, alpha=1.0 / 6.0, beta=0.5),
    ),
)

ACTIVATIONS: dict[str, ActivationSpec] = {spec.name: spec for spec in _SPECS}


def apply_act(act: Act | None, z: np.ndarray) -> np.ndarray:
    """``act`` applied to ``z`` (identity for None)."""
    return z if act is None else act.spec.forward(act, z)


def act_grad(act: Act | None, dy: np.ndarray, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dL/dz of ``act`` from dL/dy (identity for None)."""
    return dy if act is None else act.spec.grad(act, dy, z, y)


def act_expr(act: Act | None, v: str) -> str:
    """The C expression applying ``act`` to the float expression ``v``."""
    return v if act is None else act.spec.c_expr(act, v)


def act_onnx(g: Any, act: Act | None, x: str, name: str) -> str:
    """Append ``act``'s ONNX nodes after tensor ``x``; returns the output's name."""
    return x if act is None else act.spec.onnx(g, act, x, name)
