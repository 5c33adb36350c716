"""Issue 23's goal table: lenetc's C on the TFLite fixtures against TFLM and LiteRT on the
10,000 MNIST test digits.

    PYTHONPATH=. python benchmarks/tflite_agreement.py [N]

int8 files: % identical output elements, max LSB difference and argmax agreement of lenetc's
int8 C (--requant tflm and --requant int) against TFLM, of LiteRT against TFLM (the difference
the issue describes) and of lenetc's --requant int C against LiteRT; float32 files: max error of
lenetc's float32 C relative to LiteRT's largest |output|, and argmax agreement.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import lenetc
from lenetc.datasets import mnist
from lenetc.quant.requant_mode import with_requant
from lenetc.tflite_runtime import run

FIXTURES = Path(__file__).parent.parent / "tests" / "fixtures" / "tflite"
NETS = ["keras_lenet", "lenet5_tanh", "caffe_lenet", "same3x3", "explicit_pad"]


def stats(a: np.ndarray, b: np.ndarray) -> str:
    d = np.abs(a.astype(np.int64) - b.astype(np.int64))
    agree = (a.argmax(1) == b.argmax(1)).mean()
    return f"{100 * (d == 0).mean():7.3f} % {int(d.max()):3d} LSB argmax {100 * agree:7.3f} %"


def main(n: int) -> None:
    images, _ = mnist("test")
    x = (images[:n].astype(np.float32) / np.float32(255.0))[:, None]
    print(f"{n} MNIST test digits")
    for name in NETS:
        for io in ("int8", "int8_fio"):
            path = FIXTURES / f"{name}_{io}.tflite"
            qnet = lenetc.load(path)
            xq = qnet.quantize_input(x)
            feed = xq if io == "int8" else x
            ref = run("tflm", path, feed)
            lite = run("litert", path, feed)
            if io == "int8_fio":
                s, z = np.float32(qnet.output_q.scale), qnet.output_q.zero_point
                ref, lite = np.rint(ref / s) + z, np.rint(lite / s) + z
            tflm_c = lenetc.compile(qnet).run_int8(xq)
            int_c = lenetc.compile(with_requant(qnet, "int")).run_int8(xq)
            print(f"{path.name:<28} C tflm vs TFLM {stats(tflm_c, ref)} | C int vs TFLM {stats(int_c, ref)} "
                  f"| LiteRT vs TFLM {stats(lite, ref)} | C int vs LiteRT {stats(int_c, lite)}")  # fmt: skip
        path = FIXTURES / f"{name}.tflite"
        net = lenetc.load(path)
        ours = lenetc.compile(net)(x)
        ref = run("litert", path, x)
        rel = np.abs(ours - ref).max() / np.abs(ref).max()
        print(f"{path.name:<28} float32 C vs LiteRT: max rel error {rel:.2e}, "
              f"argmax {100 * (ours.argmax(1) == ref.argmax(1)).mean():.3f} %")  # fmt: skip


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10000)
