"""What every layer kind shares: the :class:`Layer` base dataclass, geometry helpers, the
integer form of a layer (:class:`QLayer`) and :class:`Kind`, the registry entry that lists
what lenetc knows of one kind (reference, gradient, quantization, lowering, ONNX form)."""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..activations import Act
from ..errors import LenetcError
from ..numeric import QParams

Shape = tuple[int, ...]
Params = dict[str, np.ndarray]


def as_int(v: Any, what: str = "value") -> int:
    """``v`` as an int; bools, floats and strings are refused (a JSON file can hold anything)."""
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise LenetcError(f"{what} must be an integer, got {v!r}")
    return int(v)


def as_ints(v: Any, sizes: tuple[int, ...], what: str) -> tuple[int, ...]:
    """An int or a sequence of ``sizes[i]`` ints, as a tuple (an int is repeated ``sizes[-1]`` times)."""
    if isinstance(v, (list, tuple)):
        if len(v) not in sizes:
            raise LenetcError(f"{what} must have {' or '.join(map(str, sizes))} values, got {list(v)}")
        return tuple(as_int(x, what) for x in v)
    return (as_int(v, what),) * sizes[-1]


def pair(v: Any, what: str = "kernel") -> tuple[int, int]:
    return as_ints(v, (2,), what)  # type: ignore[return-value]


def quad(v: Any) -> tuple[int, int, int, int]:
    """Padding as (top, left, bottom, right); an int or an (h, w) pair is symmetric."""
    v = as_ints(v, (2, 4), "padding")
    return (v[0], v[1], v[0], v[1]) if len(v) == 2 else v  # type: ignore[return-value]


def at_least(layer: Layer, minimum: int, **values: Any) -> None:
    """Raise if any of the named ints (or tuples of ints) is below ``minimum``."""
    for what, value in values.items():
        if min(value if isinstance(value, tuple) else (value,)) < minimum:
            raise LenetcError(f"layer '{layer.name}': {what} must be at least {minimum}, got {value}")


def checked_geometry(layer: Layer, fn: Callable[[], None]) -> None:
    """Run ``fn`` (which normalises the layer's geometry fields) naming the layer in any error."""
    try:
        fn()
    except LenetcError as exc:
        raise LenetcError(f"layer '{layer.name}': {exc}") from None


def chw(layer: Layer, in_shape: Shape) -> Shape:
    if len(in_shape) != 3:
        raise LenetcError(f"layer '{layer.name}' ({layer.kind}) needs a C,H,W input, got shape {in_shape}")
    return in_shape


def param(params: Params, layer: Layer, suffix: str, dtype=np.float64) -> np.ndarray:
    """Parameter ``<layer>.<suffix>`` as ``dtype``."""
    return np.asarray(params[f"{layer.name}.{suffix}"], dtype=dtype)


def act_suffix(act: Act | None) -> str:
    return f" + {act.fn}" if act else ""


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

    def trainable_params(self, in_shape: Shape, params: Params) -> int:
        return 0

    def macs(self, in_shape: Shape, params: Params) -> int:
        return 0

    def connections(self, in_shape: Shape, params: Params) -> int:
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


@dataclass
class QLayer:
    """The integer form of one layer: what every kind's quantized-parameter type shares.

    ``layer`` is the float layer (its geometry: kernel, stride, padding, mode ...); ``in_q``
    and ``out_q`` the int8 quantization of its input and output. Kinds with constants subclass
    this with exactly the fields they need (:class:`lenetc.kinds.int8_linear.QLinear` for the
    accumulate-and-requantize kinds, a table for activations, prototypes for the RBF); pooling
    and flattening use it as it is. ``kind`` is the float layer's kind.
    """

    name: str
    layer: Layer
    in_shape: Shape
    out_shape: Shape
    in_q: QParams
    out_q: QParams
    #: max |int32 accumulator| over every int8 input (proved where it is computed); 0: none
    acc_bound: int = 0
    #: ``int`` (lenetc's single rounding, :mod:`lenetc.fixedpoint`) or ``tflm`` (TFLM's reference
    #: kernels, :mod:`lenetc.fixedpoint_tflm`: double-rounding requantization with ``mult``/``shift``
    #: from TFLite's QuantizeMultiplier, averages of raw values without the zero point).
    rounding: str = "int"

    @property
    def kind(self) -> str:
        return self.layer.kind

    def constants(self) -> tuple[np.ndarray, ...]:
        """The arrays this layer puts in flash (none for pooling and flattening)."""
        return ()

    def const_bytes(self) -> int:
        """Bytes of constants this layer puts in flash (weights, biases, multipliers, shifts, LUT)."""
        return sum(a.nbytes for a in self.constants())


