"""Layer dataclasses: pure data, shape inference and per-layer counts.

A layer knows its configuration, the parameters it expects (as ``suffix -> shape``)
and how to count its parameters, MACs and connections. It knows nothing of NumPy
forward passes (``reference.py``) or of C (``codegen/``).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .errors import LenetcError

Shape = tuple[int, ...]

ACTIVATIONS = ("relu", "tanh", "scaled_tanh", "sigmoid", "leaky_relu", "clip")

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

    def to_json(self) -> Any:
        if self.fn == "leaky_relu":
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
        lo, hi = value.get("lo", "-inf"), value.get("hi", "inf")
        return Act(value["fn"], float(value.get("alpha", 0.0)), float(lo), float(hi))


def _json_float(v: float) -> Any:
    return str(v) if math.isinf(v) else v


def _int(v: Any, what: str = "value") -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise LenetcError(f"{what} must be an integer, got {v!r}")
    return int(v)


def _ints(v: Any, sizes: tuple[int, ...], what: str) -> tuple[int, ...]:
    """An int or a sequence of ``sizes[i]`` ints, as a tuple (an int is repeated ``sizes[-1]`` times)."""
    if isinstance(v, (list, tuple)):
        if len(v) not in sizes:
            raise LenetcError(f"{what} must have {' or '.join(map(str, sizes))} values, got {list(v)}")
        return tuple(_int(x, what) for x in v)
    return (_int(v, what),) * sizes[-1]


def _pair(v: Any, what: str = "kernel") -> tuple[int, int]:
    return _ints(v, (2,), what)  # type: ignore[return-value]


def _quad(v: Any) -> tuple[int, int, int, int]:
    """Padding as (top, left, bottom, right); an int or an (h, w) pair is symmetric."""
    v = _ints(v, (2, 4), "padding")
    return (v[0], v[1], v[0], v[1]) if len(v) == 2 else v  # type: ignore[return-value]


def _at_least(layer: Layer, minimum: int, **values: Any) -> None:
    """Raise if any of the named ints (or tuples of ints) is below ``minimum``."""
    for what, value in values.items():
        if min(value if isinstance(value, tuple) else (value,)) < minimum:
            raise LenetcError(f"layer '{layer.name}': {what} must be at least {minimum}, got {value}")


def _pooled(size: int, k: int, s: int, p0: int, p1: int, ceil_mode: bool) -> int:
    span = size + p0 + p1 - k
    n = (-(-span // s) if ceil_mode else span // s) + 1
    # ONNX/PyTorch rule: a window that starts inside the right padding is dropped.
    if ceil_mode and (n - 1) * s >= size + p0:
        n -= 1
    return n


@dataclass
class Layer:
    """Base class. ``kind`` names the layer in JSON, in ``info`` and in the code generator."""

    name: str
    kind: ClassVar[str] = "layer"

    def output_shape(self, in_shape: Shape) -> Shape:
        return in_shape

    def param_shapes(self, in_shape: Shape) -> dict[str, Shape]:
        """The parameters this layer reads from ``Network.params``, as suffix -> shape."""
        return {}

    def trainable_params(self, in_shape: Shape, params: dict[str, np.ndarray]) -> int:
        return 0

    def macs(self, in_shape: Shape, params: dict[str, np.ndarray]) -> int:
        return 0

    def connections(self, in_shape: Shape, params: dict[str, np.ndarray]) -> int:
        """LeCun's count: multiply-accumulates plus bias adds."""
        return 0

    def describe(self, in_shape: Shape) -> str:
        return self.kind

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.to_json() if isinstance(value, Act) else value
        return out


def _act_suffix(act: Act | None) -> str:
    return f" + {act.fn}" if act else ""


