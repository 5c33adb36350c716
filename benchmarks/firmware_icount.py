"""Instructions per inference and per MAC of lenetc's generated C on emulated Cortex-M4 and M55
(or any bare-metal target: riscv32, riscv32-v at --vlens 128 256 512).

    PYTHONPATH=. python benchmarks/firmware_icount.py [--models lenet5 ...] [--dtypes float32 int8]
        [--targets cortex-m4 cortex-m55] [--opts=-O2] [--vlens 128 256 512]

Counts come from the example firmware timing itself with SysTick under QEMU -icount shift=0
(see lenetc/firmware/icount.py): deterministic, identical on every run. Beside them, ARM's
CMSIS-NN int8 kernels measured the same way (GCC 12 -O2, one inference; from the project's
measurement notes): Caffe LeNet 2.41 instructions/MAC on M4, 0.53 on M55; LeNet-5 with a
dense C3 (ReLU, average pooling; the same MACs as lenet5-keras) 5.23 on M4, 1.99 on M55. On
RISC-V, muRISCV-NN (its RVV kernels with its ``volatile`` vl workaround removed, clang-19 -O2,
VLEN 128) 0.734 / 2.444, and its scalar rv32imc path 4.64 / 6.94 (the project's notes).
"""

from __future__ import annotations

import argparse
import sys

import lenetc
from lenetc.errors import LenetcError
from lenetc.firmware.bundle import supported_dtypes
from lenetc.firmware.digits import synthetic_digits
from lenetc.firmware.icount import count_instructions
from lenetc.firmware.targets import get_target

ZOO4 = ("lenet5", "lenet-caffe", "lenet-keras", "lenet5-keras")
#: CMSIS-NN int8, instructions per MAC (model, target) -> value.
CMSIS_NN = {
    ("lenet-caffe", "cortex-m4"): 2.41,
    ("lenet-caffe", "cortex-m55"): 0.53,
    ("lenet5-keras", "cortex-m4"): 5.23,
    ("lenet5-keras", "cortex-m55"): 1.99,
    ("lenet-caffe", "riscv32-v"): 0.734,
    ("lenet5-keras", "riscv32-v"): 2.444,
    ("lenet-caffe", "riscv32"): 4.64,
    ("lenet5-keras", "riscv32"): 6.94,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(ZOO4))
    parser.add_argument("--dtypes", nargs="+", default=["float32", "int8"])
    parser.add_argument("--targets", nargs="+", default=["cortex-m4", "cortex-m55"])
    parser.add_argument(
        "--opts", nargs="+", default=["-O2", "-O3"], help="GCC optimisation levels (the Makefile's OPT)"
    )
    parser.add_argument("--digits", type=int, default=3, help="inferences to average over (default 3)")
    parser.add_argument("--vlens", nargs="+", type=int, default=[0], help="RISC-V vector lengths (vector targets)")
    args = parser.parse_args(argv)
    digits = synthetic_digits(args.digits, seed=5)
    header = (
        f"{'model':<14} {'dtype':<8} {'target':<11} {'opt':<4} {'MACs':>10} {'instructions':>13} "
        f"{'per MAC':>8} {'CMSIS-NN int8/MAC':>18}  (riscv: muRISCV-NN)"
    )
    print(header)
    print("-" * len(header))
    for model in args.models:
        net = lenetc.load(model)
        for dtype in args.dtypes:
            if dtype not in supported_dtypes():
                print(f"{model:<14} {dtype:<8} (dtype not supported by this build of lenetc)")
                continue
            model_in = lenetc.quantize(net) if dtype == "int8" else net  # calibrated on MNIST training digits
            for target, vlen in [(t, v) for t in args.targets for v in args.vlens]:
                t = get_target(target)
                if vlen and not t.vlen:
                    continue
                t = t.with_vlen(vlen) if vlen else t
                for opt in args.opts:
                    try:
                        c = count_instructions(model_in, dtype, t, digits=digits, opt=opt)
                    except LenetcError as exc:
                        print(f"{model:<14} {dtype:<8} {target:<11} error: {exc}", file=sys.stderr)
                        return 1
                    ref = CMSIS_NN.get((model, target))
                    print(
                        f"{model:<14} {dtype:<8} {target + (f'@{vlen}' if vlen else ''):<11} {opt:<4} {c.macs:>10,} "
                        f"{c.instructions:>13,.0f} "
                        f"{c.per_mac:>8.2f} {f'{ref:.2f}' if ref else '':>18}",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
