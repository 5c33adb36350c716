"""Helium int8 kernels of the linear kinds (conv2d, dense): when they apply, and the packing.

Inputs stay int8 (the input zero point is folded into the bias), so every multiply-add is an
int8 x int8 VMLADAVA, 16 per instruction. A convolution gathers the windows of two output
pixels into two int8 patches (one gather load per 16 taps, from a table of byte offsets, so the
input row stride must keep a window within 255 bytes) and computes two output maps per pass
(dense table) or each map's runs of consecutive connected input maps (LeNet-5's sparse C3, kept
sparse). The int32 accumulators of a band of rows are requantized four at a time (a vector
form of the integer rule, exact when the total shift is at least 32; see the header) and, for a
2x2 max pooling, pooled *before* requantization: requantization and a monotone activation table
never reorder values, so the result is the same at a quarter of the requantizations.
"""

from __future__ import annotations

import numpy as np

from ..kinds.base import QLayer

#: The dialect whose kernels these are.
MVE = "cortex-m-mve"
#: Gather offsets are one byte.
MAX_OFFSET = 255


def helium(lw) -> bool:
    """True when the plan is for the Helium family."""
    return getattr(lw.dialect, "name", None) == MVE


def round16(n: int) -> int:
    return -(-n // 16) * 16


def vector_requant(q: QLayer) -> bool:
    """The vector requantization applies: the float and TFLM rules always, lenetc's integer rule
    where every shift is >= 32 (scale < 1/2) or the multiplier 0."""
    if getattr(q, "fscale", None) is not None or getattr(q, "rounding", "int") == "tflm":
        return True
    if getattr(q, "mult", None) is None:
        return False
    return bool(np.all((q.mult == 0) | (q.shift >= 32)))


def monotone(lut: np.ndarray | None) -> bool:
    """A table that never reorders two values (max pooling may then go before it)."""
    return lut is None or bool(np.all(np.diff(lut.astype(np.int64)) >= 0))


def conv_applies(lw, groups: int, kernel: tuple[int, int], iw: int) -> bool:
    """One group, and a window that fits the one-byte gather offsets."""
    kh, kw = kernel
    return helium(lw) and groups == 1 and (kh - 1) * iw + kw - 1 <= MAX_OFFSET


def _runs(maps: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive input maps as (first, count)."""
    runs: list[tuple[int, int]] = []
    for k in maps.tolist():
        if runs and runs[-1][0] + runs[-1][1] == k:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((k, 1))
    return runs


def _epilogue_kind(e: dict | None, q: QLayer, vrq: bool) -> str:
    if e is None:
        return "none"
    if (e["kh"], e["kw"]) != (2, 2):
        return "band"
    if e["mode"] == "max" and monotone(q.lut) and np.all(q.mult >= 0):
        return "max2x2"
    if e["mode"] == "subsampling":
        return "sub2x2"
    return "band"


_EPILOGUE_DOC = {
    "none": "four at a time",
    "max2x2": "after the 2x2 max (a quarter of the requantizations)",
    "sub2x2": "four at a time, then subsampled four at a time",
    "band": "four at a time into an int8 band, then pooled",
}


def lower_conv(
    lw,
    q: QLayer,
    src: int,
    chw: tuple[int, int, int],
    ctx: dict,
    table: np.ndarray | None,
    epilogue: dict | None,
    epi_q: QLayer | None,
    out_shape: tuple[int, ...],
    doc: str,
    fn: str,
) -> int:
    """Emit the Helium int8 convolution; ``ctx`` is the requantization context (requant_ctx),
    ``table`` the sparse connection table (out, in) or None, ``chw`` the padded input,
    ``epilogue``/``epi_q`` the fused pooling's context and int8 layer (None: none)."""
    layer = q.layer
    c, h, w = chw
    oc, oh, ow = q.out_shape
    kh, kw = layer.kernel
    taps = kh * kw
    tv = round16(taps)
    off = np.zeros(tv, dtype=np.uint8)
    off[:taps] = (np.arange(kh)[:, None] * w + np.arange(kw)[None, :]).reshape(-1)
    span = c * taps
    vrq = vector_requant(q)
    if table is not None:
        starts, offs, lens, rows = [0], [], [], []
        for o in range(oc):
            for k0, m in _runs(np.flatnonzero(table[o])):
                n = round16(m * taps)
                offs.append(k0 * taps)
                lens.append(n)
                row = np.zeros(n, dtype=np.int8)
                row[: m * taps] = q.weight[o, k0 : k0 + m].reshape(-1)
                rows.append(row)
            starts.append(len(offs))
        reach = max(o + n for o, n in zip(offs, lens))
        links = int(np.count_nonzero(table))
        comment = (f"connected taps only ({links} of {table.size} maps), as runs of consecutive input maps, "
                   "each run zero-padded to a multiple of 16")  # fmt: skip
        ctx["weight"] = lw.const(fn, "weight", np.concatenate(rows), "int8_t", comment)
        ctx["run_start"] = lw.const(fn, "run_start", np.array(starts, np.int16), "int16_t")
        ctx["run_off"] = lw.const(fn, "run_off", np.array(offs, np.int16), "int16_t", "patch offset of each run")
        ctx["run_len"] = lw.const(fn, "run_len", np.array(lens, np.int16), "int16_t", "taps of each run, padded")
        lp = 0
    else:
        lp = round16(span)
        rows = np.zeros((oc, lp), dtype=np.int8)
        rows[:, :span] = q.weight.reshape(oc, -1)
        comment = f"(out, in, kh, kw) = {q.weight.shape}, rows zero-padded to {lp}"
        ctx["weight"] = lw.const(fn, "weight", rows, "int8_t", comment)
        reach = lp
    ps = round16(max((c - 1) * taps + tv, reach))
    ctx["off"] = lw.const(fn, "off", off, "uint8_t", f"byte offsets of the {kh}x{kw} taps in a row of {w}")
    epi = _epilogue_kind(epilogue, q, vrq)
    e = epilogue
    if e is not None:
        e = dict(e, vrq=epi_q is not None and vector_requant(epi_q))
    br = e["kh"] if e else 1
    # accumulator row: room for the duplicate pixel of an odd width and for what the vector
    # epilogues read past the row (whole vectors of 4, VLD2 pairs of 8)
    need = [ow + ow % 2, -(-ow // 4) * 4]
    if e is not None:
        need.append(-(-e["pw"] // 4) * 8)
    owp = -(-max(need) // 4) * 4
    mode_doc = _EPILOGUE_DOC[epi]
    ctx.update(ic=c, ih=h, iw=w, oc=oc, oh=oh, ow=ow, kh=kh, kw=kw, sh=layer.stride[0], sw=layer.stride[1],
               sparse=table is not None, taps=taps, tv=tv, lp=lp, ps=ps, owp=owp, epilogue=e, epi=epi,
               band=epi == "band", vrq=vrq, mode_doc=mode_doc)  # fmt: skip
    scratch = 2 * ps + 4 * br * oc * owp + (br * oc * ow if epi == "band" else 0)
    return lw.emit("mve/conv2d_int8", q.name, src, out_shape, ctx, doc=doc, fn=fn, scratch=("unsigned char", scratch))


def lower_dense(lw, q: QLayer, src: int, w: np.ndarray, ctx: dict, doc: str, fn: str) -> int:
    """Emit the Helium int8 dense layer; ``w`` is (out, in) in the order the input is read."""
    n_out, n_in = w.shape
    lp = round16(n_in)
    rows = np.zeros((n_out, lp), dtype=np.int8)
    rows[:, :n_in] = w
    comment = f"(out, in) = {w.shape}, symmetric per output channel; rows zero-padded to {lp}"
    n_out4 = -(-n_out // 4) * 4
    copy = lp != n_in  # the input is read in whole vectors of 16: pad a copy
    ctx = dict(ctx, n_in=n_in, n_out=n_out, n_out4=n_out4, lp=lp, copy=copy, vrq=vector_requant(q),
               weight=lw.const(fn, "weight", rows, "int8_t", comment))  # fmt: skip
    scratch = 4 * n_out4 + (lp if copy else 0)
    return lw.emit("mve/dense_int8", q.name, src, q.out_shape, ctx, doc=doc, fn=fn, scratch=("unsigned char", scratch))
