"""ONNX's own backend node tests, run through lenetc's importer, generated C and cffi bindings.

The runner lives in tests/onnx_node_suite.py (``python tests/onnx_node_suite.py`` prints the
table). Every case of a supported operator family either passes against the case's expected
output (tolerances: exact for selection/copy ops, rtol 1e-5 + atol 1e-6 otherwise) or is out
of scope with the importer's one-line reason. The per-family counts are pinned so that a
change of scope shows up here.
"""

from __future__ import annotations

import pytest

pytest.importorskip("onnx")

from onnx_node_suite import _as_array, all_cases, bound_model, run_suite  # noqa: E402

#: family -> (passed, out of scope) with onnx RECORDED_WITH; the runner lists every reason.
RECORDED_WITH = "1.23.2"
EXPECTED = {
    "Add": (1, 7), "AveragePool": (13, 7), "BatchNormalization": (2, 2), "Cast": (0, 116), "Clip": (9, 3),
    "Concat": (0, 12), "Constant": (0, 1), "Conv": (6, 0), "Div": (1, 9), "Dropout": (5, 7), "Flatten": (3, 6),
    "Gather": (0, 4), "Gemm": (8, 3), "GlobalAveragePool": (2, 0), "GlobalMaxPool": (2, 0), "Identity": (2, 3),
    "LeakyRelu": (3, 0), "LogSoftmax": (2, 5), "MatMul": (1, 6), "MaxPool": (11, 8), "Mul": (1, 8), "Relu": (1, 0),
    "Reshape": (6, 4), "Shape": (0, 11), "Sigmoid": (2, 0), "Softmax": (2, 5), "Squeeze": (1, 1), "Sub": (1, 8),
    "Tanh": (2, 0), "Transpose": (2, 5), "Unsqueeze": (6, 1),
}  # fmt: skip


@pytest.fixture(scope="module")
def suite():
    return run_suite()


def test_every_in_scope_case_passes(suite):
    failed = [f"{c.name}: {c.reason}" for c in suite.cases if c.status == "failed"]
    assert not failed, failed


def test_out_of_scope_cases_have_a_one_line_reason(suite):
    for c in suite.cases:
        if c.status == "out of scope":
            assert c.reason and "\n" not in c.reason, c.name


def test_family_counts_match_the_recorded_table(suite):
    import onnx

    table = {fam: (cnt["passed"], cnt["out of scope"]) for fam, cnt in suite.table().items()}
    if onnx.__version__ == RECORDED_WITH:
        assert table == EXPECTED
    else:  # another release has other cases: at least as many must pass
        for fam, (passed, _) in EXPECTED.items():
            assert table.get(fam, (0, 0))[0] >= passed, f"{fam}: {table.get(fam)}"


def test_core_families_are_covered(suite):
    """The LeNet operators must have passing cases, whatever the onnx release."""
    table = suite.table()
    for fam in ("Conv", "MaxPool", "AveragePool", "Gemm", "Relu", "Softmax", "Flatten", "BatchNormalization"):
        assert table[fam]["passed"] >= 1, fam


def test_every_node_test_model_imports_or_fails_in_one_line():
    """All node tests, supported operators or not: the importer returns a network or raises a
    one-line LenetcError, never another exception (no traceback reaches the CLI)."""
    from lenetc.errors import LenetcError
    from lenetc.importers.onnx_load import import_model

    outcomes = {"imported": 0, "refused": 0}
    for case in all_cases():
        inputs = [_as_array(v) for v in case.data_sets[0][0]] if case.data_sets else []
        try:
            import_model(bound_model(case, inputs), "case")
            outcomes["imported"] += 1
        except LenetcError as exc:
            assert "\n" not in str(exc), case.name
            outcomes["refused"] += 1
    assert outcomes["imported"] >= 80 and outcomes["refused"] > 1000
