"""Small ONNX helpers for the importer: reading a file, attributes, and constant folding.

A node whose inputs are all constants (initializers, Constant nodes, shapes of tensors
whose size is fixed) is evaluated at import time with ONNX's own reference evaluator, run
at the model's opset, so ``Shape -> Gather -> Unsqueeze -> Concat -> Reshape`` chains and
reshaped or transposed initializers become plain constants.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LenetcError
from ..limits import MAX_TENSOR_ELEMENTS

#: The ONNX opsets the importer accepts (7 to 21 are tested; later ones keep the semantics
#: of the supported operators and appear in the onnx package's own node tests).
MIN_OPSET = 7


def need_onnx():
    """Import ``onnx`` or fail with the install hint."""
    try:
        import onnx
    except ImportError:  # pragma: no cover - depends on the environment
        raise LenetcError("reading or writing ONNX needs the onnx package: pip install lenetc[onnx]") from None
    return onnx


def one_line(text: str) -> str:
    """``text`` with every non-printable character (newlines from a corrupt file's names) as '?'."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def max_opset() -> int:
    return int(need_onnx().defs.onnx_opset_version())


def read_model(path: str | Path):
    """Parse an ONNX file; a truncated or foreign file is a one-line error."""
    onnx = need_onnx()
    path = Path(path)
    if not path.is_file():
        raise LenetcError(f"ONNX file '{path}' does not exist")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf DecodeError, external-data OSError, ...
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LenetcError(f"'{path}' is not a readable ONNX model ({msg})") from None
    if not model.HasField("graph") or not model.graph.node:
        raise LenetcError(f"'{path}' is not a readable ONNX model (no graph nodes; truncated file?)")
    return model


def opset_of(model) -> int:
    """The default-domain opset of ``model``, checked against the supported range."""
    versions = [op.version for op in model.opset_import if op.domain in ("", "ai.onnx")]
    if not versions:
        raise LenetcError("ONNX model imports no default-domain opset")
    opset, top = int(versions[0]), max_opset()
    if not MIN_OPSET <= opset <= top:
        raise LenetcError(f"ONNX opset {opset} is not supported (supported: {MIN_OPSET} to {top})")
    return opset


def attrs(node) -> dict[str, Any]:
    """The node's attributes as Python values (ints, floats, strings, lists, arrays)."""
    onnx = need_onnx()
    out: dict[str, Any] = {}
    for a in node.attribute:
        value = onnx.helper.get_attribute_value(a)
        if isinstance(value, bytes):
            value = value.decode()
        elif a.type == onnx.AttributeProto.TENSOR:
            value = onnx.numpy_helper.to_array(value)
        out[a.name] = value
    return out


def tensor_to_array(tensor) -> np.ndarray:
    """An initializer (raw_data or typed fields) as a NumPy array."""
    onnx = need_onnx()
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        raise LenetcError(f"initializer '{tensor.name}': external data could not be loaded")
    if any(d < 0 for d in tensor.dims):
        raise LenetcError(f"initializer '{tensor.name}' has a negative dimension {list(tensor.dims)}")
    try:
        return np.array(onnx.numpy_helper.to_array(tensor))
    except Exception as exc:
        raise LenetcError(f"initializer '{tensor.name}' cannot be read: {exc}") from None


#: Operators never folded: their cost is not bounded by their output's shape (a Loop's trip
#: count, a subgraph's contents), so a constant Loop could run a billion times.
UNFOLDABLE = frozenset({"Loop", "Scan", "If", "SequenceMap"})


def _output_sizes(node, names: list[str], feeds: dict[str, np.ndarray], opset: int) -> list[int | None]:
    """Element count of each output of ``node`` on constant inputs, from ONNX shape inference
    with the inputs as initializers (it reads their values: Expand's shape, Tile's repeats,
    Range's limits...); None where it cannot tell."""
    onnx = need_onnx()
    from onnx import helper, numpy_helper

    outs = [f"out{i}" for i in range(len(node.output))]
    copy = helper.make_node(node.op_type, names, outs, domain=node.domain)
    copy.attribute.extend(node.attribute)
    inits = [numpy_helper.from_array(v, n) for n, v in feeds.items()]
    graph = helper.make_graph([copy], "bound", [], [helper.make_value_info(o, onnx.TypeProto()) for o in outs], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception:  # inference rejects the node: the evaluator will say why
        return [None] * len(outs)
    found = {vi.name: vi for vi in [*inferred.graph.output, *inferred.graph.value_info]}
    sizes: list[int | None] = []
    for o in outs:
        vi = found.get(o)
        t = vi.type.tensor_type if vi is not None else None
        dims = list(t.shape.dim) if t is not None and t.HasField("shape") else None
        if dims is None or not all(d.HasField("dim_value") for d in dims):
            sizes.append(None)
        else:
            sizes.append(math.prod(int(d.dim_value) for d in dims))
    return sizes


def check_fold_size(node, names: list[str], feeds: dict[str, np.ndarray], opset: int) -> None:
    """Refuse, before computing anything, a fold whose output would pass
    :data:`~lenetc.limits.MAX_TENSOR_ELEMENTS` or whose size cannot be known in advance."""
    if node.op_type in UNFOLDABLE:
        raise LenetcError(f"{node.op_type} on constant inputs is not folded (its cost has no bound)")
    for i, n in enumerate(_output_sizes(node, names, feeds, opset)):
        if n is None:
            raise LenetcError(f"cannot bound the size of its constant output {i} before computing it; not folded")
        if n > MAX_TENSOR_ELEMENTS:
            raise LenetcError(
                f"its constant output {i} would hold {n:,} elements (at most {MAX_TENSOR_ELEMENTS:,} are folded)"
            )


def fold(node, inputs: list[np.ndarray | None], opset: int) -> list[np.ndarray]:
    """Evaluate ``node`` on constant ``inputs`` (None for an omitted optional input), once
    :func:`check_fold_size` has bounded its outputs."""
    onnx = need_onnx()
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    names = [f"in{i}" if v is not None else "" for i, v in enumerate(inputs)]
    feeds = {n: v for n, v in zip(names, inputs, strict=True) if v is not None}
    check_fold_size(node, names, feeds, opset)
    copy = helper.make_node(node.op_type, names, [f"out{i}" for i in range(len(node.output))], domain=node.domain)
    copy.attribute.extend(node.attribute)
    graph = helper.make_graph(
        [copy],
        "fold",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape) for n, v in feeds.items()],
        [helper.make_value_info(f"out{i}", onnx.TypeProto()) for i in range(len(node.output))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    try:
        results = ReferenceEvaluator(model).run(None, feeds)
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LenetcError(f"cannot fold its constant inputs ({msg})") from None
    return [np.asarray(r) for r in results]
