"""Run ONNX's own backend node tests through lenetc: importer -> generated C -> cffi bindings.

Used by tests/test_onnx_node_suite.py; ``python tests/onnx_node_suite.py`` prints the
per-operator table. Every case whose operators are all in :data:`SUPPORTED_OPS` is tried:

* lenetc compiles weights into C, so every graph input but the first is bound as an
  initializer from the case's own input data (Conv's W, Gemm's B and C, Add's second operand);
* the first input is the per-sample data; its first axis is the batch, run by the C batch loop;
* a case the importer rejects is *out of scope* with the importer's one-line reason;
* a case that imports must match the case's expected output within the family's tolerance.

All accepted cases are compiled into ONE cffi extension (one C file per case, distinct
prefixes), cached under $LENETC_CACHE by a hash of the sources.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SUPPORTED_OPS = {
    "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Gemm", "MatMul", "Add", "Sub",
    "Mul", "Div", "Relu", "LeakyRelu", "Tanh", "Sigmoid", "Clip", "Softmax", "LogSoftmax", "Flatten", "Reshape",
    "Transpose", "BatchNormalization", "Dropout", "Identity", "Constant", "Cast", "Shape", "Gather", "Unsqueeze",
    "Squeeze", "Concat",
}  # fmt: skip

#: Families whose lenetc kernels compute exactly what ONNX specifies (selection, copies, clamps).
EXACT = {"MaxPool", "GlobalMaxPool", "Relu", "Clip", "Flatten", "Reshape", "Transpose", "Identity", "Dropout",
         "Squeeze", "Unsqueeze", "Cast"}  # fmt: skip
#: Everything else sums in float32 in another order than NumPy (Conv, Gemm, pools, BatchNorm folded
#: into a scale and shift, Div as multiply by the reciprocal) or uses lenetc's exp/tanh (relative
#: error below 2.5e-7, absolute below 3e-7): rtol 1e-5 and atol 1e-6, 100x tighter than ONNX's own 1e-3.
RTOL, ATOL = 1e-5, 1e-6


#: Cases whose expected output is a literal typed with few digits in ONNX's test generator.
ROUNDED_EXPECTED = {
    # y = [[[[0.1511]]]]: the exact mean is 0.151055..., so only 4 significant digits can match.
    "test_averagepool_2d_ceil_last_window_starts_on_pad": (5e-4, 0.0),
}


def tolerance(name: str, family: str) -> tuple[float, float]:
    if name in ROUNDED_EXPECTED:
        return ROUNDED_EXPECTED[name]
    return (0.0, 0.0) if family in EXACT else (RTOL, ATOL)


@dataclass
class CaseResult:
    name: str
    family: str
    status: str  # passed | failed | out of scope
    reason: str = ""
    max_abs: float = 0.0


@dataclass
class SuiteResult:
    cases: list[CaseResult] = field(default_factory=list)

    def table(self) -> dict[str, Counter]:
        out: dict[str, Counter] = {}
        for c in self.cases:
            out.setdefault(c.family, Counter())[c.status] += 1
        return dict(sorted(out.items()))


def family_of(model) -> str:
    ops = [n.op_type for n in model.graph.node if n.op_type != "Constant"] or ["Constant"]
    return ops[0] if len(set(ops)) == 1 else "+".join(sorted(set(ops)))


@functools.cache
def all_cases() -> tuple:
    """Every node test case of the installed onnx package (built once per process, ~12 s)."""
    from onnx.backend.test.loader import load_model_tests

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the case generators warn about overflow in other ops' data
        return tuple(load_model_tests(kind="node"))


def collect():
    """The node test cases whose operators are all supported."""
    return [c for c in all_cases() if {n.op_type for n in c.model.graph.node} <= SUPPORTED_OPS]


def bound_model(case, inputs):
    """A copy of the case's model with every graph input but the first bound to the case's data."""
    import onnx

    model = onnx.ModelProto()
    model.CopyFrom(case.model)
    graph = model.graph
    for vi, value in zip(list(graph.input)[1:], inputs[1:], strict=False):
        if isinstance(value, (np.ndarray, np.generic)):  # scalars (Clip's min/max) come as NumPy scalars
            graph.initializer.append(onnx.numpy_helper.from_array(np.asarray(value), vi.name))
    return model


def _as_array(value):
    """Test data stored as a TensorProto (exotic element types) as NumPy where NumPy can hold it."""
    import onnx

    if isinstance(value, onnx.TensorProto):
        try:
            return onnx.numpy_helper.to_array(value)
        except Exception:
            return value
    return value


def prepare(case):
    """(network, input, expected) for a case, or a string: why it is out of scope."""

    from lenetc.errors import LenetcError
    from lenetc.importers.onnx_load import import_model

    inputs, outputs = case.data_sets[0]
    if len(outputs) != 1:
        return f"{len(outputs)} outputs; lenetc models have one"
    if not inputs:
        return "no input: the graph is a constant"
    inputs = [_as_array(v) for v in inputs]
    x = inputs[0]
    if not isinstance(x, np.ndarray) or x.dtype != np.float32:
        kind = type(x).__name__ if not isinstance(x, np.ndarray) else x.dtype
        return f"input is {kind}; lenetc computes float32 tensors"
    model = bound_model(case, inputs)
    try:
        net = import_model(model, case.name)
    except LenetcError as exc:
        return str(exc)
    expected = np.asarray(outputs[0])
    return net, x, expected


def _build_shared(nets: dict[str, object]):
    """Compile every network's generated C into one cffi extension; returns it and the artifacts."""
    from lenetc.codegen import generated, make_plan
    from lenetc.extension import ExtensionSource, load_cached

    files: dict[str, str] = {}
    decls, plans = [], {}
    for prefix, net in nets.items():
        gen = generated(make_plan(net, prefix))
        plans[prefix] = gen
        files.update(gen.files)
        decls.append(gen.declarations)
    header = "\n".join(f'#include "{p}.h"' for p in nets)
    flags = ("-std=c99", "-O1", "-fPIC", "-ffp-contract=off")
    built = load_cached(ExtensionSource("node_suite", files, "\n".join(decls), header, flags))
    return built.module, plans


