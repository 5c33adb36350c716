"""Helium float32 kernels (conv2d, dense): when they apply, and their template context.

Vectorised across independent outputs only (output columns of a convolution, output neurons of
a dense layer), each output keeping the fixed fmaf order of the portable kernel, so the bits
are the same as on every target. MVE flushes subnormal inputs and results to zero, so these
kernels apply only to weights and biases free of subnormals, scan their input at run time and
fall back to the scalar kernel when a result was flushed (lenetc_arch_cortexm_mve_f32.h).
"""

from __future__ import annotations

import numpy as np

from ...activations import SCALED_TANH_A, SCALED_TANH_S
from ...kinds import conv2d, dense
from ...kinds.conv2d import ConvCall
from ...kinds.dense import DenseCall
from ...numeric import c_float
from ...variants import Capabilities, Scratch

#: Float32 vector registers an accumulator block may hold (of 8; one loads, one spare).
ACC_REGS = 6
FLT_MIN = float(np.finfo(np.float32).tiny)


def subnormal_free(*arrays: np.ndarray) -> bool:
    """No value of ``arrays`` (as float32) is subnormal."""
    for a in arrays:
        v = np.abs(np.asarray(a, dtype=np.float32))
        if np.any((v > 0) & (v < FLT_MIN)):
            return False
    return True


def act_vector(act) -> tuple[str | None, str | None, str | None] | None:
    """(kind, input scale, output scale) of an activation the vector epilogue computes
    bit-identically, or None when it has no vector form here."""
    if act is None:
        return (None, None, None)
    if act.fn == "relu":
        return ("relu", None, None)
    if act.fn == "tanh":
        return ("tanh", "1.0f", "1.0f")
    if act.fn == "scaled_tanh":
        return ("tanh", c_float(SCALED_TANH_S), c_float(SCALED_TANH_A))
    return None


def _chunks(ow: int, kw: int) -> list[dict]:
    """Output columns in vector chunks of at most ACC_REGS vectors, as even as possible. A
    width that is not a multiple of 4 ends with a vector overlapping the one before (the shared
    columns are computed twice, identically), so no load needs a predicate; only a row narrower
    than 4 does. Each chunk lists its vectors' first columns (``starts``), the lanes of the last
    (``lanes``) and, per input offset ``d`` from the chunk's first column, the (vector, tap)
    pairs that use it (``taps``): one load per distinct offset, taps in increasing order for
    every vector (the fmaf order)."""
    nv = -(-ow // 4)
    parts = -(-nv // ACC_REGS)
    sizes = [nv // parts + (1 if i < nv % parts else 0) for i in range(parts)]
    chunks, x0 = [], 0
    for n in sizes:
        starts = [x0 + 4 * v for v in range(n)]
        if starts[-1] + 4 > ow and ow >= 4:
            starts[-1] = ow - 4
        rel = [s - x0 for s in starts]
        offsets = sorted({r + j for r in rel for j in range(kw)})
        taps = [(d, [(v, d - r) for v, r in enumerate(rel) if 0 <= d - r < kw]) for d in offsets]
        chunks.append({"x0": x0, "starts": starts, "lanes": min(4, ow), "taps": taps})
        x0 += 4 * n
    return chunks


def conv_ctx(
    layer, e: dict | None, weight: np.ndarray, bias: np.ndarray, out_shape, e_params: tuple = ()
) -> dict | None:
    """The Helium float conv's additions to the portable context, or None when it does not
    apply (a stride, groups, an activation or pooling without a vector form, subnormal
    constants); ``e`` is the fused pooling's context, ``e_params`` the fused subsampling's
    coefficients and biases."""
    if layer.stride != (1, 1) or layer.groups != 1 or not subnormal_free(weight, bias):
        return None
    act = act_vector(layer.act)
    if act is None:
        return None
    e_act: tuple = (None, None, None)
    if e is not None:
        if (e["kh"], e["kw"]) != (2, 2) or e["mode"] not in ("max", "subsampling"):
            return None
        if e["mode"] == "subsampling":
            e_act = act_vector(e["act"])
            if e_act is None or not subnormal_free(*e_params):
                return None
    oc, oh, ow = out_shape
    nv = -(-ow // 4)
    no = 1
    if not layer.sparse and nv <= ACC_REGS // 2:
        no = next(n for n in (3, 2, 1) if n * nv <= ACC_REGS and oc % n == 0)
    owp = 4 * nv
    if e is not None:
        owp = max(owp, 8 * -(-e["pw"] // 4))
    return {
        "no": no, "chunks": _chunks(ow, layer.kernel[1]), "owp": owp,
        "act_kind": act[0], "act_in": act[1], "act_out": act[2],
        "e_act_kind": e_act[0], "e_act_in": e_act[1], "e_act_out": e_act[2],
    }  # fmt: skip


def _conv_extra(call: ConvCall) -> dict | None:
    e = call.epilogue
    e_params: tuple = ()
    if e is not None and e["mode"] == "subsampling":
        en = call.node.epilogue.layer.name
        e_params = (call.lw.params[f"{en}.coeff"], call.lw.params[f"{en}.bias"])
    return conv_ctx(call.layer, e, call.weight, call.bias, call.node.out_shape, e_params)


def conv_applies(call: ConvCall, caps: Capabilities) -> bool:
    return caps.vector_isa == "mve" and _conv_extra(call) is not None


def conv_pack(lw, call: ConvCall) -> dict:
    """The portable kernel's context (it is the fallback path) and the vector additions."""
    ctx = conv2d.pack_float32(lw, call)
    ctx.update(_conv_extra(call))
    return ctx


def conv_scratch(call: ConvCall, mode: str) -> Scratch | None:
    """Fused: the larger of the portable band and the Helium one (``no`` maps x pooling rows x
    padded columns)."""
    if mode != "fused":
        return None
    k, kh = _conv_extra(call), call.epilogue["kh"]
    return ("float", max(kh * call.ow, k["no"] * kh * k["owp"]))


def conv_note(call: ConvCall) -> str:
    return f", Helium {_conv_extra(call)['no']} map(s) x columns in vectors"


def dense_ctx(act, weight: np.ndarray, bias: np.ndarray, across: bool) -> dict | None:
    """The Helium float dense layer's additions to the portable context, or None when it does
    not apply; ``across``: the portable kernel's in-major layout (outputs vectorised)."""
    if not subnormal_free(weight, bias):
        return None
    a = act_vector(act) if across else (None, None, None)
    if a is None:
        return None
    units = weight.shape[0]
    nb = min(ACC_REGS, -(-units // 4))
    return {"nb": nb, "act_kind": a[0], "act_in": a[1], "act_out": a[2]}


def dense_applies(call: DenseCall, caps: Capabilities) -> bool:
    return caps.vector_isa == "mve" and dense_ctx(call.act, call.weight, call.bias, call.across) is not None


def dense_pack(lw, call: DenseCall) -> dict:
    ctx = dense.pack_float32(lw, call)
    ctx.update(dense_ctx(call.act, call.weight, call.bias, call.across))
    return ctx
