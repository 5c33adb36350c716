"""Instructions per inference of lenetc's C on bare-metal Arm64 (issue 27 item 4).

Each model is built for the ``portable`` and ``neon`` dialects with aarch64-linux-gnu-gcc -O2
-march=armv8.2-a+dotprod (the same flags for both), linked with benchmarks/arm64/start.S (MMU
on, FP/SIMD on, PMU counter 0 = INST_RETIRED) and run under ``qemu-system-aarch64 -M virt
-cpu cortex-a76 -icount shift=0``, where the PMU counts exactly one per instruction (a vector
instruction is one). The output checksum (FNV-1a over the output bytes) is checked against
the host: the NumPy integer reference for int8, the host build's bits for float32.

Usage: PYTHONPATH=. python benchmarks/arm64_icount.py [--models ...] [--dtypes float32 int8]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lenetc  # noqa: E402
from lenetc.api import calibration_digits  # noqa: E402
from lenetc.build import build  # noqa: E402
from lenetc.datasets import preprocessed  # noqa: E402
from lenetc.extension import HOST_FLAGS, compiler  # noqa: E402
from lenetc.quant import forward_int8  # noqa: E402

HERE = Path(__file__).resolve().parent / "arm64"
CC = "aarch64-linux-gnu-gcc"
CFLAGS = ("-std=c99", "-O2", "-march=armv8.2-a+dotprod", "-ffp-contract=off", "-fno-pie", "-no-pie")
QEMU = ("qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a76", "-m", "128M", "-icount", "shift=0",
        "-semihosting-config", "enable=on,target=native", "-display", "none", "-serial", "null",
        "-monitor", "none", "-nodefaults")  # fmt: skip


def fnv(data: bytes) -> int:
    h = 1469598103934665603
    for b in data:
        h = ((h ^ b) * 1099511628211) % (1 << 64)
    return h


def run(model, x: np.ndarray, dialect: str, tmp: Path) -> tuple[int, list[int], int, list[str]]:
    """(instructions of one inference, per op, checksum, op names) on the emulated cortex-a76."""
    gen = lenetc.generate(model, target=dialect, prefix="m")
    for name, text in gen.files.items():
        (tmp / name).write_text(text)
    plan = gen.plan
    in_t = plan.numeric.ctype
    out_t = plan.out_ctype
    vals = ", ".join(str(int(v)) if in_t != "float" else f"{float(v)!r}f" for v in x.reshape(-1))
    (tmp / "input.h").write_text(
        f"#define OUT_T {out_t}\n#define M_OPS {len(plan.ops)}\nstatic const {in_t} bench_input[] = {{{vals}}};\n"
    )
    for f in ("start.S", "main.c", "link.ld"):
        (tmp / f).write_bytes((HERE / f).read_bytes())
    subprocess.run([CC, *CFLAGS, "-nostdlib", "-nostartfiles", "-static", "-T", "link.ld", "start.S", "main.c",
                    "-lgcc", "-o", "x.elf"], cwd=tmp, check=True)  # fmt: skip
    proc = subprocess.run([*QEMU, "-kernel", "x.elf"], cwd=tmp, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)  # fmt: skip
    text = proc.stdout + proc.stderr  # semihosting writes to the emulator's stderr
    lines = dict(line.split(" ", 1) for line in text.splitlines() if " " in line)
    if proc.returncode != 0 or "total" not in lines:
        raise RuntimeError(f"{dialect}: qemu failed ({proc.returncode}): {proc.stdout} {proc.stderr}")
    ops = [int(v) for v in lines["ops"].split()]
    return int(lines["total"]), ops, int(lines["checksum"]), [op.layer for op in plan.ops]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["lenet-caffe", "lenet5-keras", "lenet5"])
    parser.add_argument("--dtypes", nargs="+", default=["int8", "float32"])
    parser.add_argument("--per-layer", action="store_true", help="print each op's instructions")
    args = parser.parse_args()
    digits = calibration_digits(100)
    print(f"{'model':<13} {'dtype':<8} {'MACs':>9} {'portable':>10} {'neon':>10} {'port/MAC':>9} {'neon/MAC':>9}")
    for name in args.models:
        net = lenetc.load(name)
        macs = net.totals()["macs"]
        x = preprocessed(net, digits[:1]).reshape(1, *net.input_shape).astype(np.float32)
        for dtype in args.dtypes:
            if dtype == "int8":
                model = lenetc.quantize(net, preprocessed(net, digits))
                xin = model.quantize_input(x)
                ref = np.asarray(forward_int8(model, xin)).reshape(-1)
                ref = ref.astype(np.int32 if model.output_dtype == "int32" else np.int8)
            else:
                model, xin = net, x
                ref = build(lenetc.generate(net, target="portable"), HOST_FLAGS, compiler())(x).reshape(-1)
            want = fnv(ref.tobytes())
            counts = {}
            for dialect in ("portable", "neon"):
                with tempfile.TemporaryDirectory() as tmp:
                    total, ops, checksum, names = run(model, xin, dialect, Path(tmp))
                if checksum != want:
                    raise SystemExit(f"{name} {dtype} {dialect}: output differs from the host reference")
                counts[dialect] = (total, ops, names)
            p, n = counts["portable"][0], counts["neon"][0]
            print(f"{name:<13} {dtype:<8} {macs:>9,} {p:>10,} {n:>10,} {p / macs:>9.3f} {n / macs:>9.3f}")
            if args.per_layer:
                for layer, v in zip(counts["neon"][2], counts["neon"][1]):
                    print(f"    neon {layer:<10} {v:>10,}")


if __name__ == "__main__":
    main()
