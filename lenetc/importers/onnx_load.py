"""Loading an ONNX file: the float importer (:mod:`.onnx_import`) or, for a statically quantized
file (QDQ or QOperator), the quantized importer built on it (:mod:`.onnx_qdq_import`); this module
sits above both so neither imports the other back."""

from __future__ import annotations

from pathlib import Path

from ..errors import LenetcError
from ..names import safe_name
from .onnx_fold import one_line, read_model
from .onnx_import import OnnxImporter
from .onnx_quantized import quantized_format


def _import(model, name: str):
    if quantized_format(model.graph) is not None:
        # imported here: the quantized importer needs the optional onnx package at import time
        from .onnx_qdq_import import import_quantized

        return import_quantized(model, name)
    return OnnxImporter(model, name).run()


def load_onnx(path: str | Path):
    """Import the ONNX model at ``path`` as a lenetc :class:`Network` (one-line error if it cannot
    be mapped); a statically quantized file (QDQ or QOperator) gives a
    :class:`~lenetc.quant.qnetwork.QuantizedNetwork` with the file's own scales, whose ``net`` is
    the float network of its dequantized weights."""
    path = Path(path)
    model = read_model(path)
    name = safe_name(path.stem, "onnx_model")
    try:
        return _import(model, name)
    except LenetcError as exc:
        raise LenetcError(one_line(str(exc))) from None  # names from a corrupt file may hold control characters
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        # A corrupt file that still parses as protobuf (flipped bytes, wrong field types).
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise LenetcError(one_line(f"'{path}' is a malformed ONNX model ({type(exc).__name__}: {msg})")) from None


def import_model(model, name: str = "onnx_model"):
    """Import an in-memory ``onnx.ModelProto`` (a quantized one as :func:`load_onnx` does)."""
    try:
        return _import(model, name)
    except LenetcError as exc:
        raise LenetcError(one_line(str(exc))) from None