def run_suite() -> SuiteResult:
    """Import, compile and run every supported node test case."""
    from lenetc.build import CompiledNetwork

    result = SuiteResult()
    ready = {}
    for case in collect():
        family = family_of(case.model)
        prepared = prepare(case)
        if isinstance(prepared, str):
            result.cases.append(CaseResult(case.name, family, "out of scope", prepared))
        else:
            ready[f"n{len(ready)}"] = (case.name, family, *prepared)
    module, plans = _build_shared({p: item[2] for p, item in ready.items()})
    for prefix, (name, family, net, x, expected) in ready.items():
        compiled = CompiledNetwork(plans[prefix], module, Path(module.__file__).parent)
        n = x.shape[0]
        got = compiled(x.reshape(n, *net.input_shape)).reshape(n, -1)
        want = expected.reshape(n, -1).astype(np.float32)
        rtol, atol = tolerance(name, family)
        diff = float(np.abs(got.astype(np.float64) - want).max()) if want.size else 0.0
        ok = got.shape == want.shape and np.allclose(got, want, rtol=rtol, atol=atol)
        status = "passed" if ok else "failed"
        reason = "" if ok else f"max abs error {diff:.3g} (rtol {rtol}, atol {atol})"
        result.cases.append(CaseResult(name, family, status, reason, diff))
    return result


def main() -> None:
    os.environ.setdefault("LENETC_CACHE", str(Path(tempfile.gettempdir()) / "lenetc-node-suite"))
    res = run_suite()
    print("| operator family | passed | out of scope | failed |")
    print("|---|---|---|---|")
    for fam, cnt in res.table().items():
        print(f"| {fam} | {cnt['passed']} | {cnt['out of scope']} | {cnt['failed']} |")
    print()
    for c in res.cases:
        if c.status != "passed":
            print(f"{c.status}: {c.name} ({c.family}): {c.reason}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
