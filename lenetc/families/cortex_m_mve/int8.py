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

from ...kinds.base import QLayer
from ...kinds.conv2d import ConvCall
from ...kinds.dense import DenseCall
from ...kinds.int8_linear import requant_ctx
from ...variants import Capabilities, Scratch

#: Gather offsets are one byte.
MAX_OFFSET = 255


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


def conv_applies(call: ConvCall, caps: Capabilities) -> bool:
    """One group, and a window that fits the one-byte gather offsets of the padded input."""
    return caps.vector_isa == "mve" and call.layer.groups == 1 and (call.kh - 1) * call.w + call.kw - 1 <= MAX_OFFSET


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


def _conv_rows(call: ConvCall):
    """The weight rows: (rows, runs (start, offset, length) or None, reach of a row in the patch)."""
    q, taps, oc = call.q, call.kh * call.kw, call.oc
    if call.layer.sparse:
        table = call.lw.params[f"{call.layer.name}.table"].astype(bool)
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
        return rows, (starts, offs, lens, table), reach
    lp = round16(call.c * taps)
    rows = np.zeros((oc, lp), dtype=np.int8)
    rows[:, : call.c * taps] = q.weight.reshape(oc, -1)
    return rows, None, lp


def _conv_layout(call: ConvCall, reach: int) -> dict:
    """Patch stride, accumulator row length and epilogue form of the kernel."""
    q, e = call.q, call.epilogue
    taps = call.kh * call.kw
    tv = round16(taps)
    ps = round16(max((call.c - 1) * taps + tv, reach))
    epi = _epilogue_kind(e, q, vector_requant(q))
    br = e["kh"] if e else 1
    # accumulator row: room for the duplicate pixel of an odd width and for what the vector
    # epilogues read past the row (whole vectors of 4, VLD2 pairs of 8)
    need = [call.ow + call.ow % 2, -(-call.ow // 4) * 4]
    if e is not None:
        need.append(-(-e["pw"] // 4) * 8)
    return {"taps": taps, "tv": tv, "ps": ps, "epi": epi, "br": br, "owp": -(-max(need) // 4) * 4}


def _reach(call: ConvCall) -> int:
    return _conv_rows(call)[2]


def _max_first(call: ConvCall) -> bool:
    """A max pooling taken on the accumulators, before a requantization that is monotone."""
    q, e = call.q, call.epilogue
    return e is not None and e["mode"] == "max" and monotone(q.lut) and bool(np.all(q.mult >= 0))


def conv_scratch(call: ConvCall, mode: str) -> Scratch:
    """Two int8 patches, then the int32 accumulators of a band of rows and the int8 band where
    the pooling is not done on the accumulators; in window order (the RAM budget's window mode)
    one accumulator per map instead (int8 for a max of requantized values, else int32)."""
    k = _conv_layout(call, _reach(call))
    oc, br = call.oc, k["br"]
    if mode.startswith("window"):
        narrow = call.epilogue["mode"] == "max" and not _max_first(call)
        return ("unsigned char", 2 * k["ps"] + oc * (1 if narrow else 4))
    return ("unsigned char", 2 * k["ps"] + 4 * br * oc * k["owp"] + (br * oc * call.ow if k["epi"] == "band" else 0))


def conv_modes(call: ConvCall) -> tuple[str, ...]:
    """Every stage mode: a band of rows (fused) or one pooling window at a time (window)."""
    return ("whole", "fused", "window")


def pack_conv(lw, call: ConvCall) -> dict:
    """Requantization, weight rows (runs of connected maps for a sparse table), tap offsets."""
    q, fn = call.q, call.fn
    ctx = requant_ctx(lw, fn, q)
    rows, runs, reach = _conv_rows(call)
    kh, kw, w = call.kh, call.kw, call.w
    k = _conv_layout(call, reach)
    off = np.zeros(k["tv"], dtype=np.uint8)
    off[: k["taps"]] = (np.arange(kh)[:, None] * w + np.arange(kw)[None, :]).reshape(-1)
    if runs is not None:
        starts, offs, lens, table = runs
        links = int(np.count_nonzero(table))
        comment = (f"connected taps only ({links} of {table.size} maps), as runs of consecutive input maps, "
                   "each run zero-padded to a multiple of 16")  # fmt: skip
        ctx["weight"] = lw.const(fn, "weight", np.concatenate(rows), "int8_t", comment)
        ctx["run_start"] = lw.const(fn, "run_start", np.array(starts, np.int16), "int16_t")
        ctx["run_off"] = lw.const(fn, "run_off", np.array(offs, np.int16), "int16_t", "patch offset of each run")
        ctx["run_len"] = lw.const(fn, "run_len", np.array(lens, np.int16), "int16_t", "taps of each run, padded")
        lp = 0
    else:
        lp = reach
        comment = f"(out, in, kh, kw) = {q.weight.shape}, rows zero-padded to {lp}"
        ctx["weight"] = lw.const(fn, "weight", rows, "int8_t", comment)
    ctx["off"] = lw.const(fn, "off", off, "uint8_t", f"byte offsets of the {kh}x{kw} taps in a row of {w}")
    e = call.epilogue
    if e is not None:
        epi_q = call.node.epilogue.q
        e = dict(e, vrq=epi_q is not None and vector_requant(epi_q))
    ctx.update(**call.geometry(), sparse=runs is not None, taps=k["taps"], tv=k["tv"], lp=lp, ps=k["ps"],
               owp=k["owp"], epilogue=e, epi=k["epi"], band=k["epi"] == "band", vrq=vector_requant(q),
               mode_doc=_EPILOGUE_DOC[k["epi"]], max_first=_max_first(call))  # fmt: skip
    return ctx


def _dense_lp(call: DenseCall) -> int:
    return round16(call.n_in)


def dense_scratch(call: DenseCall, mode: str) -> Scratch:
    """The int32 accumulators (whole vectors of 4) and, where the input length is not a
    multiple of 16, a zero-padded copy of the input."""
    lp = _dense_lp(call)
    return ("unsigned char", 4 * (-(-call.units // 4) * 4) + (lp if lp != call.n_in else 0))


def pack_dense(lw, call: DenseCall) -> dict:
    """Requantization and the weight rows zero-padded to a multiple of 16."""
    q, w, fn = call.q, call.weight, call.fn
    ctx = requant_ctx(lw, fn, q)
    n_out, n_in = w.shape
    lp = _dense_lp(call)
    rows = np.zeros((n_out, lp), dtype=np.int8)
    rows[:, :n_in] = w
    comment = f"(out, in) = {w.shape}, symmetric per output channel; rows zero-padded to {lp}"
    copy = lp != n_in  # the input is read in whole vectors of 16: pad a copy
    ctx.update(n_in=n_in, n_out=n_out, n_out4=-(-n_out // 4) * 4, lp=lp, copy=copy, vrq=vector_requant(q),
               weight=lw.const(fn, "weight", rows, "int8_t", comment))  # fmt: skip
    return ctx
