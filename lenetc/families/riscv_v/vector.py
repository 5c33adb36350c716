"""RISC-V vector (RVV 1.0) kernels of conv2d and dense: which layers get the vector-length-
agnostic kernels (``kernels/<kind>/*_rvv.c.j2``) and the weight packing they read.

The kernels vectorise across output channels (convolution) or output neurons (dense): the
vector lanes are outputs, strip-mined with ``vsetvl`` so any VLEN is correct, and each input
value is one scalar operand of ``vwmacc.vx`` (int8: int16 weights x the input, accumulated in
int32) or ``vfmacc.vf`` (float32: one rounding, as ``fmaf``). A convolution keeps P output
pixels of a row in P accumulators, so each weight vector load feeds P multiply-adds; it reads
its input map directly (no im2col: every tap is a load at a constant offset). Every output
keeps its order of operations (bias, input channel, kernel row, kernel column; dense: bias,
inputs ascending, zero inputs skipped in float32), so float bits equal the portable kernels'.
int8 requantization runs in the vector unit: the exact 64-bit product as ``vmulh``/``vmul``
halves, one rounding ``vssra`` (round-to-nearest-up) after a correction that turns it into
lenetc's round-half-away-from-zero; it needs shifts in [33, 62] (the usual case), else the
layer keeps the portable kernel. Each template carries a scalar fallback under
``#if !defined(__riscv_vector)`` computing the same results.
"""

from __future__ import annotations

import numpy as np

from ...kinds.conv2d import ConvCall
from ...kinds.dense import DenseCall
from ...kinds.int8_linear import requant_ctx
from ...variants import Capabilities, Scratch

#: The smallest VLEN the kernels are planned for (Zvl128b): LMUL is picked so that one strip
#: holds the layer's outputs at this length; longer vectors only fill fewer strips.
MIN_VLEN = 128


def lmul_for(outputs: int) -> int:
    """The e32 register group (LMUL) whose lanes at VLEN 128 first cover ``outputs`` (at most 8)."""
    for lmul in (1, 2, 4):
        if outputs <= lmul * MIN_VLEN // 32:
            return lmul
    return 8


#: Output pixels per pass for each LMUL: P accumulators of LMUL registers each, with room left
#: for the weight vector and the requantization temporaries in the 32 vector registers.
PIXELS = {1: 8, 2: 6, 4: 4, 8: 2}


