"""The layer kinds: one module each (dataclass, reference, gradient, int8 rule and reference,
lowering, ONNX form), found through :data:`KINDS` by name or :func:`kind_of` by layer."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..activations import Act
from ..errors import LenetcError
from ..names import shown
from . import activation, affine, conv2d, dense, flatten, pool2d, rbf, softmax, subsampling
from .base import Kind, Layer, Node, QLayer, QuantStep, Shape
from .int8_linear import QLinear

KINDS: dict[str, Kind] = {
    m.KIND.name: m.KIND for m in (conv2d, subsampling, pool2d, flatten, dense, activation, softmax, rbf, affine)
}
_BY_TYPE: dict[type, Kind] = {k.layer_type: k for k in KINDS.values()}


def kind_of(layer: Layer) -> Kind:
    """The registry entry of ``layer``'s kind."""
    try:
        return _BY_TYPE[type(layer)]
    except KeyError:
        raise LenetcError(f"layer '{layer.name}': kind '{layer.kind}' is not a lenetc layer kind") from None


def merge_activations(layers: list[Layer]) -> list[Layer]:
    """Fold each stand-alone activation into the layer before it when that one's kind computes
    an activation (``Kind.takes_act``) and it has none (the same function, one layer fewer)."""
    out: list[Layer] = []
    for layer in layers:
        prev = out[-1] if out else None
        takes = prev is not None and kind_of(prev).takes_act
        if isinstance(layer, activation.Activation) and takes and prev.act is None:
            out[-1] = dataclasses.replace(prev, act=layer.act)
            continue
        out.append(layer)
    return out


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_json_type(layer: Any, field: str, annotation: str, value: Any) -> None:
    """Refuse a JSON value of the wrong type for a layer field as read, before anything
    converts it: ``"false"`` is not a boolean, ``28.7`` or ``true`` not an integer."""
    if value is None and "None" in annotation:
        return
    base = annotation.replace(" | None", "")
    if base == "bool":
        ok = isinstance(value, bool)
    elif base == "int":
        ok = _is_int(value)
    elif base == "str":
        ok = isinstance(value, str)
    elif base.startswith("tuple[int"):
        ok = _is_int(value) or (isinstance(value, list) and all(_is_int(v) for v in value))
    else:  # Act: checked by Act.from_json
        return
    if not ok:
        want = {"bool": "true or false", "int": "an integer", "str": "a string"}.get(base, "integers")
        raise LenetcError(f"layer {shown(layer)}: '{field}' must be {want}, got {shown(value)}")


def layer_from_json(obj: Any) -> Layer:
    """Rebuild a layer from :meth:`Layer.to_json` output."""
    if not isinstance(obj, dict):
        raise LenetcError(f"a layer in the architecture must be a JSON object, got {type(obj).__name__}")
    obj = dict(obj)
    kind = obj.pop("kind", None)
    entry = KINDS.get(kind)  # type: ignore[arg-type]
    if entry is None:
        raise LenetcError(f"unknown layer kind '{kind}' in architecture")
    cls = entry.layer_type
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(obj) - names
    if unknown:
        raise LenetcError(f"layer '{obj.get('name')}': unknown field(s) {sorted(unknown)}")
    for f in dataclasses.fields(cls):
        if f.name in obj:
            _check_json_type(obj.get("name"), f.name, str(f.type), obj[f.name])
    try:
        if "act" in obj:
            obj["act"] = Act.from_json(obj["act"])
        if "padding" in obj and isinstance(obj["padding"], list):
            obj["padding"] = tuple(obj["padding"])
        return cls(**obj)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise LenetcError(f"layer '{obj.get('name')}': {exc}") from None


__all__ = [
    "KINDS", "Kind", "Layer", "Node", "QLayer", "QLinear", "QuantStep", "Shape", "kind_of", "layer_from_json",
    "merge_activations",
]  # fmt: skip
