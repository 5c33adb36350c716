"""Layout operators of the ONNX importer: aliases, shapes, reshapes, transposes, the RBF pattern.

ONNX moves data around with Reshape/Flatten/Squeeze/Unsqueeze/Transpose; lenetc's chain
only needs to know when such a move changes the bytes of a sample. A reshape that keeps
the batch axis is a view (same bytes); a flatten of a channels-last view becomes an
H,W,C-order Flatten layer; anything else is out of scope with a one-line reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import LenetcError
from .builder import ChainBuilder


@dataclass(frozen=True)
class Dyn:
    """The computed tensor as ONNX sees it: ``shape`` has the batch first; ``last`` means the
    channel axis sits last (N, *spatial, C) while lenetc keeps (C, *spatial)."""

    shape: tuple[int, ...]
    last: bool
    step: int


class _Unsupported(LenetcError):
    """Raised by a handler with just the reason; the walker adds the node's name and type."""


class LayoutOps:
    """Mixin for :class:`~lenetc.importers.onnx_import.OnnxImporter` (uses its ``b``, ``dyn``, ``consts``)."""

    # ---- layout ------------------------------------------------------------------------------
    def _alias(self, node, d: Dyn):
        self.set(node, d.shape, d.last)

    def op_Identity(self, node, a):
        self._alias(node, self.x(node)[1])

    def op_Dropout(self, node, a):
        _, d = self.x(node)
        training = self.const(node, 2, "training_mode")
        ratio = self.const(node, 1, "ratio", np.array(a.get("ratio", 0.5)))
        if training is not None and bool(training) and float(ratio) != 0.0:
            raise _Unsupported("training-mode dropout is random; only inference (or ratio 0) is supported")
        self._alias(node, d)

    def op_Cast(self, node, a):
        _, d = self.x(node)
        if int(a.get("to", 0)) != 1:  # TensorProto.FLOAT
            raise _Unsupported(f"cast of the computed tensor to type {a.get('to')}: lenetc computes in float32")
        self._alias(node, d)

    def op_Concat(self, node, a):
        raise _Unsupported("on a computed tensor: only constant (shape) inputs are folded")

    op_Gather = op_Concat

    def op_Shape(self, node, a):
        d = self.dyn[node.input[0]]
        shape = np.array((self.batch, *d.shape[1:]), np.int64)
        self.consts[node.output[0]] = shape[slice(a.get("start", 0), a.get("end", None))]

    def op_Size(self, node, a):
        d = self.dyn[node.input[0]]
        self.consts[node.output[0]] = np.array(self.batch * math.prod(d.shape[1:]), np.int64)

    def _reshape(self, node, d: Dyn, target: tuple[int, ...]):
        if target == d.shape:
            return self._alias(node, d)
        if target[:1] != d.shape[:1]:
            raise _Unsupported(f"reshape of {list(d.shape)} to {list(target)} moves data across the batch axis")
        if len(target) == 2:
            self.b.flatten(node.name or node.output[0], "HWC" if d.last else "CHW")
            self.dyn[node.output[0]] = Dyn(target, False, self.b.step)
            return
        if d.last:
            raise _Unsupported(f"reshape of the channels-last {list(d.shape)} to {list(target)} reorders data")
        # Same bytes per sample: only ONNX's view changes; ops that need lenetc's (C, H, W) check it.
        self.dyn[node.output[0]] = Dyn(target, False, self.b.step)

    def op_Flatten(self, node, a):
        _, d = self.x(node)
        axis = int(a.get("axis", 1))
        axis = axis + len(d.shape) if axis < 0 else axis
        if axis != 1:
            raise _Unsupported(f"axis {axis}: only axis 1 keeps the batch axis apart")
        self._reshape(node, d, (d.shape[0], math.prod(d.shape[1:])))

    def op_Reshape(self, node, a):
        _, d = self.x(node)
        shape = [int(v) for v in self.const(node, 1, "shape").reshape(-1)]
        if not a.get("allowzero", 0):
            shape = [d.shape[i] if v == 0 and i < len(d.shape) else v for i, v in enumerate(shape)]
        if shape.count(-1) == 1:
            known = math.prod(v for v in shape if v != -1)
            shape[shape.index(-1)] = math.prod(d.shape) // known if known else 0
        if math.prod(shape) != math.prod(d.shape):
            raise _Unsupported(f"cannot reshape {list(d.shape)} to {shape}")
        self._reshape(node, d, tuple(shape))

    def _axes(self, node, a) -> list[int]:
        axes = a.get("axes") if self.opset < 13 else self.const(node, 1, "axes")
        return [] if axes is None else [int(v) for v in np.asarray(axes).reshape(-1)]

    def op_Squeeze(self, node, a):
        _, d = self.x(node)
        axes = [v % len(d.shape) for v in self._axes(node, a)] or [i for i, n in enumerate(d.shape) if n == 1]
        if d.last:
            raise _Unsupported("squeeze of a channels-last tensor not supported")
        self._reshape(node, d, tuple(n for i, n in enumerate(d.shape) if i not in axes))

    def op_Unsqueeze(self, node, a):
        _, d = self.x(node)
        axes = self._axes(node, a)
        if len(d.shape) == 2 and axes == [1] and self._rbf(node, d):
            return
        rank = len(d.shape) + len(axes)
        axes = sorted(v % rank for v in axes)
        shape, rest = [], iter(d.shape)
        for i in range(rank):
            shape.append(1 if i in axes else next(rest))
        if d.last:
            raise _Unsupported("unsqueeze of a channels-last tensor not supported")
        self._reshape(node, d, tuple(shape))

    def op_Transpose(self, node, a):
        _, d = self.x(node)
        r = len(d.shape)
        perm = tuple(int(v) for v in a.get("perm", range(r - 1, -1, -1)))
        shape = tuple(d.shape[p] for p in perm)
        if perm == tuple(range(r)):
            return self._alias(node, d)
        if r == 4 and perm == (0, 3, 1, 2) and not self.b.layers and d.shape[-1] == 1 and not d.last:
            # A channels-last one-channel input (Keras, TensorFlow): the same bytes as (N, 1, H, W).
            self.b = ChainBuilder(self.b.name, (1, d.shape[1], d.shape[2]))
            self.dyn[node.output[0]] = Dyn(shape, False, self.b.step)
            return
        to_last, to_first = (0, *range(2, r), 1), (0, r - 1, *range(1, r - 1))
        if r >= 3 and not d.last and perm == to_last:
            self.dyn[node.output[0]] = Dyn(shape, True, self.b.step)
        elif r >= 3 and d.last and perm == to_first:
            self.dyn[node.output[0]] = Dyn(shape, False, self.b.step)
        else:
            raise _Unsupported(
                f"perm {list(perm)} on {list(d.shape)}: only a channels-first/last swap before a flatten"
            )
