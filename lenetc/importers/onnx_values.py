"""Checks on the values an ONNX graph feeds the importer: the model input's shape and the
element type of constant operands."""

from __future__ import annotations

import numpy as np

from ..errors import LenetcError
from ..names import shown
from .onnx_layout import _Unsupported


def float32_operand(arr: np.ndarray, what: str) -> np.ndarray:
    """``arr`` if it is float32: ONNX requires an operator's operands to share the computed tensor's
    type (float32), so an int64, bool or float16 weight is a malformed model, not one to convert."""
    if arr.dtype != np.float32:
        raise _Unsupported(f"{what} has type {arr.dtype}; the computed tensor is float32 and ONNX needs one type")
    return arr


def input_shape(value_info) -> tuple[tuple[int, ...], int]:
    """The input's ONNX shape (symbolic batch -> 1) and its batch size; other axes must be fixed."""
    t = value_info.type.tensor_type
    if not value_info.type.HasField("tensor_type"):
        raise LenetcError(f"input '{value_info.name}' is not a tensor")
    if t.elem_type != 1:
        raise LenetcError(f"input '{value_info.name}' has element type {t.elem_type}; lenetc needs float32 (1)")
    if not t.HasField("shape"):
        raise LenetcError(f"input '{value_info.name}' has no shape; lenetc needs a fixed size")
    dims = []
    for axis, dim in enumerate(t.shape.dim):
        if dim.HasField("dim_value") and dim.dim_value == 0:
            raise LenetcError(f"input '{value_info.name}' has an empty axis {axis} (size 0)")
        if dim.HasField("dim_value") and dim.dim_value > 0:
            dims.append(int(dim.dim_value))
        elif axis == 0:
            dims.append(1)  # symbolic batch: lenetc runs one sample at a time
        else:
            label = dim.dim_param or "?"
            raise LenetcError(
                f"input '{value_info.name}' has dynamic dimension '{label}' at axis {axis}; lenetc needs a fixed size"
            )
    if not 1 <= len(dims) <= 4:
        raise LenetcError(
            f"input '{value_info.name}' has rank {len(dims)}; lenetc takes (N,), (N, C), (N, C, L) or (N, C, H, W)"
        )
    batch = dims[0]
    return tuple(dims), batch


def check_unique_names(graph) -> None:
    """Refuse a graph that defines one tensor name twice: two initializers, two node outputs, or
    a node output that is also an initializer or a graph input. ONNX requires single assignment;
    runtimes that accept such a file disagree on which definition wins (ONNX Runtime takes the
    first initializer, a dictionary the last), so no answer would be the model's."""
    seen: dict[str, str] = {}

    def define(name: str, what: str) -> None:
        if name in seen:
            raise LenetcError(f"tensor name {shown(name)} is defined twice ({seen[name]} and {what})")
        seen[name] = what

    for t in graph.initializer:
        define(t.name, "an initializer")
    initializers = set(seen)
    for value in graph.input:
        if value.name not in initializers:  # an input may repeat an initializer (its default value)
            define(value.name, "a graph input")
    for node in graph.node:
        for out in node.output:
            if out:
                define(out, f"an output of node {shown(node.name or node.op_type)}")
