"""lenetc :class:`~lenetc.network.Network` -> ONNX, and running ONNX models in ONNX Runtime.

Every lenetc layer maps to standard operators (opset 13): LeNet-5's sparse C3 becomes a
dense Conv whose unconnected taps are zero; trainable subsampling becomes a depthwise Conv
whose 2x2 kernel holds the map's coefficient; LeCun's scaled tanh is Mul -> Tanh -> Mul;
the RBF output is Unsqueeze -> Sub -> Mul -> ReduceSum.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import LenetcError
from ..fileio import check_output_file, write_file
from ..importers.onnx_fold import need_onnx
from ..importers.onnx_meta import preprocess_props
from ..kinds import kind_of
from ..network import Network
from ..reference import chunk_images, in_chunks

EXPORT_OPSET = 13


class _Graph:
    """Collects nodes and initializers while the layers are walked; each kind's ``to_onnx``
    (``lenetc/kinds``) calls :meth:`node` and :meth:`const` on it."""

    def __init__(self, onnx):
        self.onnx, self.h = onnx, onnx.helper
        self.nodes: list = []
        self.inits: list = []
        self.count = 0

    def const(self, name: str, values: np.ndarray) -> str:
        arr = np.asarray(values)
        arr = arr.astype(np.int64 if arr.dtype.kind in "iu" else np.float32)
        self.inits.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def node(self, op: str, inputs: list[str], name: str, **attributes) -> str:
        self.count += 1
        out = f"{name}_out{self.count}"
        self.nodes.append(self.h.make_node(op, inputs, [out], name=f"{name}_{op}_{self.count}", **attributes))
        return out


def to_onnx(net: Network, opset: int = EXPORT_OPSET):
    """The ONNX ``ModelProto`` of ``net`` (input ``input`` (N, C, H, W), output ``output``), checked."""
    onnx = need_onnx()
    net.validate()
    g = _Graph(onnx)
    p = net.params
    x = "input"
    shapes = net.shapes()
    for layer, in_shape in zip(net.layers, shapes[:-1], strict=True):
        x = kind_of(layer).to_onnx(g, layer, in_shape, p, x)
    g.nodes.append(g.h.make_node("Identity", [x], ["output"], name="output"))
    h = g.h
    graph = h.make_graph(
        g.nodes,
        net.name,
        [h.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["N", *net.input_shape])],
        [h.make_tensor_value_info("output", onnx.TensorProto.FLOAT, ["N", *net.output_shape])],
        initializer=g.inits,
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)], producer_name="lenetc")
    model.ir_version = min(model.ir_version, 8)  # readable by older ONNX Runtime releases
    if not net.preprocess.guessed:  # a guess stays a guess: it is not written down as if stated
        h.set_model_props(model, preprocess_props(net.preprocess))
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:  # pragma: no cover - a bug in this exporter
        raise LenetcError(f"exported ONNX model fails onnx.checker: {str(exc).splitlines()[0]}") from None
    return model


def save_onnx(net: Network, path: str | Path, opset: int = EXPORT_OPSET) -> Path:
    """Write ``net`` as ONNX to ``path`` through a temporary file and a rename."""
    check_output_file(path)
    data = to_onnx(net, opset).SerializeToString()
    return write_file(path, data)


def ort_session(model, threads: int = 1):
    """An ONNX Runtime CPU session for a Network, an ``onnx.ModelProto`` or an .onnx path, on ``threads`` threads."""
    try:
        import onnxruntime as ort
    except ImportError:  # pragma: no cover - depends on the environment
        raise LenetcError("running ONNX Runtime needs onnxruntime: pip install lenetc[onnx]") from None
    if isinstance(model, Network):
        data = to_onnx(model).SerializeToString()
    elif isinstance(model, (str, Path)):
        data = Path(model).read_bytes()
    else:
        data = model.SerializeToString()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = threads
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise LenetcError(f"ONNX Runtime cannot load the model: {str(exc).strip().splitlines()[0]}") from None


def run_session(sess, x: np.ndarray, step: int | None = None) -> np.ndarray:
    """Run ``sess`` on lenetc-layout input (N, C, H, W) or one sample; returns (N, outputs) or (outputs,).
    With ``step``, a model with a free batch size runs ``step`` samples at a time (bounded memory).
    An ONNX Runtime failure is a one-line :class:`LenetcError`."""
    try:
        return _run_session(sess, x, step)
    except LenetcError:
        raise
    except Exception as exc:  # onnxruntime raises its own exception types (Fail, InvalidArgument, ...)
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LenetcError(f"ONNX Runtime failed to run the model: {msg}") from None


def _run_session(sess, x: np.ndarray, step: int | None) -> np.ndarray:
    inp = sess.get_inputs()[0]
    dims = list(inp.shape)
    sample = math.prod(int(d) for d in dims[1:])
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.size % sample:
        raise LenetcError(f"input has {x.size} values, not a multiple of the ONNX input's {sample} per sample")
    n = x.size // sample
    single = x.ndim <= 3 and n == 1
    batch = x.reshape(n, *[int(d) for d in dims[1:]])
    fixed = dims[0] if isinstance(dims[0], int) and dims[0] > 0 else None
    if fixed is None and step is not None and n > step:
        out = in_chunks(lambda part: sess.run(None, {inp.name: part})[0].reshape(len(part), -1), batch, step)
    elif fixed is None or fixed == n:
        out = sess.run(None, {inp.name: batch})[0].reshape(n, -1)
    else:  # a fixed batch size: run chunks of it, the last one padded with zeros and trimmed
        chunks = []
        for start in range(0, n, fixed):
            part = batch[start : start + fixed]
            if len(part) < fixed:
                part = np.concatenate([part, np.zeros((fixed - len(part), *part.shape[1:]), np.float32)])
            chunks.append(sess.run(None, {inp.name: part})[0].reshape(fixed, -1))
        out = np.concatenate(chunks)[:n]
    return out[0] if single else out


def run_onnxruntime(net_or_path, x: np.ndarray, step: int | None = None) -> np.ndarray:
    """Outputs of ONNX Runtime (single-threaded) for a Network (exported first) or an .onnx file,
    ``step`` samples at a time if given."""
    return run_session(ort_session(net_or_path, threads=1), x, step)


def onnxruntime_outputs(model_arg: str | Path, net: Network, x: np.ndarray) -> tuple[np.ndarray, str]:
    """The reference for ``verify --against onnxruntime``: ONNX Runtime on the .onnx file itself when
    MODEL is one, else on ``net``'s export. Returns (outputs (N, classes), a label for the report)."""
    step = chunk_images(net.shapes(), 4)  # float32 activations, sliced as the NumPy reference is
    if str(model_arg).lower().endswith(".onnx"):
        return run_onnxruntime(model_arg, x, step), f"ONNX Runtime on {model_arg}"
    return run_onnxruntime(net, x, step), "ONNX Runtime on the ONNX export"
