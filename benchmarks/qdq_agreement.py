"""Quantized ONNX files made by onnxruntime.quantization, imported with their own scales: lenetc's
compiled int8 C against ONNX Runtime on the MNIST test digits (issue 22's goals).

For each zoo net (shipped trained weights), the float ONNX export is quantized statically by
onnxruntime.quantization (calibrated on the first --calib MNIST training digits) as QDQ and as
QOperator, per-channel and per-tensor weights, int8 and uint8 activations. lenetc imports each
file, compiles its int8 C (host) under --requant int and float, and compares its int8 logits with
ONNX Runtime's quantized logits tensor on the same digits: % identical elements, largest
difference in LSB, argmax agreement, accuracy of both. With --firmware the same C runs on the
emulated Cortex-M4 (QEMU mps2-an386) on the first --firmware-digits digits, and its printed
outputs are compared with the host C's.

Usage:
    PYTHONPATH=. python benchmarks/qdq_agreement.py [-n 10000] [--models lenet-caffe ...]
        [--calib 200] [--firmware] [--firmware-digits 20] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

import lenetc
from lenetc.datasets import mnist, mnist_inputs
from lenetc.exporters.onnx_export import save_onnx
from lenetc.exporters.onnx_int8_run import onnxruntime_int8
from lenetc.quant import with_requant

MODELS = ("lenet-caffe", "lenet-keras", "lenet5-keras", "lenet5")


class _Digits(CalibrationDataReader):
    def __init__(self, name: str, x: np.ndarray):
        self._it = iter({name: x[i : i + 1]} for i in range(len(x)))

    def get_next(self):
        return next(self._it, None)


def quantized_file(name: str, fmt: str, per_channel: bool, act: str, calib: int, tmp: Path) -> Path:
    """The zoo net ``name`` quantized by onnxruntime.quantization (static, MNIST calibration)."""
    net = lenetc.load(name)
    float_path = save_onnx(net, tmp / f"{name}.onnx")
    input_name = onnx.load(str(float_path)).graph.input[0].name
    images, _ = mnist("train")
    x = net.preprocess.apply(images[:calib]).astype(np.float32).reshape(calib, *net.input_shape)
    out = tmp / f"{name}-{fmt}-{act}-{'pc' if per_channel else 'pt'}.onnx"
    quantize_static(str(float_path), str(out), _Digits(input_name, x),
                    quant_format=QuantFormat.QDQ if fmt == "QDQ" else QuantFormat.QOperator,
                    per_channel=per_channel, activation_type=QuantType.QInt8 if act == "s8" else QuantType.QUInt8,
                    weight_type=QuantType.QInt8)  # fmt: skip
    return out


def firmware_check(qnet, digits: int) -> str:
    """The int8 C on the emulated Cortex-M4 against the host C on the first ``digits`` test digits."""
    from lenetc.firmware import write_example
    from lenetc.firmware.run import build_and_run

    images, labels = mnist("test")
    with tempfile.TemporaryDirectory() as d:
        bundle = write_example(qnet, d, digits=(images[:digits], labels[:digits]), target="cortex-m4")
        result = build_and_run(bundle, "cortex-m4")
    if not result.ok:
        return "firmware failed"
    x, _ = mnist_inputs(qnet.net, digits)
    host = lenetc.compile(qnet, dtype="int8").run_int8(qnet.quantize_input(x)).reshape(digits, -1)
    m4 = np.array([[int(v) for v in row] for row in result.outputs], np.int64)
    return "same bits" if np.array_equal(m4, host) else f"DIFFERS on {int((m4 != host).sum())} outputs"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=10_000, help="MNIST test digits (default all 10,000)")
    p.add_argument("--models", nargs="+", default=list(MODELS))
    p.add_argument("--formats", nargs="+", default=["QDQ", "QOperator"])
    p.add_argument("--weights", nargs="+", default=["pc"], help="per-channel (pc) and/or per-tensor (pt) weights")
    p.add_argument(
        "--acts",
        nargs="+",
        default=["ort"],
        help="s8 and/or u8 activations; ort (default): onnxruntime's advice, s8 for QDQ, u8 for QOperator",
    )
    p.add_argument("--calib", type=int, default=200, help="MNIST training digits onnxruntime calibrates on")
    p.add_argument("--firmware", action="store_true", help="also run the C on the emulated Cortex-M4")
    p.add_argument("--firmware-digits", type=int, default=20)
    p.add_argument("--json", help="write the rows as JSON here")
    args = p.parse_args(argv)
    rows = []
    print("| model | format | weights | acts | requant | identical | max LSB | argmax agree | acc lenetc | acc ORT "
          "| Cortex-M4 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            for fmt in args.formats:
                for w in args.weights:
                    acts = [("s8" if fmt == "QDQ" else "u8") if a == "ort" else a for a in args.acts]
                    for act in dict.fromkeys(acts):
                        path = quantized_file(name, fmt, w == "pc", act, args.calib, Path(tmp))
                        try:
                            qfile = lenetc.load(path)
                        except lenetc.LenetcError as exc:
                            print(f"| {name} | {fmt} | {w} | {act} | - | refused: {exc} |||||", flush=True)
                            rows.append({"model": name, "format": fmt, "weights": w, "acts": act, "refused": str(exc)})
                            continue
                        x, labels = mnist_inputs(qfile.net, args.n)
                        for mode in ("int", "float"):
                            qnet = with_requant(qfile, mode)
                            ref, _ = onnxruntime_int8(qnet, x, path)
                            got = lenetc.compile(qnet, dtype="int8").run_int8(qnet.quantize_input(x))
                            got = got.reshape(ref.shape).astype(np.int64)
                            d = np.abs(got - ref)
                            row = {"model": name, "format": fmt, "weights": w, "acts": act, "requant": mode,
                                   "identical": float((d == 0).mean()), "max_lsb": int(d.max()),
                                   "argmax": float((got.argmax(1) == ref.argmax(1)).mean()),
                                   "acc_lenetc": float((got.argmax(1) == labels).mean()),
                                   "acc_ort": float((ref.argmax(1) == labels).mean())}  # fmt: skip
                            row["m4"] = firmware_check(qnet, args.firmware_digits) if args.firmware else "-"
                            rows.append(row)
                            print(f"| {name} | {fmt} | {w} | {act} | {mode} | {100 * row['identical']:.3f} % | "
                                  f"{row['max_lsb']} | {100 * row['argmax']:.2f} % | {100 * row['acc_lenetc']:.2f} % "
                                  f"| {100 * row['acc_ort']:.2f} % | {row['m4']} |", flush=True)  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
