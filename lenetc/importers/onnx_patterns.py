"""Recognising lenetc's own ONNX export: the patterns it writes for LeNet-5's special layers.

lenetc exports LeNet-5 with standard operators only (see :mod:`lenetc.exporters.onnx_export`);
these recognisers turn those patterns back into the paper's layers so that an export
imports as the same architecture: RBF (Unsqueeze -> Sub -> Mul -> ReduceSum), scaled tanh
(Mul(2/3) -> Tanh -> Mul(1.7159)) and trainable subsampling (a depthwise Conv whose kernel
holds one value per map). Every pattern computes exactly what the plain operators compute.
"""

from __future__ import annotations

import numpy as np

from ..layers import RBF, SCALED_TANH_A, SCALED_TANH_S, Act, Subsampling
from .onnx_fold import attrs
from .onnx_layout import Dyn


class PatternOps:
    """Mixin for :class:`~lenetc.importers.onnx_import.OnnxImporter` (uses ``b``, ``dyn``, ``consts``, ``done``)."""

    def _only_consumer(self, name: str, op: str):
        users = self.consumers.get(name, [])
        outputs = {o.name for o in self.graph.output}
        return users[0] if len(users) == 1 and users[0].op_type == op and name not in outputs else None

    def _rbf(self, node, d: Dyn) -> bool:
        """Unsqueeze(1) -> Sub(prototypes) -> Mul(d, d) -> ReduceSum(2): LeNet-5's RBF output."""
        sub = self._only_consumer(node.output[0], "Sub")
        if sub is None or sub.input[0] != node.output[0] or sub.input[1] not in self.consts:
            return False
        mul = self._only_consumer(sub.output[0], "Mul")
        if mul is None or list(mul.input) != [sub.output[0]] * 2:
            return False
        red = self._only_consumer(mul.output[0], "ReduceSum")
        if red is None:
            return False
        ra = attrs(red)
        axes = ra.get("axes") if self.opset < 13 else self.const(red, 1, "axes")
        proto = self.consts[sub.input[1]]
        if axes is None or [int(v) for v in np.asarray(axes).reshape(-1)] not in ([2], [-1]) or ra.get("keepdims", 1):
            return False
        if proto.ndim != 2 or proto.shape[1] != d.shape[1]:
            return False
        self.b.add(RBF(self.name(node, "rbf"), units=int(proto.shape[0])), {"prototypes": proto})
        self.done.update({id(sub), id(mul), id(red)})
        self.dyn[red.output[0]] = Dyn((d.shape[0], proto.shape[0]), False, self.b.step)
        return True

    def _scaled_tanh(self, node, factor: np.ndarray, d: Dyn) -> bool:
        """Mul(S) -> Tanh -> Mul(A) with LeCun's A = 1.7159, S = 2/3: the ``scaled_tanh`` activation."""
        if factor.size != 1 or np.float32(factor.reshape(-1)[0]) != np.float32(SCALED_TANH_S):
            return False
        tanh = self._only_consumer(node.output[0], "Tanh")
        mul = self._only_consumer(tanh.output[0], "Mul") if tanh is not None else None
        if mul is None:
            return False
        other = [n for n in mul.input if n != tanh.output[0]]
        amp = self.consts.get(other[0]) if len(other) == 1 else None
        if amp is None or amp.size != 1 or np.float32(amp.reshape(-1)[0]) != np.float32(SCALED_TANH_A):
            return False
        self.b.add_act(Act("scaled_tanh"), node.name or node.output[0])
        self.done.update({id(tanh), id(mul)})
        self.dyn[mul.output[0]] = Dyn(d.shape, d.last, self.b.step)
        return True

    def _subsampling(self, node, w4, bias, group, kernel, stride, padding) -> bool:
        """A depthwise s x s, stride-s, unpadded Conv whose kernel holds one value per map is LeNet-5's
        trainable subsampling (sum of the window x coefficient + bias), as lenetc exports it."""
        c, h, w = self.b.shape
        s = kernel[0]
        if not (group == c == w4.shape[0] and w4.shape[1] == 1 and kernel == (s, s) == stride and s > 1):
            return False
        if any(padding) or h % s or w % s:
            return False
        flat = w4.reshape(c, -1)
        if not (flat == flat[:, :1]).all():
            return False
        self.b.add(Subsampling(self.name(node, "subsampling"), size=s), {"coeff": flat[:, 0], "bias": bias})
        return True
