"""A chain of lenetc layers built one step at a time by the ONNX and Keras importers.

The importers translate framework operators; this module owns what they share: unique
layer names, fusing an activation into the layer before it, folding a per-channel scale
and shift (BatchNormalization, a bias Add, a Mul by a constant) into the preceding
convolution or dense layer, and otherwise emitting an :class:`~lenetc.layers.Affine` layer.
"""

from __future__ import annotations

import numpy as np

from ..errors import LenetcError
from ..layers import Act, Activation, Affine, Conv2D, Dense, Flatten, Layer, Shape, Subsampling
from ..names import MAX_NAME_LENGTH, unique_identifier
from ..network import Network, Preprocess


def guess_preprocess(input_shape: Shape) -> Preprocess:
    """MNIST mapping for an imported model that states none: pixels / 255, padded to the input
    size when it is square and larger. Flagged as a guess (``info`` and ``verify`` say so)."""
    c, h, w = input_shape
    pad = (h - 28) // 2 if c == 1 and h == w and h >= 28 and (h - 28) % 2 == 0 else 0
    source = "lenetc's guess, the file states none (override with --scale/--offset/--pad)"
    return Preprocess(scale=1.0 / 255.0, offset=0.0, pad=pad, source=source, guessed=True)


def batchnorm_scale(gamma: np.ndarray, var: np.ndarray, eps: float) -> np.ndarray:
    """gamma / sqrt(var + eps) in float64, refusing statistics that have none: var + eps must be
    a positive finite number per channel (a negative or zero one gives NaN or Inf)."""
    denom = np.asarray(var, np.float64).reshape(-1) + float(eps)
    bad = ~(np.isfinite(denom) & (denom > 0))
    if bad.any():
        c = int(np.flatnonzero(bad)[0])
        raise LenetcError(f"BatchNormalization: variance + epsilon is {denom[c]:g} for channel {c}; it must be > 0")
    return np.asarray(gamma, np.float64).reshape(-1) / np.sqrt(denom)


