"""The model description: an ordered list of layers, their parameters and input conventions."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .errors import LenetcError
from .kinds import Layer, Shape, layer_from_json
from .kinds.rbf import RBF
from .kinds.softmax import Softmax
from .limits import check_tensor
from .names import name_problem, shown
from .numeric import fma_f32
from .text import plus

ARCH_KEY = "__arch__"
FORMAT_VERSION = 1
#: Most background pixels ``Preprocess.pad`` may add on each side (LeNet-5 adds 2).
MAX_PAD = 1024


@dataclass(frozen=True)
class Preprocess:
    """How a 28x28 MNIST digit (uint8, 0 = background) becomes this network's input:
    ``x = pixel * scale + offset``, then ``pad`` pixels of background on every side.

    ``source`` says where these numbers come from (the model file, a guess, the user);
    ``guessed`` is true when nothing stated them. Neither takes part in comparisons.
    """

    scale: float = 1.0 / 255.0
    offset: float = 0.0
    pad: int = 0
    source: str = field(default="the model", compare=False)
    guessed: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        for what in ("scale", "offset"):
            value = getattr(self, what)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise LenetcError(f"preprocess {what} must be a finite number, got {value!r}")
            object.__setattr__(self, what, float(value))
        # the C computes pixel * scale + offset in float32: every pixel 0..255 must stay finite there
        reach = 255.0 * abs(self.scale) + abs(self.offset)
        if reach >= float(np.finfo(np.float32).max):
            raise LenetcError(
                f"preprocess scale {self.scale:g} and offset {self.offset:g} take pixels 0..255 beyond float32's "
                "range (3.4e38)"
            )
        if self.scale == 0:
            raise LenetcError("preprocess scale must not be 0 (every digit would be the same input)")
        pad = self.pad
        if isinstance(pad, bool) or not isinstance(pad, numbers.Integral) or not 0 <= pad <= MAX_PAD:
            raise LenetcError(f"preprocess pad must be an integer from 0 to {MAX_PAD}, got {pad!r}")
        object.__setattr__(self, "pad", int(pad))

    def describe(self) -> str:
        """One line for ``info`` and ``verify``: the mapping and where it comes from."""
        pad = f", padded by {self.pad}" if self.pad else ""
        return f"x = pixel * {self.scale:.9g}{plus(self.offset, '.9g')}{pad}; source: {self.source}"

    def pixel_values(self, pixels: np.ndarray) -> np.ndarray:
        """``pixel * scale + offset`` in float32 as the generated C's ``<P>_preprocess`` computes
        it: ``fmaf(pixel, (float)scale, (float)offset)``, rounded once (pixels are taken as
        float32). Same shape as ``pixels``."""
        p = np.asarray(pixels)
        return fma_f32(p.astype(np.float32), np.float32(self.scale), np.float32(self.offset))

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        """Map uint8 images (N, 28, 28) to float32 network inputs (N, 1, H, W): each pixel by
        :meth:`pixel_values`, then ``pad`` pixels of background (the value of pixel 0) around."""
        x = self.pixel_values(pixels)
        if x.ndim == 2:
            x = x[None]
        if self.pad:
            p = self.pad
            x = np.pad(x, ((0, 0), (p, p), (p, p)), constant_values=self.pixel_values(np.uint8(0)))
        return x[:, None]


@dataclass(frozen=True)
class LayerInfo:
    """Counts for one layer, as ``lenetc info`` prints them."""

    name: str
    kind: str
    description: str
    input_shape: Shape
    output_shape: Shape
    params: int
    connections: int
    macs: int
    activation_bytes: int


@dataclass
class Network:
    """A feed-forward network: ``layers`` applied in order to an input of ``input_shape`` (C, H, W).

    ``params`` maps ``<layer>.<suffix>`` (``C1.weight``, ``C3.table`` ...) to arrays in the
    canonical layout; see :meth:`validate`.
    """

    name: str
    input_shape: Shape
    layers: list[Layer]
    params: dict[str, np.ndarray] = field(default_factory=dict)
    preprocess: Preprocess = field(default_factory=Preprocess)

    # ---- structure -------------------------------------------------------------------
    def shapes(self) -> list[Shape]:
        """Input shape followed by each layer's output shape."""
        shapes = [tuple(self.input_shape)]
        for layer in self.layers:
            shapes.append(tuple(layer.output_shape(shapes[-1])))
        return shapes

    @property
    def output_shape(self) -> Shape:
        return self.shapes()[-1]

    @property
    def output_kind(self) -> str:
        """``distance`` (RBF: smallest wins), ``probability`` (softmax), ``log_probability`` or ``logit``."""
        last = self.layers[-1] if self.layers else None
        if isinstance(last, RBF):
            return "distance"
        if isinstance(last, Softmax):
            return "log_probability" if last.log else "probability"
        return "logit"

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise LenetcError(f"model '{self.name}' has no layer '{name}'")

    def expected_params(self) -> dict[str, Shape]:
        """Every parameter key the layers need, with its shape."""
        out: dict[str, Shape] = {}
        for layer, in_shape in zip(self.layers, self.shapes()):
            for suffix, shape in layer.param_shapes(in_shape).items():
                out[f"{layer.name}.{suffix}"] = tuple(shape)
        return out

    def validate(self, source: str = "") -> Network:
        """Check layer names, shapes and parameters; raise a one-line :class:`LenetcError`."""
        where = f" in {source}" if source else ""
        problem = name_problem(self.name)
        if problem:
            raise LenetcError(f"model name {shown(self.name)}{where} {problem}")
        if len(self.input_shape) != 3 or min(self.input_shape) < 1:
            raise LenetcError(f"model '{self.name}': input shape must be (C, H, W), got {self.input_shape}")
        names = [layer.name for layer in self.layers]
        for name in names:
            problem = name_problem(name)
            if problem:
                raise LenetcError(f"model '{self.name}'{where}: layer name {shown(name)} {problem}")
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise LenetcError(f"model '{self.name}': duplicate layer name(s) {sorted(dup)}")
        self._check_sizes(where)
        expected = self.expected_params()
        for key, shape in expected.items():
            if key not in self.params:
                raise LenetcError(f"missing weight '{key}'{where} (expected shape {shape})")
            arr = self.params[key]
            if tuple(arr.shape) != shape:
                raise LenetcError(f"weight '{key}'{where} has shape {tuple(arr.shape)}, expected {shape}")
            if key.endswith(".table"):
                if not np.isin(arr, (0, 1)).all():
                    raise LenetcError(f"connection table '{key}'{where} must hold only 0 and 1")
                empty = np.flatnonzero(arr.sum(axis=1) == 0)
                if empty.size:
                    raise LenetcError(f"connection table '{key}'{where}: output map {empty[0]} reads no input")
            elif not np.isfinite(arr).all():
                bad_at = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
                raise LenetcError(f"weight '{key}'{where} holds NaN or Inf (first at index {bad_at})")
        extra = sorted(set(self.params) - set(expected))
        if extra:
            raise LenetcError(f"unexpected weight '{extra[0]}'{where}: model '{self.name}' has no such parameter")
        return self

    def _check_sizes(self, where: str) -> None:
        """Every tensor within :data:`~lenetc.limits.MAX_TENSOR_ELEMENTS`, checked shape by shape
        before anything is allocated for it."""
        shape = tuple(self.input_shape)
        check_tensor(shape, f"model '{self.name}'{where}: the input")
        for layer in self.layers:
            shape = tuple(layer.output_shape(shape))
            check_tensor(shape, f"model '{self.name}'{where}: the output of layer '{layer.name}'")

    # ---- counts ----------------------------------------------------------------------
    def layer_info(self) -> list[LayerInfo]:
        """Per-layer shapes and counts (parameters, connections, MACs, float32 activation bytes)."""
        rows = []
        shapes = self.shapes()
        for layer, in_shape, out_shape in zip(self.layers, shapes, shapes[1:]):
            rows.append(
                LayerInfo(
                    name=layer.name,
                    kind=layer.kind,
                    description=layer.describe(in_shape),
                    input_shape=in_shape,
                    output_shape=out_shape,
                    params=layer.trainable_params(in_shape, self.params),
                    connections=layer.connections(in_shape, self.params),
                    macs=layer.macs(in_shape, self.params),
                    activation_bytes=4 * math.prod(out_shape),
                )
            )
        return rows

    def totals(self) -> dict[str, int]:
        rows = self.layer_info()
        return {
            "params": sum(r.params for r in rows),
            "connections": sum(r.connections for r in rows),
            "macs": sum(r.macs for r in rows),
            "activation_bytes": sum(r.activation_bytes for r in rows),
        }

    # ---- weights ---------------------------------------------------------------------
    def weights_hash(self) -> str:
        """SHA-256 over the architecture and every parameter (dtype, shape, bytes)."""
        h = hashlib.sha256(self.arch_json().encode())
        for key in sorted(self.params):
            arr = np.ascontiguousarray(self.params[key])
            h.update(f"{key}|{arr.dtype.str}|{arr.shape}|".encode())
            h.update(arr.tobytes())
        return h.hexdigest()

    def arch_json(self) -> str:
        """The architecture (everything but the weights) as a JSON string."""
        arch = {
            "format": FORMAT_VERSION,
            "name": self.name,
            "input_shape": list(self.input_shape),
            "preprocess": {
                "scale": self.preprocess.scale,
                "offset": self.preprocess.offset,
                "pad": self.preprocess.pad,
            },
            "layers": [layer.to_json() for layer in self.layers],
        }
        return json.dumps(arch, sort_keys=True)

    @staticmethod
    def from_arch_json(text: str, params: dict[str, np.ndarray] | None = None) -> Network:
        try:
            arch = json.loads(text)
            if not isinstance(arch, dict):
                raise LenetcError(f"architecture JSON must be an object, not a {type(arch).__name__}")
            if not isinstance(arch.get("layers"), list):
                raise LenetcError("architecture JSON needs a list of layers under 'layers'")
            bad = next((obj for obj in arch["layers"] if not isinstance(obj, dict)), None)
            if bad is not None:
                raise LenetcError(f"architecture JSON: every layer must be an object, got {shown(bad)}")
            fmt = arch.get("format", FORMAT_VERSION)
            if isinstance(fmt, bool) or fmt != FORMAT_VERSION:
                raise LenetcError(f"format {shown(fmt)} is not one this lenetc reads ({FORMAT_VERSION})")
            shape = arch["input_shape"]
            if not isinstance(shape, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in shape):
                raise LenetcError(f"input_shape must be a list of integers, got {shown(shape)}")
            if not isinstance(arch["name"], str):
                raise LenetcError(f"name must be a string, got {shown(arch['name'])}")
            return Network(
                name=arch["name"],
                input_shape=tuple(shape),
                layers=[layer_from_json(obj) for obj in arch["layers"]],
                params=dict(params or {}),
                preprocess=preprocess_from_json(arch.get("preprocess")),
            )
        except LenetcError as exc:
            raise LenetcError(f"architecture JSON is malformed: {exc}") from None
        except RecursionError:
            raise LenetcError("architecture JSON is malformed: nested too deeply") from None
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            raise LenetcError(f"architecture JSON is malformed: {exc}") from None

    def with_preprocess(self, preprocess: Preprocess) -> Network:
        """A copy of this network that maps MNIST digits with ``preprocess``."""
        return Network(self.name, self.input_shape, list(self.layers), dict(self.params), preprocess)

    def with_params(self, params: dict[str, np.ndarray]) -> Network:
        """A copy of this network with other parameters (validated)."""
        net = Network(self.name, self.input_shape, list(self.layers), dict(params), self.preprocess)
        return net.validate()


