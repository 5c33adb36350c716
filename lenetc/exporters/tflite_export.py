"""``lenetc export MODEL -o m.tflite``: a lenetc network as a TensorFlow Lite file, float32 or
full-integer int8 (per-channel int8 weights on axis 0 (depthwise: 3) with zero point 0, int32
biases with the input zero point not folded in, per-tensor activations), as TFLiteConverter
writes them, so TFLM, LiteRT and NPU compilers (Vela) take the file.

The int8 file holds lenetc's own integer weights, biases, scales and zero points: TFLM runs it
with outputs identical to lenetc's C generated with ``--requant tflm`` (tests/test_tflite_export.py).
A final softmax, which lenetc's int8 C leaves to the caller, is left out of the int8 file too
(its output is the int8 logits). Layers TFLite has no operator for (LeNet-5's scaled tanh,
subsampling, RBF, affine) are refused naming the layer.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .. import fixedpoint_tflm as tflm
from ..errors import LenetcError
from ..kinds.conv2d import dense_weight
from ..kinds.int8_linear import unfolded_bias
from ..kinds.pool2d import pooled_size
from ..network import Network
from ..numeric import QParams
from ..quant.qnetwork import QuantizedNetwork
from .tflite_write import GraphWriter

PAD_SAME, PAD_VALID = 0, 1
#: The output quantization TFLite's int8 TANH, LOGISTIC and SOFTMAX require.
TANH_Q, LOGISTIC_Q, SOFTMAX_Q = QParams(1 / 128, 0), QParams(1 / 256, -128), QParams(1 / 256, -128)
#: How the export records the MNIST preprocessing in the file's description (read back on import).
PREPROCESS_TAG = "lenetc-preprocess:"
FUSED = {None: 0, "relu": 1, "relu6": 3}


def _same(size: int, k: int, s: int) -> tuple[int, int]:
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


class _Exporter:
    def __init__(self, net: Network, qnet: QuantizedNetwork | None):
        self.net, self.qnet = net, qnet
        self.int8 = qnet is not None
        pre = net.preprocess
        self.w = GraphWriter(
            f"lenetc export of {net.name} ({'int8' if self.int8 else 'float32'}); "
            f"{PREPROCESS_TAG} scale={pre.scale!r} offset={pre.offset!r} pad={pre.pad}"
        )
        c, h, w = net.input_shape
        q = qnet.input_q if self.int8 else None
        self.cur = self.act_tensor("input", (1, h, w, c), q)
        self.input = self.cur
        self.shape: tuple[int, ...] = tuple(net.input_shape)
        self.chw_vector = False  # the current vector is lenetc's C,H,W flatten of an H,W,C tensor

    # ---- tensors ---------------------------------------------------------------------------
    def act_tensor(self, name, shape, q) -> int:
        if q is None:
            return self.w.tensor(name, shape, np.float32)
        return self.w.tensor(name, shape, np.int8, scale=q.scale, zero_point=q.zero_point)

    def nhwc(self, shape) -> tuple[int, ...]:
        return (1, shape[1], shape[2], shape[0]) if len(shape) == 3 else (1, shape[0])

    # ---- walk ------------------------------------------------------------------------------
    def run(self) -> bytes:
        layers = self.qnet.layers if self.int8 else self.net.layers
        shapes = self.net.shapes()
        for i, (item, in_shape, out_shape) in enumerate(zip(layers, shapes, shapes[1:])):
            layer = item.layer if self.int8 else item
            q = item if self.int8 else None
            handler = getattr(self, f"k_{layer.kind}", None)
            if handler is None:
                raise LenetcError(f"layer '{layer.name}' ({layer.kind}): TensorFlow Lite has no operator for it")
            handler(layer, q, in_shape, out_shape, last=i == len(layers) - 1)
            self.shape = out_shape
        return self.w.serialize([self.input], [self.cur])

    def fused(self, layer, q) -> str | None:
        """The activation fused into a conv/dense output; other activations get their own operator."""
        act = getattr(layer, "act", None)
        if act is None:
            return None
        if act.fn == "relu":
            return "relu"
        if act.fn == "clip" and act.lo == 0.0 and act.hi == 6.0:
            return "relu6"
        if act.fn in ("tanh", "sigmoid") and (not self.int8 or table_op(q) is not None):
            return act.fn
        why = " (an int8 table other than TFLM's tanh/logistic with TFLite's output scales)" if self.int8 else ""
        raise LenetcError(f"layer '{layer.name}': activation '{act.fn}' has no TFLite form lenetc can export{why}")

    def padding(self, layer, in_shape, kernel, stride) -> int:
        """SAME or VALID; other padding becomes an explicit PAD operator first."""
        _, h, w = in_shape
        pad = tuple(layer.padding)
        if not any(pad):
            return PAD_VALID
        (pt, pb), (pl, pr) = _same(h, kernel[0], stride[0]), _same(w, kernel[1], stride[1])
        if pad == (pt, pl, pb, pr):
            return PAD_SAME
        if layer.kind != "conv2d":
            raise LenetcError(f"layer '{layer.name}': pooling padding {list(pad)} is not TFLite's SAME")
        top, left, bottom, right = pad
        paddings = self.w.tensor(f"{layer.name}_paddings", (4, 2), np.int32,
                                 data=[[0, 0], [top, bottom], [left, right], [0, 0]])  # fmt: skip
        c = in_shape[0]
        out = self.act_tensor(f"{layer.name}_pad", (1, h + top + bottom, w + left + right, c), self.cur_q())
        self.w.op("PAD", [self.cur, paddings], [out], "PadOptions")
        self.cur = out
        return PAD_VALID

    def cur_q(self):
        t = self.w.tensors[self.cur]
        if t.scale is None:
            return None
        from ..numeric import QParams

        return QParams(float(t.scale[0]), int(t.zero_point[0]))

    def post_act(self, name: str, fn: str | None, shape, q=None) -> None:
        if fn in ("tanh", "sigmoid"):
            out = self.act_tensor(f"{name}_{fn}", self.nhwc(shape), q.out_q if q is not None else None)
            self.w.op("TANH" if fn == "tanh" else "LOGISTIC", [self.cur], [out])
            self.cur = out

    def k_conv2d(self, layer, q, in_shape, out_shape, last):
        c = in_shape[0]
        oc = layer.out_channels
        if layer.groups == 1:
            op, perm, axis = "CONV_2D", (0, 2, 3, 1), 0
        elif layer.groups == c and oc % c == 0:
            op, perm, axis = "DEPTHWISE_CONV_2D", (1, 2, 3, 0), 3
        else:
            raise LenetcError(f"layer '{layer.name}': grouped convolution ({layer.groups} groups) has no TFLite form")
        fused = self.fused(layer, q)
        if (
            fused == "relu6"
            and q is not None
            and (q.lo, q.hi) != tflm.activation_range("relu6", q.out_q.scale, q.out_q.zero_point)
        ):
            fused = None  # lenetc's clip(0, 6) clamps where TFLite's RELU6 does only when both round alike
        pad = self.padding(layer, in_shape, layer.kernel, layer.stride)
        w, b = self.linear_consts(layer, q, perm, axis, oc)
        out = self.act_tensor(layer.name, self.nhwc(out_shape), self.req_q(q))
        fields = {"Padding": pad, "StrideW": layer.stride[1], "StrideH": layer.stride[0], "DilationWFactor": 1,
                  "DilationHFactor": 1, "FusedActivationFunction": FUSED.get(fused, 0)}  # fmt: skip
        if op == "DEPTHWISE_CONV_2D":
            fields["DepthMultiplier"] = oc // c
        options = "Conv2DOptions" if op == "CONV_2D" else "DepthwiseConv2DOptions"
        self.w.op(op, [self.cur, w, b], [out], options, version=3 if self.int8 else 1, **fields)
        self.cur = out
        self.post_act(layer.name, fused, out_shape, q)

    def req_q(self, q):
        if q is None:
            return None
        req = q.pre_q if q.lut is not None else q.out_q  # a table activation is its own operator
        clamps = [
            (-128, 127),
            (max(-128, req.zero_point), 127),
            tflm.activation_range("relu6", req.scale, req.zero_point),
        ]
        if q.kind in ("conv2d", "dense") and (q.lo, q.hi) not in clamps:
            raise LenetcError(f"layer '{q.name}': its int8 clamp [{q.lo}, {q.hi}] is none of ReLU, ReLU6 or none")
        return req

    def linear_consts(self, layer, q, perm, axis, oc, columns=None):
        """Weight and bias tensors of a conv (``perm`` to TFLite's layout) or dense layer."""
        if q is None:
            w = (
                dense_weight(layer, self.net.params)
                if layer.kind == "conv2d"
                else self.net.params[f"{layer.name}.weight"]
            )
            w = np.asarray(w, np.float32)
            if columns is not None:
                w = w[:, columns]
            w = w.transpose(perm) if perm else w
            b = np.asarray(self.net.params[f"{layer.name}.bias"], np.float32)
            wt = self.w.tensor(f"{layer.name}_weight", w.shape, np.float32, data=w)
            bt = self.w.tensor(f"{layer.name}_bias", b.shape, np.float32, data=b)
            return wt, bt
        w = np.asarray(q.weight, np.int8)
        if columns is not None:
            w = w[:, columns]
        w = w.transpose(perm) if perm else w
        s_w = np.asarray(q.w_scale, np.float32)
        bias = unfolded_bias(q)
        wt = self.w.tensor(f"{layer.name}_weight", w.shape, np.int8, data=w, scale=s_w, zero_point=np.zeros(oc),
                           axis=axis)  # fmt: skip
        b_scale = (np.float32(q.in_q.scale) * s_w).astype(np.float32)
        bt = self.w.tensor(f"{layer.name}_bias", bias.shape, np.int32, data=bias, scale=b_scale,
                           zero_point=np.zeros(oc))  # fmt: skip
        return wt, bt

    def k_pool2d(self, layer, q, in_shape, out_shape, last):
        _, h, w = in_shape
        (kh, kw), (sh, sw), (pt, pl, pb, pr) = layer.kernel, layer.stride, layer.padding
        floor_hw = (pooled_size(h, kh, sh, pt, pb, False), pooled_size(w, kw, sw, pl, pr, False))
        if tuple(out_shape[1:]) != floor_hw:
            raise LenetcError(f"layer '{layer.name}': ceil_mode pooling has no TFLite form")
        if layer.mode == "avg" and any(layer.padding) and layer.count_include_pad:
            raise LenetcError(f"layer '{layer.name}': average pooling that counts padding has no TFLite form")
        pad = self.padding(layer, in_shape, layer.kernel, layer.stride)
        out = self.act_tensor(layer.name, self.nhwc(out_shape), q.out_q if q is not None else None)
        op = "MAX_POOL_2D" if layer.mode == "max" else "AVERAGE_POOL_2D"
        self.w.op(op, [self.cur], [out], "Pool2DOptions", version=2 if self.int8 else 1, Padding=pad,
                  StrideW=layer.stride[1], StrideH=layer.stride[0], FilterWidth=layer.kernel[1],
                  FilterHeight=layer.kernel[0], FusedActivationFunction=0)  # fmt: skip
        self.cur = out

    def reshape(self, name: str, n: int) -> None:
        shape = self.w.tensor(f"{name}_shape", (2,), np.int32, data=[1, n])
        out = self.act_tensor(name, (1, n), self.cur_q())
        self.w.op("RESHAPE", [self.cur, shape], [out])
        self.cur = out

    def k_flatten(self, layer, q, in_shape, out_shape, last):
        c, h, w = in_shape
        self.reshape(layer.name, c * h * w)
        # TFLite flattens H,W,C; lenetc's C,H,W order is kept by permuting the next dense layer
        self.chw_vector = layer.order == "CHW" and h * w > 1
        self.flat_source = in_shape

    def k_dense(self, layer, q, in_shape, out_shape, last):
        source = None
        if len(in_shape) == 3:  # lenetc's dense flattens C,H,W itself; TFLite's FULLY_CONNECTED H,W,C
            self.reshape(f"{layer.name}_flatten", int(np.prod(in_shape)))
            source = in_shape
        elif self.chw_vector:
            source = self.flat_source
        columns = None
        if source is not None and source[1] * source[2] > 1:
            c, h, w = source
            # column j of the H,W,C vector holds C,H,W element (ch, y, x): reorder the weights' columns
            columns = np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).reshape(-1)
        fused = self.fused(layer, q)
        w, b = self.linear_consts(layer, q, None, 0, layer.units, columns)
        out = self.act_tensor(layer.name, (1, layer.units), self.req_q(q))
        self.w.op("FULLY_CONNECTED", [self.cur, w, b], [out], "FullyConnectedOptions",
                  version=5 if self.int8 else 1, FusedActivationFunction=FUSED.get(fused, 0))  # fmt: skip
        self.cur = out
        self.chw_vector = False
        self.post_act(layer.name, fused, out_shape, q)

    def k_activation(self, layer, q, in_shape, out_shape, last):
        fn = layer.act.fn
        ops = {"tanh": "TANH", "sigmoid": "LOGISTIC", "relu": "RELU"}
        if fn not in ops or (self.int8 and table_op(q) != ops[fn]):
            what = " in int8 (a table other than TFLM's with TFLite's output scales)" if self.int8 else ""
            raise LenetcError(f"layer '{layer.name}': a separate {fn} activation cannot be exported{what}")
        out = self.act_tensor(layer.name, self.nhwc(out_shape), q.out_q if q is not None else None)
        self.w.op(ops[fn], [self.cur], [out])
        self.cur = out

    def k_softmax(self, layer, q, in_shape, out_shape, last):
        if layer.log:
            raise LenetcError(f"layer '{layer.name}': log_softmax is not exported to TFLite")
        if q is not None and (q.softmax != tflm.SoftmaxParams.of(q.in_q.scale, 1.0) or q.out_q != SOFTMAX_Q):
            raise LenetcError(f"layer '{layer.name}': only TFLM's int8 softmax (beta 1, output 1/256, -128) exports")
        out = self.act_tensor(layer.name, (1, in_shape[0]), q.out_q if q is not None else None)
        self.w.op("SOFTMAX", [self.cur], [out], "SoftmaxOptions", Beta=1.0)
        self.cur = out