def suffixes(lmul: int) -> dict[str, str]:
    """Intrinsic type suffixes at e32/e16/e8 for an e32 group of ``lmul`` and its mask ratio."""

    def frac(n: float) -> str:
        return f"m{int(n)}" if n >= 1 else f"mf{int(round(1 / n))}"

    return {"s32": frac(lmul), "s16": frac(lmul / 2), "s8": frac(lmul / 4), "b": str(32 // lmul)}


def plain_requant(q) -> bool:
    """The vector requantization applies: lenetc's single rounding (not float, not TFLM's double
    rounding), integer multipliers >= 0 and every shift in [33, 62]."""
    if q.fscale is not None or q.mult is None or q.shift is None or getattr(q, "rounding", "int") != "int":
        return False
    mult, shift = np.asarray(q.mult), np.asarray(q.shift)
    return bool(np.all(mult >= 0) and np.all((shift >= 33) & (shift <= 62)))


def requant_vectors(lw, fn: str, q, n: int) -> dict:
    """The per-channel multipliers (int32) and shifts - 32 (uint32) the vector requantization
    loads, padded to ``n`` lanes."""
    vm = np.zeros(n, np.int32)
    vs = np.ones(n, np.uint32)
    vm[: len(q.mult)] = q.mult
    vs[: len(q.shift)] = np.asarray(q.shift, np.int64) - 32
    return {
        "vmult": lw.const(fn, "vmult", vm, "int32_t", "multipliers as int32 lanes"),
        "vshift": lw.const(fn, "vshift", vs, "uint32_t", "shift - 32 per lane: the high word's rounding shift"),
    }


def conv_applies(call: ConvCall, caps: Capabilities) -> bool:
    """The vector conv kernels take one group (a sparse table runs as dense taps with zeros);
    int8 with the vector requantization only."""
    if caps.vector_isa != "rvv" or call.layer.groups != 1:
        return False
    return call.q is None or plain_requant(call.q)


def pack_conv(weight: np.ndarray, dtype) -> np.ndarray:
    """(oc, ic, kh, kw) -> [ic][kh][kw][oc]: the output channels of one tap are contiguous."""
    return np.ascontiguousarray(np.asarray(weight).transpose(1, 2, 3, 0).astype(dtype))


def conv_ctx(layer, shape_in, out_shape, epilogue) -> dict:
    """The geometry and vector shape of a conv kernel."""
    c, h, w = shape_in
    oc, oh, ow = out_shape
    lmul = lmul_for(oc)
    pixels = min(PIXELS[lmul], ow)
    return {
        "ic": c, "ih": h, "iw": w, "oc": oc, "oh": oh, "ow": ow,
        "kh": layer.kernel[0], "kw": layer.kernel[1], "sh": layer.stride[0], "sw": layer.stride[1],
        "lmul": lmul, "px": pixels, "epilogue": epilogue, **suffixes(lmul),
    }  # fmt: skip


def dense_ctx(n_in: int, n_out: int) -> dict:
    """Two strips of outputs per pass (each input loaded once for both)."""
    lmul = lmul_for(n_out) if n_out <= 32 else 8
    return {"n_in": n_in, "n_out": n_out, "lmul": lmul, **suffixes(lmul)}


def conv_note(call: ConvCall) -> str:
    return f", RVV {min(PIXELS[lmul_for(call.oc)], call.ow)} pixels x vl channels"


def conv_scratch(call: ConvCall, mode: str) -> Scratch | None:
    """Fused: a band of ``kh`` conv rows of every map (int8 or float)."""
    if mode != "fused":
        return None
    return ("float" if call.q is None else "unsigned char", call.epilogue["kh"] * call.oc * call.ow)


def pack_conv_int8(lw, call: ConvCall) -> dict:
    """Requantization (and its vector multipliers and shifts), weights as int16 [ic][kh][kw][oc]."""
    q, fn = call.q, call.fn
    ctx = requant_ctx(lw, fn, q)
    ctx = {**ctx, **conv_ctx(q.layer, (call.c, call.h, call.w), q.out_shape, call.epilogue),
           **requant_vectors(lw, fn, q, q.out_shape[0])}  # fmt: skip
    wp = pack_conv(q.weight, np.int16)
    ctx["weight"] = lw.const(fn, "wrvv", wp, "int16_t", f"int8 weights as int16, packed [ic][kh][kw][oc] = {wp.shape}")
    return ctx


def pack_conv_float32(lw, call: ConvCall) -> dict:
    """Weights [ic][kh][kw][oc] (a sparse table's unconnected taps as zeros), then biases."""
    layer, fn, weight = call.layer, call.fn, call.weight
    w = weight * lw.params[f"{layer.name}.table"].astype(np.float32)[:, :, None, None] if layer.sparse else weight
    ctx = {**conv_ctx(layer, (call.c, call.h, call.w), call.node.out_shape, call.epilogue), "act": layer.act}
    wp = pack_conv(w, np.float32)
    ctx["weight"] = lw.const(fn, "wrvv", wp, comment=f"packed [ic][kh][kw][oc] = {wp.shape}")
    ctx["bias"] = lw.const(fn, "bias", np.asarray(call.bias, np.float32))
    return ctx


def dense_applies_int8(call: DenseCall, caps: Capabilities) -> bool:
    return caps.vector_isa == "rvv" and plain_requant(call.q)


def dense_applies_float32(call: DenseCall, caps: Capabilities) -> bool:
    """Where the portable kernel runs across outputs (in-major weights)."""
    return caps.vector_isa == "rvv" and call.across


def pack_dense_int8(lw, call: DenseCall) -> dict:
    """Requantization (and its vectors), weights (in, out): one input's weights contiguous."""
    q, w, fn = call.q, call.weight, call.fn
    n_out, n_in = w.shape
    ctx = requant_ctx(lw, fn, q)
    ctx = {**ctx, **dense_ctx(n_in, n_out), **requant_vectors(lw, fn, q, n_out)}
    wt = np.ascontiguousarray(w.T.astype(np.int8))
    ctx["weight"] = lw.const(fn, "wrvv", wt, "int8_t", f"(in, out) = {wt.shape}: one input's weights contiguous")
    return ctx


def pack_dense_float32(lw, call: DenseCall) -> dict:
    n_out, n_in = call.weight.shape
    wt = np.ascontiguousarray(call.weight.T.astype(np.float32))
    return {**dense_ctx(n_in, n_out), "act": call.act,
            "weight": lw.const(call.fn, "weight", wt, comment=f"(in, out) = {wt.shape}"),
            "bias": lw.const(call.fn, "bias", np.asarray(call.bias, np.float32))}  # fmt: skip
