"""Flash and RAM of the zoo nets on Cortex-M, measured from the cross-compiled object.

    PYTHONPATH=. python benchmarks/firmware_size.py [--models ...] [--dtypes float32 int8] [--targets cortex-m4]

Prints a Markdown table (the one in docs/firmware.md). Flash = code + weights + data of the
model's object file (arm-none-eabi-size -A); RAM = the static arena (.bss) + data + the
worst-case stack of <prefix>_run (-fstack-usage). Same flags as the example firmware (-O2).
"""

from __future__ import annotations

import argparse
import sys

import lenetc
from lenetc.firmware.bundle import supported_dtypes
from lenetc.firmware.size import measure
from lenetc.firmware.targets import get_target

ZOO4 = ("lenet5", "lenet-caffe", "lenet-keras", "lenet5-keras")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(ZOO4))
    parser.add_argument("--dtypes", nargs="+", default=["float32", "int8"])
    parser.add_argument("--targets", nargs="+", default=["cortex-m4"])
    args = parser.parse_args(argv)
    print("| model | dtype | target | flash (B) | code | weights | RAM (B) | arena | stack |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for model in args.models:
        net = lenetc.load(model)
        for dtype in args.dtypes:
            if dtype not in supported_dtypes():
                print(f"| {model} | {dtype} | (not supported by this build) | | | | | | |")
                continue
            model_of_type = lenetc.prepare(net, dtype)  # int8: calibrated on MNIST training digits
            for target in args.targets:
                # the C of the target's dialect, as `lenetc size` measures it
                gen = lenetc.generate(model_of_type, target=get_target(target).dialect)
                r = measure(gen, target)
                print(
                    f"| {model} | {dtype} | {target} | {r.flash:,} | {r.code:,} | {r.weights:,} | "
                    f"{r.ram:,} | {r.bss:,} | {r.stack:,} |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
