"""A model's MNIST preprocessing in ONNX ``metadata_props``, so it survives export and import.

ONNX has no field for "how raw pixels become the input", so lenetc writes it as model
metadata under these documented keys (strings, as ONNX requires)::

    lenetc.preprocess.scale   x = pixel * scale + offset   (pixel 0..255, 0 = background)
    lenetc.preprocess.offset
    lenetc.preprocess.pad     background pixels added on every side

Any ONNX file may carry them (``onnx.helper.set_model_props``); ``scale`` is required when
any key is present, ``offset`` and ``pad`` default to 0.
"""

from __future__ import annotations

import math

from ..errors import LenetcError
from ..names import shown
from ..network import Preprocess

PREFIX = "lenetc.preprocess."
SCALE_KEY, OFFSET_KEY, PAD_KEY = (PREFIX + k for k in ("scale", "offset", "pad"))


def preprocess_props(pre: Preprocess) -> dict[str, str]:
    """The metadata entries for ``pre`` (floats written so that they read back exactly)."""
    return {SCALE_KEY: repr(float(pre.scale)), OFFSET_KEY: repr(float(pre.offset)), PAD_KEY: str(int(pre.pad))}


def _number(props: dict[str, str], key: str, default: str, integer: bool) -> float | int:
    text = props.get(key, default).strip()
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise LenetcError(f"ONNX metadata '{key}' = {shown(text)} is not {kind}") from None
    if not integer and not math.isfinite(value):
        raise LenetcError(f"ONNX metadata '{key}' = {shown(text)} is not finite")
    return value


def preprocess_from_props(model) -> Preprocess | None:
    """The preprocessing an ONNX model states in its metadata, or None if it states none."""
    props = {p.key: p.value for p in model.metadata_props if p.key.startswith(PREFIX)}
    if not props:
        return None
    unknown = sorted(set(props) - {SCALE_KEY, OFFSET_KEY, PAD_KEY})
    if unknown:
        raise LenetcError(f"ONNX metadata has unknown key(s) {unknown} (known: {SCALE_KEY}, {OFFSET_KEY}, {PAD_KEY})")
    if SCALE_KEY not in props:
        raise LenetcError(f"ONNX metadata states preprocessing without '{SCALE_KEY}'")
    try:
        return Preprocess(
            _number(props, SCALE_KEY, "", False),
            _number(props, OFFSET_KEY, "0", False),
            _number(props, PAD_KEY, "0", True),  # type: ignore[arg-type]
            source="the ONNX file's metadata",
        )
    except LenetcError as exc:
        raise LenetcError(f"ONNX metadata: {exc}") from None
