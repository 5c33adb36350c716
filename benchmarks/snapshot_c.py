"""Write the generated C of every zoo net (plus one net using every other layer option) for
every number type, dialect and stage mode into a directory, so two versions of lenetc can be
compared byte for byte (``diff -r``) across a refactoring of the code generator.

    PYTHONPATH=. python benchmarks/snapshot_c.py /tmp/snap-before
    ... change the code ...
    PYTHONPATH=. python benchmarks/snapshot_c.py /tmp/snap-after && diff -r /tmp/snap-before /tmp/snap-after

Weights are the shipped ones; int8 calibration uses seeded synthetic digits (the same on every
run), so the snapshot depends on the code generator only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lenetc  # noqa: E402
from lenetc.codegen.artifact import generated  # noqa: E402
from lenetc.codegen.plan import make_plan  # noqa: E402

try:
    from lenetc.families import DIALECTS
except ImportError:  # lenetc before issue 24 (the snapshot is taken before and after a change)
    from lenetc.codegen.dialect import DIALECTS  # type: ignore[no-redef]
from lenetc.quant import quantize  # noqa: E402
from lenetc.quant.requant_mode import REQUANT_MODES, with_requant  # noqa: E402
from lenetc.zoo import ZOO  # noqa: E402
from tests.int8_helpers import _beyond_zoo, calibration_digits  # noqa: E402

MODES = ("fused", "window", "window-narrow", "whole")


def models():
    """(name, float Network, QuantizedNetwork) for the zoo and the all-options net."""
    for name in ZOO:
        net = lenetc.load(name)
        yield name, net, quantize(net, calibration_digits())
    beyond = _beyond_zoo()
    x = np.random.default_rng(1).uniform(0, 1, (64, 1, 16, 16)).astype(np.float32)
    yield "beyond", beyond, quantize(beyond, x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--dialects", nargs="*", default=None, help="default: every registered dialect")
    args = ap.parse_args()
    dialects = args.dialects or list(DIALECTS)
    n = 0
    for name, net, qnet in models():
        convs = [layer.name for layer in net.layers if layer.kind == "conv2d"]
        variants = [("float32", net), ("int8", qnet), ("int8-requant-float", with_requant(qnet, "float"))]
        if "tflm" in REQUANT_MODES:
            variants.append(("int8-requant-tflm", with_requant(qnet, "tflm")))
        for dtype, model in variants:
            for dialect in dialects:
                for mode in MODES:
                    if dtype.startswith("int8-requant") and mode != "fused":
                        continue
                    plan = make_plan(model, name.replace("-", "_"), dialect, modes={c: mode for c in convs})
                    d = args.out / name / dtype / dialect / mode
                    d.mkdir(parents=True, exist_ok=True)
                    for fname, text in generated(plan).files.items():
                        (d / fname).write_text(text)
                        n += 1
    # the firmware example bundle of one net per target (Makefile, CMake, startup, linker scripts)
    from lenetc.firmware.bundle import write_example
    from lenetc.firmware.targets import TARGETS

    net = lenetc.load("lenet5")
    qnet = quantize(net, calibration_digits())
    for target in TARGETS:
        for dtype, model in (("float32", net), ("int8", qnet)):
            d = args.out / "bundle" / target / dtype
            write_example(model, d, "lenet5", digits=None, target=target)
            n += len(list(d.rglob("*")))
    print(f"{n} files under {args.out}")


if __name__ == "__main__":
    main()
