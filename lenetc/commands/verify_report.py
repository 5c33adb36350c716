"""What every ``verify`` comparison reports, printed as text or as JSON (``--json``) from one object,
so each reference (NumPy, ONNX Runtime, Keras, TFLM, LiteRT; float32 or int8) says the same things
in the same two forms."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class VerifyReport:
    """One comparison: its title, rows of (key, label, shown text, JSON value), the verdict."""

    model: str
    dtype: str
    reference: str
    inputs: str
    rows: list[tuple[str, str | None, str, Any]] = field(default_factory=list)
    ok: bool = False
    verdict: str = ""

    def add(self, key: str, label: str | None, value: Any, shown: str | None = None) -> None:
        """A row; ``label`` None: in the JSON only."""
        self.rows.append((key, label, str(value) if shown is None else shown, value))

    def emit(self, as_json: bool = False) -> int:
        """Print the report (text, or one JSON object); the exit status: 0 when it passed."""
        if as_json:
            doc = {"model": self.model, "dtype": self.dtype, "reference": self.reference, "inputs": self.inputs}
            doc.update({key: value for key, _, _, value in self.rows})
            doc.update({"pass": self.ok, "verdict": self.verdict})
            print(json.dumps(doc))
        else:
            print(f"{self.model}: C ({self.dtype}) vs {self.reference} on {self.inputs}")
            for _, label, shown, _ in self.rows:
                if label is not None:
                    print(f"  {label:<20} {shown}")
            print(f"  {self.verdict}")
        return 0 if self.ok else 1


def float_rows(report: VerifyReport, max_abs: float, max_rel: float, agree: float, tolerance: float) -> None:
    """The rows of a float32 comparison: absolute and relative error, argmax agreement."""
    report.add("max_abs", "max abs error", max_abs, f"{max_abs:.3e}")
    shown = f"{max_rel:.3e}  (relative to max |output|; tolerance {tolerance:g})"
    report.add("max_rel", "max rel error", max_rel, shown)
    report.add("tolerance", None, tolerance)
    report.add("argmax_agreement", "argmax agreement", agree, f"{100 * agree:.2f} %")
