"""ONNX Runtime's integer outputs for an int8 network: the reference of ``verify --against
onnxruntime --dtype int8``.

For a quantized .onnx file (QDQ or QOperator) it is the file itself, run as a user runs it
(default graph optimizations, so ONNX Runtime fuses its integer kernels), read at the quantized
tensor of the last integer layer (recorded by the importer in ``notes["onnx_output_q"]``); a
uint8 tensor is shifted by 128 to lenetc's int8. For a network lenetc
calibrated, it is its QDQ export (:mod:`.onnx_qdq`), output ``output_q``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import LenetcError
from ..importers.onnx_fold import need_onnx
from ..quant.qnetwork import QuantizedNetwork
from .onnx_export import ort_session
from .onnx_qdq import to_qdq_onnx

_TYPES = {"int8": 3, "uint8": 2}  # onnx.TensorProto.INT8 / UINT8


def _with_output(path: Path, tensor: str, dtype: str):
    """The model with ``tensor`` readable: where a DequantizeLinear reads it (a QDQ file), the graph
    ends at that node's float output, so ONNX Runtime still fuses the layer into its integer kernel
    (a quantized tensor that is itself a graph output can keep it from fusing); else (QOperator:
    the fused operator's own output) the tensor becomes a graph output. Returns (model, output
    name, (scale, zero point) to recover the integers from the float output or None)."""
    onnx = need_onnx()
    model = onnx.load(str(path))
    inits = {t.name: t for t in model.graph.initializer}
    dq = next((n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] == tensor), None)
    del model.graph.output[:]
    if dq is not None and len(dq.input) > 2 and dq.input[1] in inits and dq.input[2] in inits:
        scale = onnx.numpy_helper.to_array(inits[dq.input[1]]).astype(np.float32)
        zp = onnx.numpy_helper.to_array(inits[dq.input[2]]).astype(np.int64)
        model.graph.output.append(onnx.helper.make_tensor_value_info(dq.output[0], 1, None))
        return model, dq.output[0], (scale, zp)
    model.graph.output.append(onnx.helper.make_tensor_value_info(tensor, _TYPES[dtype], None))
    return model, tensor, None


def onnxruntime_int8(qnet: QuantizedNetwork, x: np.ndarray, path: str | Path | None = None) -> tuple[np.ndarray, str]:
    """ONNX Runtime's int8 logits (N, outputs) on the float inputs ``x`` (N, C, H, W): from the
    quantized file at ``path`` when ``qnet`` was imported from one, else from ``qnet``'s QDQ export.
    Returns (outputs as int8 values in int64, a label for the report)."""
    tensor = qnet.notes.get("onnx_output_q")
    if tensor is not None and path is not None:
        dtype = qnet.notes.get("onnx_output_dtype", "int8")
        model, tensor, back = _with_output(Path(path), tensor, dtype)
        label = f"ONNX Runtime on {path}"
    else:
        model, tensor, dtype, back = to_qdq_onnx(qnet), "output_q", "int8", None
        label = "ONNX Runtime on lenetc's QDQ export"
    sess = ort_session(model, threads=1)
    inp = sess.get_inputs()[0]
    batch = np.ascontiguousarray(x, np.float32).reshape(len(x), *[int(d) for d in inp.shape[1:]])
    fixed = inp.shape[0] if isinstance(inp.shape[0], int) and inp.shape[0] > 0 else len(x)
    if len(x) % fixed:
        raise LenetcError(f"the model's batch size is fixed at {fixed}; give a multiple of it")
    try:  # a fixed batch size (the zoo's mnist-12-int8: 1) runs in chunks of it
        parts = [sess.run([tensor], {inp.name: batch[i : i + fixed]})[0] for i in range(0, len(x), fixed)]
        out = np.concatenate(parts)
    except Exception as exc:  # onnxruntime raises its own exception types
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LenetcError(f"ONNX Runtime failed to run the model: {msg}") from None
    if back is not None:  # DequantizeLinear's float32 (q - zp) * scale: dividing it back is exact
        scale, zp = back
        out = np.rint(out.astype(np.float32) / scale).astype(np.int64) + zp
    out = out.reshape(len(x), -1).astype(np.int64)
    return (out - 128 if dtype == "uint8" else out), label