@dataclass
class Conv2D(Layer):
    """2-D convolution. With ``sparse`` the parameter ``<name>.table`` (out, in) uint8
    says which input maps each output map reads (LeNet-5's C3); weights keep the dense
    (out, in, kh, kw) shape and unconnected taps are never computed."""

    out_channels: int = 1
    kernel: tuple[int, int] = (5, 5)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    groups: int = 1
    sparse: bool = False
    act: Act | None = None
    kind: ClassVar[str] = "conv2d"

    def __post_init__(self) -> None:
        try:
            self.kernel, self.stride = _pair(self.kernel), _pair(self.stride, "stride")
            self.padding = _quad(self.padding)
            self.out_channels, self.groups = _int(self.out_channels, "out_channels"), _int(self.groups, "groups")
        except LenetcError as exc:
            raise LenetcError(f"layer '{self.name}': {exc}") from None
        _at_least(self, 1, out_channels=self.out_channels, kernel=self.kernel, stride=self.stride, groups=self.groups)
        _at_least(self, 0, padding=self.padding)

    def output_shape(self, in_shape: Shape) -> Shape:
        c, h, w = _chw(self, in_shape)
        if c % self.groups or self.out_channels % self.groups:
            raise LenetcError(
                f"layer '{self.name}': {c} input and {self.out_channels} output channels "
                f"are not divisible by groups={self.groups}"
            )
        (kh, kw), (sh, sw), (pt, pl, pb, pr) = self.kernel, self.stride, self.padding
        oh, ow = (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1
        if oh < 1 or ow < 1:
            raise LenetcError(f"layer '{self.name}': kernel {kh}x{kw} larger than input {h}x{w}")
        return (self.out_channels, oh, ow)

    def param_shapes(self, in_shape: Shape) -> dict[str, Shape]:
        c = in_shape[0]
        shapes = {"weight": (self.out_channels, c // self.groups, *self.kernel), "bias": (self.out_channels,)}
        if self.sparse:
            shapes["table"] = (self.out_channels, c)
        return shapes

    def links(self, in_shape: Shape, params: dict[str, np.ndarray]) -> int:
        """How many (output map, input map) pairs are connected."""
        if self.sparse:
            return int(np.count_nonzero(params[f"{self.name}.table"]))
        return self.out_channels * (in_shape[0] // self.groups)

    def macs(self, in_shape, params):
        _, oh, ow = self.output_shape(in_shape)
        return self.links(in_shape, params) * self.kernel[0] * self.kernel[1] * oh * ow

    def trainable_params(self, in_shape, params):
        return self.links(in_shape, params) * self.kernel[0] * self.kernel[1] + self.out_channels

    def connections(self, in_shape, params):
        return self.macs(in_shape, params) + int(np.prod(self.output_shape(in_shape)))

    def describe(self, in_shape):
        kh, kw = self.kernel
        extra = " sparse" if self.sparse else ""
        extra += f" stride {self.stride[0]}" if self.stride != (1, 1) else ""
        extra += f" pad {list(self.padding)}" if any(self.padding) else ""
        extra += f" groups {self.groups}" if self.groups != 1 else ""
        return f"conv {kh}x{kw}, {self.out_channels} maps{extra}{_act_suffix(self.act)}"


@dataclass
class Subsampling(Layer):
    """LeNet-5's trainable subsampling: sum of a window, times a per-map ``coeff``, plus a per-map ``bias``."""

    size: int = 2
    act: Act | None = None
    kind: ClassVar[str] = "subsampling"

    def __post_init__(self) -> None:
        self.size = _int(self.size, f"layer '{self.name}': size")
        _at_least(self, 1, size=self.size)

    def output_shape(self, in_shape):
        c, h, w = _chw(self, in_shape)
        if h % self.size or w % self.size:
            raise LenetcError(f"layer '{self.name}': input {h}x{w} is not divisible by {self.size}")
        return (c, h // self.size, w // self.size)

    def param_shapes(self, in_shape):
        return {"coeff": (in_shape[0],), "bias": (in_shape[0],)}

    def trainable_params(self, in_shape, params):
        return 2 * in_shape[0]

    def macs(self, in_shape, params):
        return int(np.prod(self.output_shape(in_shape))) * self.size * self.size

    def connections(self, in_shape, params):
        return int(np.prod(self.output_shape(in_shape))) * (self.size * self.size + 1)

    def describe(self, in_shape):
        return f"subsampling {self.size}x{self.size}{_act_suffix(self.act)}"


@dataclass
class Pool2D(Layer):
    """Max or average pooling. Average pooling divides by the window size, or by the
    number of non-padding inputs when ``count_include_pad`` is false."""

    mode: str = "max"
    kernel: tuple[int, int] = (2, 2)
    stride: tuple[int, int] | None = None
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    ceil_mode: bool = False
    count_include_pad: bool = False
    kind: ClassVar[str] = "pool2d"

    def __post_init__(self) -> None:
        if self.mode not in ("max", "avg"):
            raise LenetcError(f"layer '{self.name}': pooling mode must be 'max' or 'avg', not '{self.mode}'")
        try:
            self.kernel = _pair(self.kernel)
            self.stride = _pair(self.stride, "stride") if self.stride is not None else self.kernel
            self.padding = _quad(self.padding)
        except LenetcError as exc:
            raise LenetcError(f"layer '{self.name}': {exc}") from None
        _at_least(self, 1, kernel=self.kernel, stride=self.stride)
        _at_least(self, 0, padding=self.padding)
        (kh, kw), (pt, pl, pb, pr) = self.kernel, self.padding
        if max(pt, pb) >= kh or max(pl, pr) >= kw:
            # a window lying wholly in the padding would have no input to take the max or mean of
            raise LenetcError(f"layer '{self.name}': padding {list(self.padding)} must be smaller than the window")

    def output_shape(self, in_shape):
        c, h, w = _chw(self, in_shape)
        (kh, kw), (sh, sw), (pt, pl, pb, pr) = self.kernel, self.stride, self.padding
        if kh > h + pt + pb or kw > w + pl + pr:
            raise LenetcError(f"layer '{self.name}': window {kh}x{kw} larger than input {h}x{w}")
        return (c, _pooled(h, kh, sh, pt, pb, self.ceil_mode), _pooled(w, kw, sw, pl, pr, self.ceil_mode))

    def describe(self, in_shape):
        kh, kw = self.kernel
        extra = f" stride {self.stride[0]}" if self.stride != self.kernel else ""
        extra += f" pad {list(self.padding)}" if any(self.padding) else ""
        return f"{self.mode} pool {kh}x{kw}{extra}"


@dataclass
class Flatten(Layer):
    """Flattens (C, H, W) to a vector in C,H,W order, or H,W,C (channels-last frameworks)."""

    order: str = "CHW"
    kind: ClassVar[str] = "flatten"

    def __post_init__(self) -> None:
        if self.order not in ("CHW", "HWC"):
            raise LenetcError(f"layer '{self.name}': flatten order must be CHW or HWC, not '{self.order}'")

    def output_shape(self, in_shape):
        return (int(np.prod(in_shape)),)

    def describe(self, in_shape):
        return f"flatten {self.order}"


@dataclass
class Dense(Layer):
    """Fully connected layer; ``weight`` is (out, in) over the input flattened in C,H,W order."""

    units: int = 1
    act: Act | None = None
    kind: ClassVar[str] = "dense"

    def __post_init__(self) -> None:
        self.units = _int(self.units, f"layer '{self.name}': units")
        _at_least(self, 1, units=self.units)

    def output_shape(self, in_shape):
        return (self.units,)

    def param_shapes(self, in_shape):
        return {"weight": (self.units, int(np.prod(in_shape))), "bias": (self.units,)}

    def macs(self, in_shape, params):
        return self.units * int(np.prod(in_shape))

    def trainable_params(self, in_shape, params):
        return self.macs(in_shape, params) + self.units

    def connections(self, in_shape, params):
        return self.trainable_params(in_shape, params)

    def describe(self, in_shape):
        return f"full {int(np.prod(in_shape))}->{self.units}{_act_suffix(self.act)}"


@dataclass
class Activation(Layer):
    """A stand-alone element-wise activation."""

    act: Act = field(default_factory=lambda: Act("relu"))
    kind: ClassVar[str] = "activation"

    def describe(self, in_shape):
        return self.act.fn


@dataclass
class Softmax(Layer):
    """Softmax (or log-softmax) over a vector."""

    log: bool = False
    kind: ClassVar[str] = "softmax"

    def output_shape(self, in_shape):
        if len(in_shape) != 1:
            raise LenetcError(f"layer '{self.name}': softmax needs a vector, got shape {in_shape}")
        return in_shape

    def describe(self, in_shape):
        return "log_softmax" if self.log else "softmax"


@dataclass
class RBF(Layer):
    """Euclidean radial basis units y_i = sum_j (x_j - w_ij)^2 with fixed ``prototypes``; smallest wins."""

    units: int = 10
    kind: ClassVar[str] = "rbf"

    def __post_init__(self) -> None:
        self.units = _int(self.units, f"layer '{self.name}': units")
        _at_least(self, 1, units=self.units)

    def output_shape(self, in_shape):
        if len(in_shape) != 1:
            raise LenetcError(f"layer '{self.name}': RBF needs a vector, got shape {in_shape}")
        return (self.units,)

    def param_shapes(self, in_shape):
        return {"prototypes": (self.units, in_shape[0])}

    def macs(self, in_shape, params):
        return self.units * in_shape[0]

    def trainable_params(self, in_shape, params):
        return self.units * in_shape[0]

    def connections(self, in_shape, params):
        return self.macs(in_shape, params)

    def describe(self, in_shape):
        return f"RBF {in_shape[0]}->{self.units} (distance, smallest wins)"


@dataclass
class Affine(Layer):
    """Element-wise ``y = x * scale + shift`` with constants from an imported graph (Add/Mul/Sub/Div
    by a constant, a BatchNormalization with nothing to fold into). ``per`` says how ``scale`` and
    ``shift`` broadcast: ``tensor`` (one value), ``channel`` (one per C, the first axis) or ``element``."""

    per: str = "channel"
    kind: ClassVar[str] = "affine"

    def __post_init__(self) -> None:
        if self.per not in AFFINE_PER:
            raise LenetcError(f"layer '{self.name}': affine 'per' must be one of {', '.join(AFFINE_PER)}")

    def param_shapes(self, in_shape):
        shape = (1,) if self.per == "tensor" else (in_shape[0],) if self.per == "channel" else tuple(in_shape)
        return {"scale": shape, "shift": shape}

    def trainable_params(self, in_shape, params):
        return 2 * int(np.prod(self.param_shapes(in_shape)["scale"]))

    def macs(self, in_shape, params):
        return int(np.prod(in_shape))

    def connections(self, in_shape, params):
        return 2 * int(np.prod(in_shape))

    def describe(self, in_shape):
        return f"affine x*scale+shift per {self.per}"


AFFINE_PER = ("tensor", "channel", "element")

LAYER_KINDS: dict[str, type[Layer]] = {
    cls.kind: cls for cls in (Conv2D, Subsampling, Pool2D, Flatten, Dense, Activation, Softmax, RBF, Affine)
}


def _chw(layer: Layer, in_shape: Shape) -> Shape:
    if len(in_shape) != 3:
        raise LenetcError(f"layer '{layer.name}' ({layer.kind}) needs a C,H,W input, got shape {in_shape}")
    return in_shape


def layer_from_json(obj: dict[str, Any]) -> Layer:
    """Rebuild a layer from :meth:`Layer.to_json` output."""
    obj = dict(obj)
    kind = obj.pop("kind", None)
    cls = LAYER_KINDS.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise LenetcError(f"unknown layer kind '{kind}' in architecture")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(obj) - names
    if unknown:
        raise LenetcError(f"layer '{obj.get('name')}': unknown field(s) {sorted(unknown)}")
    try:
        if "act" in obj:
            obj["act"] = Act.from_json(obj["act"])
        if "padding" in obj and isinstance(obj["padding"], list):
            obj["padding"] = tuple(obj["padding"])
        return cls(**obj)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise LenetcError(f"layer '{obj.get('name')}': {exc}") from None