class ChainBuilder:
    """Accumulates layers and float32 parameters; ``shape`` is the current (C, H, W) or (F,) shape."""

    def __init__(self, name: str, input_shape: Shape):
        self.name = name
        self.input_shape = tuple(int(v) for v in input_shape)
        self.layers: list[Layer] = []
        self.params: dict[str, np.ndarray] = {}
        self.shape: Shape = self.input_shape
        #: Bumped on every change to the chain; importers use it to reject reads of stale tensors.
        self.step = 0
        self._names: set[str] = set()

    def unique(self, raw: str) -> str:
        """A layer name from ``raw``: letters, digits and '_' only, unique in the chain."""
        if isinstance(raw, bytes):  # a corrupt file can hold names that are not UTF-8
            raw = raw.decode("utf-8", "replace")
        return unique_identifier(raw or "layer", self._names, MAX_NAME_LENGTH)

    def add(self, layer: Layer, params: dict[str, np.ndarray] | None = None) -> Layer:
        """Append ``layer`` with parameters given by suffix; checks shapes as it goes."""
        out_shape = tuple(layer.output_shape(self.shape))
        expected = layer.param_shapes(self.shape)
        for suffix, arr in (params or {}).items():
            arr = np.asarray(arr, dtype=np.uint8 if suffix == "table" else np.float32)
            if tuple(arr.shape) != tuple(expected[suffix]):
                raise LenetcError(
                    f"layer '{layer.name}': parameter '{suffix}' has shape {arr.shape}, expected {expected[suffix]}"
                )
            self.params[f"{layer.name}.{suffix}"] = arr
        self.layers.append(layer)
        self.shape = out_shape
        self.step += 1
        return layer

    def _foldable(self) -> Conv2D | Dense | None:
        """The last layer, if a following per-channel scale/shift and activation can go into it."""
        last = self.layers[-1] if self.layers else None
        if isinstance(last, (Conv2D, Dense)) and last.act is None and not getattr(last, "sparse", False):
            return last
        return None

    def add_act(self, act: Act, raw_name: str) -> None:
        """Fuse ``act`` into the preceding conv/dense/subsampling layer, else add an Activation layer."""
        last = self.layers[-1] if self.layers else None
        if isinstance(last, (Conv2D, Dense, Subsampling)) and last.act is None:
            last.act = act
            self.step += 1
        else:
            self.add(Activation(self.unique(raw_name), act=act))

    def flatten(self, raw_name: str, order: str = "CHW") -> None:
        """Make the current tensor a vector (no-op if it is one already)."""
        if len(self.shape) == 1:
            return
        if self.shape[1:] == (1, 1) and order == "HWC":
            order = "CHW"  # one pixel: both orders are the same bytes
        self.add(Flatten(self.unique(raw_name), order=order))

    def add_affine(self, scale: np.ndarray, shift: np.ndarray, raw_name: str) -> None:
        """Apply ``x * scale + shift`` with arrays broadcastable to the current shape.

        Per-channel (or whole-tensor) constants fold into a preceding conv/dense layer; a
        preceding Affine absorbs this one; otherwise a new Affine layer is added.
        """
        full_s = np.broadcast_to(np.asarray(scale, np.float64), self.shape)
        full_t = np.broadcast_to(np.asarray(shift, np.float64), self.shape)
        last = self.layers[-1] if self.layers else None
        target = self._foldable()
        per_s, per_t = _per_channel(full_s), _per_channel(full_t)
        if target is not None and per_s is not None and per_t is not None:
            w, b = f"{target.name}.weight", f"{target.name}.bias"
            weight = self.params[w].astype(np.float64)
            self.params[w] = (weight * per_s.reshape((-1,) + (1,) * (weight.ndim - 1))).astype(np.float32)
            self.params[b] = (self.params[b].astype(np.float64) * per_s + per_t).astype(np.float32)
            self.step += 1
            return
        if isinstance(last, Affine):
            prev_s = np.broadcast_to(_expand(last, self.params[f"{last.name}.scale"], self.shape), self.shape)
            prev_t = np.broadcast_to(_expand(last, self.params[f"{last.name}.shift"], self.shape), self.shape)
            full_s, full_t = prev_s * full_s, prev_t * full_s + full_t
            self.layers.pop()
            del self.params[f"{last.name}.scale"], self.params[f"{last.name}.shift"]
        per, s, t = _compress(full_s, full_t)
        self.add(Affine(self.unique(raw_name), per=per), {"scale": s, "shift": t})

    def network(self, preprocess: Preprocess | None = None) -> Network:
        net = Network(
            self.name, self.input_shape, self.layers, self.params, preprocess or guess_preprocess(self.input_shape)
        )
        return net.validate()


def _per_channel(full: np.ndarray) -> np.ndarray | None:
    """(C,) values if ``full`` is constant over everything but the first axis, else None."""
    flat = full.reshape(full.shape[0], -1)
    if (flat == flat[:, :1]).all():
        return flat[:, 0].copy()
    return None


def _expand(layer: Affine, values: np.ndarray, shape: Shape) -> np.ndarray:
    values = values.astype(np.float64)
    if layer.per == "channel":
        return values.reshape((-1,) + (1,) * (len(shape) - 1))
    if layer.per == "tensor":
        return values.reshape(())
    return values.reshape(shape)


def _compress(full_s: np.ndarray, full_t: np.ndarray) -> tuple[str, np.ndarray, np.ndarray]:
    """The smallest ``per`` mode that represents both arrays exactly."""
    if (full_s == full_s.flat[0]).all() and (full_t == full_t.flat[0]).all():
        return "tensor", full_s.reshape(-1)[:1].copy(), full_t.reshape(-1)[:1].copy()
    ps, pt = _per_channel(full_s), _per_channel(full_t)
    if ps is not None and pt is not None:
        return "channel", ps, pt
    return "element", np.array(full_s), np.array(full_t)