def relu6_clamp(q: QParams) -> tuple[int, int]:
    return tflm.activation_range("relu6", q.scale, q.zero_point)


def table_op(q) -> str | None:
    """``TANH`` or ``LOGISTIC`` when ``q``'s int8 table is the one TFLM computes for that operator
    (from the pre-activation's quantization, into TFLite's fixed output quantization), else None."""
    if q is None or q.lut is None:
        return None
    pre = q.pre_q if getattr(q, "pre_q", None) is not None else q.in_q
    lut = np.asarray(q.lut)
    if q.out_q == TANH_Q and np.array_equal(lut, tflm.tanh_table(pre.scale, pre.zero_point)):
        return "TANH"
    if q.out_q == LOGISTIC_Q and np.array_equal(lut, tflm.logistic_table(pre.scale, pre.zero_point)):
        return "LOGISTIC"
    return None


def tflite_bytes(model: Network | QuantizedNetwork) -> bytes:
    """The .tflite file of ``model``: float32 for a :class:`Network`, int8 for a quantized one."""
    if isinstance(model, QuantizedNetwork):
        if model.output_dtype != "int8":
            raise LenetcError(f"model '{model.net.name}': an int32 (RBF) output has no TFLite int8 form")
        ex = _Exporter(model.net, model)
    else:
        ex = _Exporter(model, None)
    return ex.run()


def save_tflite(model: Network | QuantizedNetwork, path: str | Path) -> Path:
    """Write ``model`` as a .tflite file at ``path`` (temporary name, then rename)."""
    path = Path(path)
    data = tflite_bytes(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