@dataclass(frozen=True)
class Node:
    """One layer as the lowering sees it: geometry, and the integer form for int8 (``q``)."""

    layer: Layer
    in_shape: Shape
    out_shape: Shape
    q: QLayer | None = None
    next_kind: str | None = None
    #: A pooling (or subsampling) layer fused into this one's kernel: computed from bands of
    #: this layer's output rows, so this layer's whole output map is never stored.
    epilogue: Node | None = None
    epilogue_ctx: dict | None = None  # its template context (from its kind's ``epilogue``)


@dataclass
class QuantStep:
    """What a kind's quantization rule is given: the layer, the input's quantization, the
    calibration statistics of its float64 output ``y`` and, for a linear layer with a table
    activation, of its pre-activation ``pre`` (:class:`lenetc.quant.observer.TensorStats`),
    and ``choose(stats)`` which picks the quantization of a tensor of this layer (calibration
    method, last-layer rule)."""

    layer: Layer
    in_shape: Shape
    out_shape: Shape
    in_q: QParams
    params: Params
    y: Any
    pre: Any
    choose: Callable[[Any], QParams]
    choose_inner: Callable[[Any], QParams]
    last: bool


def init_weight_bias(layer: Layer, in_shape: Shape, params: Params, rng, fan_in=None) -> Params:
    """The trainer's initial weights of a layer with ``weight`` and ``bias``: uniform with
    variance 2/fan_in before a ReLU (He) and 1/fan_in otherwise (LeCun), zero biases;
    ``fan_in`` per output (default: every weight of its row)."""
    shape = layer.param_shapes(in_shape)["weight"]
    if fan_in is None:
        fan_in = np.full(shape[0], int(np.prod(shape[1:])), dtype=np.float64)
    act = getattr(layer, "act", None)
    gain = 6.0 if act is not None and act.fn == "relu" else 3.0
    bound = np.sqrt(gain / fan_in).reshape(-1, *([1] * (len(shape) - 1)))
    return {
        f"{layer.name}.weight": (rng.uniform(-1, 1, shape) * bound).astype(np.float32),
        f"{layer.name}.bias": np.zeros(shape[0], np.float32),
    }


Forward = Callable[[Any, np.ndarray, Params], np.ndarray]
Lower = Callable[[Any, Node, int], int]


@dataclass(frozen=True)
class Kind:
    """Everything lenetc knows of one layer kind, found through the registry by ``name``.

    ``forward``: float64 reference; ``train_forward``/``backward``: the trainer's passes
    (``backward(layer, dy, cache, params, need_dx) -> (dx, grads by suffix)``);
    ``quantize``: the int8 rule (:class:`QuantStep` -> :class:`QLayer`), None where int8 has
    no such layer; ``from_scales``: the same integer layer from a model file's own scales,
    zero points and integer weights (:class:`lenetc.kinds.given.GivenStep` -> :class:`QLayer`),
    None where no file can state it; ``forward_int8``: the integer reference; ``lower``: per
    numeric type name, the lowering to kernel ops; ``to_onnx(graph, layer, in_shape, params, x)`` -> output name.
    ``epilogue``, for kinds a convolution can compute in its own kernel (pooling,
    subsampling): ``(lw, node) -> template context`` or None where this node cannot be fused.
    ``variants``: the kind's portable kernel variants (:class:`lenetc.variants.Variant`) for
    the registry, where its lowering chooses among variants (the CPU families add theirs).
    ``takes_act``: the layer computes an activation (its ``act`` field) in its own kernel: a
    stand-alone activation after it merges in, and calibration also observes the tensor before
    a table activation. ``fuses_epilogue(node)``: whether the node's kernel can compute the
    pooling after it (its ``epilogue``). ``float_requant``: its requantization has the float
    form (``--requant float``). ``init_params(layer, in_shape, params, rng)``: the trainer's
    initial weights; ``fan_in(layer, in_shape, suffix, shape, params)``: the fan-in that scales
    random weights (default: the whole input). ``to_qdq(graph, q, x)``: its QDQ ONNX nodes
    (None: no faithful QDQ form).
    """

    name: str
    layer_type: type[Layer]
    forward: Forward
    train_forward: Callable[..., tuple[np.ndarray, dict]]
    backward: Callable[..., tuple[np.ndarray | None, dict]]
    quantize: Callable[[QuantStep], QLayer] | None
    forward_int8: Callable[[QLayer, np.ndarray], np.ndarray] | None
    lower: dict[str, Lower]
    to_onnx: Callable[..., str]
    epilogue: Callable[[Any, Node], dict | None] | None = None
    from_scales: Callable[[Any], QLayer] | None = None
    variants: tuple[Any, ...] = ()
    takes_act: bool = False
    fuses_epilogue: Callable[[Node], bool] | None = None
    float_requant: bool = False
    init_params: Callable[..., Params] | None = None
    fan_in: Callable[..., int] | None = None
    to_qdq: Callable[..., str] | None = None