def stated_preprocess(base: Preprocess, given: Preprocess | Mapping[str, float], source: str) -> Preprocess:
    """The preprocessing a user states: a whole :class:`Preprocess`, or some of ``scale``,
    ``offset`` and ``pad`` with the rest kept from ``base``. The result is not a guess."""
    if isinstance(given, Preprocess):
        return dataclasses.replace(given, source=source, guessed=False)
    unknown = sorted(set(given) - {"scale", "offset", "pad"})
    if unknown:
        raise LenetcError(f"unknown preprocess field(s) {unknown} (known: scale, offset, pad)")
    return dataclasses.replace(base, **dict(given), source=source, guessed=False)


def preprocess_from_json(obj: object) -> Preprocess:
    """The ``preprocess`` block of an architecture; an absent block is the /255 guess, flagged as one."""
    if obj is None:
        return Preprocess(source="lenetc's guess, the architecture states none", guessed=True)
    if not isinstance(obj, dict):
        raise LenetcError(f"preprocess must be an object, not {shown(obj)}")
    unknown = sorted(set(obj) - {"scale", "offset", "pad"})
    if unknown:
        raise LenetcError(f"preprocess has unknown field(s) {unknown}")
    return Preprocess(obj.get("scale", 1 / 255), obj.get("offset", 0.0), obj.get("pad", 0), "the model's __arch__")
