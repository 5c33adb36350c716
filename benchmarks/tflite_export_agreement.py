"""Issue 23's export goal: lenetc's int8 export of the zoo nets run by TFLM against lenetc's C
with --requant tflm, and the float32 export run by LiteRT against lenetc's float32 C, on the
10,000 MNIST test digits (calibration: lenetc's default, the first 1,000 training digits).

    PYTHONPATH=. python benchmarks/tflite_export_agreement.py [N]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

import lenetc
from lenetc.datasets import mnist
from lenetc.exporters.tflite_export import save_tflite
from lenetc.quant.requant_mode import with_requant
from lenetc.tflite_runtime import run

ZOO = ["lenet-keras", "lenet5-keras", "lenet-caffe"]


def main(n: int) -> None:
    images, labels = mnist("test")
    images, labels = images[:n], labels[:n]
    out = Path(tempfile.mkdtemp(prefix="lenetc-tflite-export-"))
    print(f"{n} MNIST test digits; files in {out}")
    for model in ZOO:
        net = lenetc.load(model)
        x = net.preprocess.apply(images)
        qnet = with_requant(lenetc.quantize(net), "tflm")
        path = save_tflite(qnet, out / f"{model}_int8.tflite")
        xq = qnet.quantize_input(x)
        c_out = lenetc.compile(qnet).run_int8(xq)
        ref = run("tflm", path, xq)
        d = np.abs(c_out.astype(np.int64) - ref)
        acc = (c_out.argmax(1) == labels).mean()
        print(f"{model:<13} int8 export: TFLM vs lenetc C (tflm) identical {100 * (d == 0).mean():.3f} %, "
              f"max {int(d.max())} LSB, argmax {100 * (c_out.argmax(1) == ref.argmax(1)).mean():.3f} %, "
              f"int8 accuracy {100 * acc:.2f} %")  # fmt: skip
        fpath = save_tflite(net, out / f"{model}.tflite")
        ours = lenetc.compile(net)(x)
        lite = run("litert", fpath, x)
        rel = np.abs(ours - lite).max() / np.abs(lite).max()
        print(f"{model:<13} float32 export: LiteRT vs lenetc C max rel error {rel:.2e}, "
              f"argmax {100 * (ours.argmax(1) == lite.argmax(1)).mean():.3f} %")  # fmt: skip


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10000)
