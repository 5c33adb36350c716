"""ONNX graph -> lenetc :class:`~lenetc.network.Network`.

The graph is walked in its (topological) node order. Every value is either a constant
(initializers, Constant nodes, anything folded from constants, the shape of a tensor) or
the one *computed* tensor: the output of the layer chain built so far, seen as an ONNX
tensor with a batch axis. Operators on the computed tensor append lenetc layers; a
graph that branches (reads an older computed tensor) cannot be a lenetc chain.

ONNX inputs of rank 1 to 4 map to one (C, H, W) sample: (N,) -> (1, 1, 1), (N, C) ->
(C, 1, 1), (N, C, L) -> (C, 1, L), (N, C, H, W) -> (C, H, W). 1-D convolution and pooling
become 2-D ones with height 1. A symbolic batch axis is treated as 1.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import LenetcError
from ..layers import Act, Conv2D, Dense, Pool2D, Softmax
from ..limits import MAX_FOLDED_BYTES
from ..network import Network
from .builder import ChainBuilder, batchnorm_scale
from .onnx_fold import attrs, fold, opset_of, tensor_to_array
from .onnx_layout import Dyn, LayoutOps, _Unsupported
from .onnx_meta import preprocess_from_props
from .onnx_patterns import PatternOps
from .onnx_quantized import quantized_format
from .onnx_values import check_unique_names, float32_operand, input_shape


class OnnxImporter(LayoutOps, PatternOps):
    """Walks one graph; layout operators (reshape, transpose, ...) come from :class:`LayoutOps`."""

    def __init__(self, model, name: str):
        self.model, self.graph = model, model.graph
        self.opset = opset_of(model)
        if quantized_format(self.graph) is not None:
            raise LenetcError("a quantized graph reaches the float importer (import it with load_onnx or import_model)")
        check_unique_names(self.graph)
        self.consts: dict[str, np.ndarray] = {t.name: tensor_to_array(t) for t in self.graph.initializer}
        self.dyn: dict[str, Dyn] = {}
        real_inputs = [i for i in self.graph.input if i.name not in self.consts]
        if len(real_inputs) != 1:
            names = [i.name for i in real_inputs]
            raise LenetcError(f"ONNX model must have exactly one non-constant input, found {len(names)}: {names}")
        self.input = real_inputs[0]
        self.onnx_input_shape, self.batch = input_shape(self.input)
        sample = self.onnx_input_shape[1:]
        chw = (*sample, 1, 1, 1)[:3] if len(sample) < 2 else (sample[0], 1, sample[1]) if len(sample) == 2 else sample
        self.b = ChainBuilder(name, chw)
        self.dyn[self.input.name] = Dyn(self.onnx_input_shape, False, 0)

    # ---- walking -------------------------------------------------------------------------
    def run(self) -> Network:
        uses = {n for node in self.graph.node for n in node.input} | {o.name for o in self.graph.output}
        self.used = uses
        self.consumers: dict[str, list] = {}
        for node in self.graph.node:
            for name in dict.fromkeys(node.input):
                self.consumers.setdefault(name, []).append(node)
        self.done: set[int] = set()  # nodes consumed by a pattern (the RBF output)
        self.folded_bytes = 0
        for node in self.graph.node:
            if id(node) in self.done:
                continue
            for name in node.input:
                if name and name not in self.consts and name not in self.dyn:
                    raise LenetcError(
                        f"node '{_label(node)}' ({node.op_type}): input '{name}' is not defined (missing initializer?)"
                    )
            if node.domain not in ("", "ai.onnx"):
                raise LenetcError(
                    f"node '{_label(node)}' ({node.op_type}): custom domain '{node.domain}' not supported"
                )
            dynamic = [n for n in node.input if n in self.dyn]
            try:
                if not dynamic:
                    outs = fold(node, [self.consts[n] if n else None for n in node.input], self.opset)
                    self.folded_bytes += sum(int(np.asarray(v).nbytes) for v in outs)
                    if self.folded_bytes > MAX_FOLDED_BYTES:
                        raise LenetcError(f"constant folding has produced more than {MAX_FOLDED_BYTES:,} bytes")
                    self.consts.update({o: v for o, v in zip(node.output, outs, strict=False) if o})
                    continue
                handler = getattr(self, f"op_{node.op_type}", None)
                if handler is None:
                    raise _Unsupported("operator not supported")
                for name in dynamic:
                    if self.dyn[name].step != self.b.step and node.op_type not in ("Shape", "Size"):
                        raise _Unsupported(
                            f"reads '{name}', an earlier tensor: the graph branches, lenetc compiles a chain"
                        )
                handler(node, attrs(node))
            except LenetcError as exc:
                raise LenetcError(f"node '{_label(node)}' ({node.op_type}): {exc}") from None
            except (TypeError, ValueError, KeyError, IndexError, AttributeError, ArithmeticError) as exc:
                # a malformed node (wrong attribute types, impossible values) that no check above caught
                msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                label = f"node '{_label(node)}' ({node.op_type})"
                raise LenetcError(f"{label} is malformed ({type(exc).__name__}: {msg})") from None
        return self.finish()

    def finish(self) -> Network:
        if len(self.graph.output) != 1:
            raise LenetcError(f"ONNX model must have exactly one output, found {len(self.graph.output)}")
        out = self.graph.output[0].name
        if out not in self.dyn:
            raise LenetcError(f"output '{out}' does not depend on the input '{self.input.name}' (a constant graph)")
        d = self.dyn[out]
        if d.step != self.b.step:
            raise LenetcError(f"output '{out}' is not the end of the layer chain (the graph branches)")
        if d.last and len(d.shape) >= 3:
            self.b.flatten("output_hwc", "HWC")  # give the output ONNX's channels-last byte order
        return self.b.network(preprocess_from_props(self.model))

    # ---- helpers ---------------------------------------------------------------------------
    def x(self, node) -> tuple[str, Dyn]:
        """The node's first input, which must be the computed tensor."""
        name = node.input[0]
        if name not in self.dyn:
            raise _Unsupported("its first input must be the computed tensor")
        return name, self.dyn[name]

    def const(self, node, i: int, what: str, default: np.ndarray | None = None) -> np.ndarray | None:
        if len(node.input) <= i or not node.input[i]:
            return default
        name = node.input[i]
        if name not in self.consts:
            raise _Unsupported(f"{what} '{name}' must be a constant (initializer), not computed")
        return self.consts[name]

    def set(self, node, shape, last: bool = False) -> None:
        self.dyn[node.output[0]] = Dyn(tuple(int(v) for v in shape), last, self.b.step)
        for extra in node.output[1:]:
            if extra and extra in self.used:
                raise _Unsupported(f"its extra output '{extra}' is used; only the first output is supported")

    def chw_input(self, d: Dyn) -> None:
        if d.last or len(d.shape) not in (3, 4) or len(self.b.shape) != 3:
            raise _Unsupported(f"needs an (N, C, H, W) or (N, C, L) tensor, got shape {list(d.shape)}")
        sample = d.shape[1:]
        held = (sample[0], 1, sample[1]) if len(sample) == 2 else tuple(sample)
        if held != tuple(self.b.shape):
            raise _Unsupported(f"the tensor was reshaped to {list(d.shape)}; lenetc holds it as {list(self.b.shape)}")

    def name(self, node, fallback: str) -> str:
        return self.b.unique(node.name or node.output[0] or fallback)

    # ---- convolution and pooling -------------------------------------------------------------
    def _window(self, node, a, d: Dyn, kernel: tuple[int, ...]):
        """(kernel, stride, padding (t, l, b, r)) in 2-D from ONNX attributes for 1-D or 2-D windows."""
        nsp = len(d.shape) - 2
        if len(kernel) != nsp:
            raise _Unsupported(f"{len(kernel)}-D window on a {nsp}-D input")
        dil = list(a.get("dilations", [1] * nsp))
        if any(v != 1 for v in dil):
            raise _Unsupported(f"dilations {dil} not supported")
        strides = list(a.get("strides", [1] * nsp))
        pads = list(a.get("pads", [0] * (2 * nsp)))
        if len(strides) != nsp or len(pads) != 2 * nsp:
            raise _Unsupported(f"strides {strides} and pads {pads} do not fit a {nsp}-D window")
        if min(kernel) < 1 or min(strides) < 1 or min(pads) < 0:
            raise _Unsupported(f"kernel {list(kernel)}, strides {strides} and pads {pads} must be positive (pads >= 0)")
        auto = a.get("auto_pad", "NOTSET")
        size = d.shape[2:]
        if auto == "VALID":
            pads = [0] * (2 * nsp)
        elif auto in ("SAME_UPPER", "SAME_LOWER"):
            total = [max((-(-n // s) - 1) * s + k - n, 0) for n, s, k in zip(size, strides, kernel, strict=True)]
            small = [t // 2 for t in total]
            big = [t - t // 2 for t in total]
            pads = small + big if auto == "SAME_UPPER" else big + small
        elif auto != "NOTSET":
            raise _Unsupported(f"auto_pad '{auto}' not supported")
        if nsp == 1:
            return (1, kernel[0]), (1, strides[0]), (0, pads[0], 0, pads[1])
        return tuple(kernel), tuple(strides), (pads[0], pads[1], pads[2], pads[3])

    def _spatial_out(self, d: Dyn) -> tuple[int, ...]:
        c, h, w = self.b.shape
        return (d.shape[0], c, w) if len(d.shape) == 3 else (d.shape[0], c, h, w)

    def op_Conv(self, node, a):
        _, d = self.x(node)
        self.chw_input(d)
        w = float32_operand(self.const(node, 1, "weight W"), "weight W")
        if w.ndim not in (3, 4):
            raise _Unsupported(f"{w.ndim - 2}-D convolution not supported")
        if "kernel_shape" in a and list(a["kernel_shape"]) != list(w.shape[2:]):
            raise _Unsupported(f"kernel_shape {list(a['kernel_shape'])} contradicts weight shape {list(w.shape)}")
        kernel, stride, padding = self._window(node, a, d, tuple(w.shape[2:]))
        group = int(a.get("group", 1))
        bias = float32_operand(self.const(node, 2, "bias B", np.zeros(w.shape[0], np.float32)), "bias B")
        if bias.size != w.shape[0]:
            raise _Unsupported(f"bias B has {bias.size} values for {w.shape[0]} output channels")
        if group < 1 or self.b.shape[0] != w.shape[1] * group:
            raise _Unsupported(
                f"weight shape {list(w.shape)} with group={group} does not match {self.b.shape[0]} input channels"
            )
        w4 = w.reshape(w.shape[0], w.shape[1], *kernel)
        if self._subsampling(node, w4, bias.reshape(-1), group, kernel, stride, padding):
            return self.set(node, self._spatial_out(d))
        # Kernels that are entirely zero are connections that do not exist (LeNet-5's C3 table, as lenetc
        # exports it): a sparse Conv2D skips them and computes the same sums.
        table = (np.abs(w4).reshape(w4.shape[0], w4.shape[1], -1).max(axis=2) > 0).astype(np.uint8)
        sparse = group == 1 and not table.all() and table.any(axis=1).all()
        layer = Conv2D(self.name(node, "conv"), out_channels=int(w.shape[0]), kernel=kernel, stride=stride,
                       padding=padding, groups=group, sparse=bool(sparse))  # fmt: skip
        params = {"weight": w4, "bias": bias.reshape(-1)}
        self.b.add(layer, {**params, "table": table} if sparse else params)
        self.set(node, self._spatial_out(d))

    def _pool(self, node, a, mode: str):
        _, d = self.x(node)
        self.chw_input(d)
        kernel, stride, padding = self._window(node, a, d, tuple(a["kernel_shape"]))
        ceil, include = bool(a.get("ceil_mode", 0)), bool(a.get("count_include_pad", 0))
        layer = Pool2D(self.name(node, "pool"), mode=mode, kernel=kernel, stride=stride, padding=padding,
                       ceil_mode=ceil, count_include_pad=include)  # fmt: skip
        self.b.add(layer)
        self.set(node, self._spatial_out(d))

    def op_MaxPool(self, node, a):
        if a.get("storage_order", 0) and len(node.output) > 1:
            raise _Unsupported("storage_order with indices output not supported")
        self._pool(node, a, "max")

    def op_AveragePool(self, node, a):
        self._pool(node, a, "avg")

    def _global(self, node, mode: str):
        _, d = self.x(node)
        self.chw_input(d)
        _, h, w = self.b.shape
        self.b.add(Pool2D(self.name(node, "gpool"), mode=mode, kernel=(h, w), stride=(h, w)))
        self.set(node, (*d.shape[:2], *([1] * (len(d.shape) - 2))))

    def op_GlobalAveragePool(self, node, a):
        self._global(node, "avg")

    def op_GlobalMaxPool(self, node, a):
        self._global(node, "max")

    # ---- dense ---------------------------------------------------------------------------------
    def _dense(self, node, weight: np.ndarray, bias: np.ndarray, d: Dyn):
        if len(d.shape) != 2:
            raise _Unsupported(f"needs an (N, F) tensor, got shape {list(d.shape)}")
        if weight.shape[1] != d.shape[1]:
            raise _Unsupported(f"weight {list(weight.shape)} does not match {d.shape[1]} input features")
        self.b.add(Dense(self.name(node, "dense"), units=int(weight.shape[0])), {"weight": weight, "bias": bias})
        self.set(node, (d.shape[0], weight.shape[0]))

    def op_Gemm(self, node, a):
        _, d = self.x(node)
        if a.get("transA", 0):
            raise _Unsupported("transA=1 on the computed tensor not supported")
        b = float32_operand(self.const(node, 1, "B"), "B").astype(np.float64)
        if b.ndim != 2:
            raise _Unsupported(f"B must be 2-D, got shape {list(b.shape)}")
        weight = float(a.get("alpha", 1.0)) * (b if a.get("transB", 0) else b.T)
        units = weight.shape[0]
        c = float32_operand(self.const(node, 2, "C", np.zeros(1, np.float32)), "C").astype(np.float64)
        c = c * float(a.get("beta", 1.0))
        try:
            c = np.broadcast_to(c, (d.shape[0], units))
        except ValueError:
            raise _Unsupported(
                f"bias C of shape {list(c.shape)} does not broadcast to ({d.shape[0]}, {units})"
            ) from None
        if not (c == c[:1]).all():
            raise _Unsupported(f"bias C varies along the batch axis (shape {list(c.shape)})")
        self._dense(node, weight, c[0], d)

    def op_MatMul(self, node, a):
        _, d = self.x(node)
        b = float32_operand(self.const(node, 1, "B"), "B")
        if b.ndim != 2:
            raise _Unsupported(f"B must be 2-D, got shape {list(b.shape)}")
        self._dense(node, b.T, np.zeros(b.shape[1], np.float32), d)

    # ---- element-wise ------------------------------------------------------------------------
    def _per_sample(self, d: Dyn, c: np.ndarray) -> np.ndarray:
        """A constant operand broadcast to one sample, in lenetc's (C, ...) layout."""
        c = np.asarray(c, np.float64)
        try:
            shape = np.broadcast_shapes(d.shape, c.shape)
        except ValueError:
            raise _Unsupported(f"constant of shape {list(c.shape)} does not broadcast to {list(d.shape)}") from None
        if shape != d.shape:
            raise _Unsupported(f"constant of shape {list(c.shape)} grows the tensor {list(d.shape)} to {list(shape)}")
        full = np.broadcast_to(c, d.shape)
        if not (full == full[:1]).all():
            raise _Unsupported(f"constant of shape {list(c.shape)} varies along the batch axis")
        sample = full[0]
        if d.last and sample.ndim >= 2:
            sample = np.moveaxis(sample, -1, 0)
        return sample.reshape(self.b.shape)

    def _binary(self, node, op: str):
        a_dyn, b_dyn = node.input[0] in self.dyn, node.input[1] in self.dyn
        if a_dyn and b_dyn:
            raise _Unsupported("both operands are computed tensors (a branch); one must be a constant")
        d = self.dyn[node.input[0] if a_dyn else node.input[1]]
        raw = float32_operand(self.consts[node.input[1] if a_dyn else node.input[0]], "the constant operand")
        if op == "Mul" and self._scaled_tanh(node, raw, d):
            return
        c = self._per_sample(d, raw)
        one, zero = np.ones_like(c), np.zeros_like(c)
        if op == "Add":
            scale, shift = one, c
        elif op == "Mul":
            scale, shift = c, zero
        elif op == "Sub":
            scale, shift = (one, -c) if a_dyn else (-one, c)
        else:
            if not a_dyn:
                raise _Unsupported("divides a constant by the computed tensor (reciprocal) not supported")
            with np.errstate(divide="ignore"):
                scale, shift = 1.0 / c, zero
        self.b.add_affine(scale, shift, node.name or node.output[0])
        self.set(node, d.shape, d.last)

    def op_Add(self, node, a):
        self._binary(node, "Add")

    def op_Sub(self, node, a):
        self._binary(node, "Sub")

    def op_Mul(self, node, a):
        self._binary(node, "Mul")

    def op_Div(self, node, a):
        self._binary(node, "Div")

    def op_BatchNormalization(self, node, a):
        _, d = self.x(node)
        if a.get("training_mode", 0):
            raise _Unsupported("training_mode=1 (batch statistics) not supported")
        if d.last or len(d.shape) < 2:
            raise _Unsupported(f"needs the channel axis at 1, got shape {list(d.shape)}")
        stats = ("scale", "B", "mean", "var")
        gamma, beta, mean, var = (float32_operand(self.const(node, i, w), w).astype(np.float64)
                                  for i, w in enumerate(stats, 1))  # fmt: skip
        if not all(v.size == d.shape[1] for v in (gamma, beta, mean, var)):
            raise _Unsupported(f"statistics are not per channel ({d.shape[1]} channels)")
        s = batchnorm_scale(gamma, var, float(a.get("epsilon", 1e-5)))
        t = beta.reshape(-1) - mean.reshape(-1) * s
        tail = (1,) * (len(d.shape) - 2)
        s_full = np.broadcast_to(s.reshape(-1, *tail), d.shape[1:]).reshape(self.b.shape)
        t_full = np.broadcast_to(t.reshape(-1, *tail), d.shape[1:]).reshape(self.b.shape)
        self.b.add_affine(s_full, t_full, node.name or node.output[0])
        self.set(node, d.shape)

    def _act(self, node, act: Act):
        _, d = self.x(node)
        self.b.add_act(act, node.name or node.output[0])
        self.set(node, d.shape, d.last)

    def op_Relu(self, node, a):
        self._act(node, Act("relu"))

    def op_Tanh(self, node, a):
        self._act(node, Act("tanh"))

    def op_Sigmoid(self, node, a):
        self._act(node, Act("sigmoid"))

    def op_LeakyRelu(self, node, a):
        self._act(node, Act("leaky_relu", alpha=float(a.get("alpha", 0.01))))

    def op_Clip(self, node, a):
        if self.opset < 11:
            lo, hi = float(a.get("min", -math.inf)), float(a.get("max", math.inf))
        else:
            lo_c, hi_c = self.const(node, 1, "min"), self.const(node, 2, "max")
            lo = float(lo_c.reshape(-1)[0]) if lo_c is not None else -math.inf
            hi = float(hi_c.reshape(-1)[0]) if hi_c is not None else math.inf
        if lo > hi:
            lo = hi  # ONNX: with min > max every output is max
        self._act(node, Act("clip", lo=lo, hi=hi))

    def _softmax(self, node, a, log: bool):
        _, d = self.x(node)
        rank = len(d.shape)
        axis = int(a.get("axis", 1 if self.opset < 13 else -1))
        axis = axis + rank if axis < 0 else axis
        if axis == 0:
            raise _Unsupported("softmax across the batch axis not supported")
        if self.opset >= 13 and any(n != 1 for i, n in enumerate(d.shape[1:], 1) if i != axis):
            raise _Unsupported(f"softmax over axis {axis} of shape {list(d.shape)}: lenetc takes softmax over a vector")
        if self.opset < 13 and axis != 1:
            raise _Unsupported(
                f"softmax over axes {axis}.. of shape {list(d.shape)}: lenetc takes softmax over a sample"
            )
        self.b.flatten(f"{node.name or node.output[0]}_flat", "HWC" if d.last else "CHW")
        self.b.add(Softmax(self.name(node, "softmax"), log=log))
        self.set(node, d.shape, d.last)

    def op_Softmax(self, node, a):
        self._softmax(node, a, False)

    def op_LogSoftmax(self, node, a):
        self._softmax(node, a, True)


def _label(node) -> str:
    """How an error names a node: its name, else (unnamed nodes are common) its first output."""
    return node.name or (f"-> {node.output[0]}" if node.output else "?")
