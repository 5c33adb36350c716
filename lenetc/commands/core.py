"""``info``, ``generate``, ``verify`` and ``predict``: the core sub-commands."""

from __future__ import annotations

import argparse
import json

import numpy as np

from ..firmware.targets import TARGETS
from ..models import load
from ..network import Network

#: Default verify tolerance: float32 C against the float64 reference, relative to the
#: largest output. Float32 rounding over a few thousand terms plus the 3e-7 tanh/exp
#: approximations stays near 1e-6; 1e-5 leaves headroom without hiding a real bug.
VERIFY_TOLERANCE = 1e-5


def add_model_args(p: argparse.ArgumentParser) -> None:
    """The MODEL positional and ``--weights``, shared by every command that loads a model."""
    p.add_argument("model", metavar="MODEL", help="zoo name (lenet5, lenet-caffe, ...) or model file (.npz)")
    p.add_argument("--weights", metavar="F", help="weights .npz for a zoo model, or random:SEED")


def model_from_args(args: argparse.Namespace) -> Network:
    return load(args.model, args.weights)


def _shape(s) -> str:
    return "x".join(str(v) for v in s)


def cmd_info(args: argparse.Namespace) -> int:
    net = model_from_args(args)
    if getattr(args, "dtype", "float32") == "int8":
        from ..quant.cli import info_int8

        return info_int8(net, args)
    rows = net.layer_info()
    totals = net.totals()
    if args.json:
        doc = {
            "model": net.name,
            "input_shape": list(net.input_shape),
            "output_kind": net.output_kind,
            "weights_sha256": net.weights_hash(),
            "layers": [
                {
                    "name": r.name,
                    "kind": r.kind,
                    "description": r.description,
                    "output_shape": list(r.output_shape),
                    "params": r.params,
                    "connections": r.connections,
                    "macs": r.macs,
                    "activation_bytes": r.activation_bytes,
                }
                for r in rows
            ],
            "totals": totals,
        }
        print(json.dumps(doc, indent=2))
        return 0
    print(f"model {net.name}: input {_shape(net.input_shape)}, output {_shape(net.output_shape)} ({net.output_kind})")
    print(f"{'layer':<10} {'kind':<12} {'output':<10} {'params':>9} {'connections':>12} {'MACs':>10}  description")
    for r in rows:
        print(
            f"{r.name:<10} {r.kind:<12} {_shape(r.output_shape):<10} {r.params:>9,} {r.connections:>12,} "
            f"{r.macs:>10,}  {r.description}"
        )
    print(f"{'total':<10} {'':<12} {'':<10} {totals['params']:>9,} {totals['connections']:>12,} {totals['macs']:>10,}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from ..codegen import generate
    from ..codegen.plan import make_plan

    net = model_from_args(args)
    if args.example:
        from ..firmware.bundle import plan_for, write_example

        quantized = None
        if args.dtype == "int8":
            from ..quant.cli import quantize_from_args

            quantized = quantize_from_args(net, args)
        paths = write_example(
            net, args.output, prefix=args.prefix, dtype=args.dtype, target=args.target, quantized=quantized
        )
        plan = plan_for(net, args.prefix, args.dtype, quantized)
    elif args.dtype == "int8":
        from ..quant.cli import generate_int8

        return generate_int8(net, args)
    else:
        paths = generate(net, args.output, prefix=args.prefix, dtype=args.dtype)
        plan = make_plan(net, args.prefix, args.dtype)
    for path in paths:
        print(f"wrote {path}")
    print(f"arena {plan.arena_bytes} bytes (bound {plan.arena_lower_bound}), weights {plan.weight_bytes()} bytes")
    if args.example:
        print(f"build and run: make -C {args.output} run   (TARGET=cortex-m4 etc. for the emulated boards)")
    return 0


def verification_inputs(net: Network, n: int, seed: int, source: str) -> tuple[np.ndarray, str]:
    """``n`` inputs for ``verify``: MNIST test digits preprocessed for ``net``, or random ones."""
    if source == "mnist":
        from ..datasets import mnist_inputs

        x, _ = mnist_inputs(net, n)
        return x, f"{len(x)} MNIST test digits"
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, size=(n, *net.input_shape)).astype(np.float32), f"{n} random inputs (seed {seed})"


def compare(ref: np.ndarray, got: np.ndarray, net: Network) -> dict[str, float]:
    """Max absolute error, error relative to the output scale, and argmax agreement."""
    from ..reference import predict_classes

    err = np.abs(got.astype(np.float64) - ref)
    scale = max(float(np.abs(ref).max()), 1e-30)
    agree = float((predict_classes(net, ref) == predict_classes(net, got)).mean())
    return {"max_abs": float(err.max()), "max_rel": float(err.max() / scale), "argmax_agreement": agree}


def cmd_verify(args: argparse.Namespace) -> int:
    from ..build import compile as build

    net = model_from_args(args)
    x, what = verification_inputs(net, args.n, args.seed, args.inputs)
    if args.dtype == "int8":
        from ..quant.cli import quantize_from_args, verify_int8

        return verify_int8(net, quantize_from_args(net, args), x, what, args.prefix)
    compiled = build(net, prefix=args.prefix)
    if args.against == "onnxruntime":
        from ..exporters.onnx_export import onnxruntime_outputs

        ref, label = onnxruntime_outputs(args.model, net, x)
    else:
        ref, label = net.forward(x), "NumPy reference (float64)"
    got = compiled(x)
    stats = compare(ref, got, net)
    ok = stats["max_rel"] <= args.tolerance
    print(f"{net.name}: C (float32) vs {label} on {what}")
    print(f"  max abs error        {stats['max_abs']:.3e}")
    print(f"  max rel error        {stats['max_rel']:.3e}  (relative to max |output|; tolerance {args.tolerance:g})")
    print(f"  argmax agreement     {100 * stats['argmax_agreement']:.2f} %")
    print("  PASS" if ok else "  FAIL: error above tolerance")
    return 0 if ok else 1


def cmd_predict(args: argparse.Namespace) -> int:
    from ..build import compile as build
    from ..confidence import judge
    from ..images import load_digit

    net = model_from_args(args)
    pixels = np.stack([load_digit(path) for path in args.images])
    x = net.preprocess.apply(pixels)
    out = build(net).__call__(x) if args.backend == "c" else net.forward(x)
    answers = judge(net, pixels, out)
    if args.json:
        print(json.dumps([{"image": str(path), **a.to_json()} for path, a in zip(args.images, answers)], indent=2))
    else:
        for path, answer in zip(args.images, answers):
            print(f"{path}: {answer.describe()}")
    return 0


def _add_dtype(p: argparse.ArgumentParser) -> None:
    from ..quant.cli import add_int8_args

    p.add_argument("--dtype", default="float32", choices=["float32", "int8"], help="arithmetic of the generated C")
    add_int8_args(p)


def register(sub) -> None:
    p = sub.add_parser("info", help="per-layer shapes, parameters, connections and MACs")
    add_model_args(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_dtype(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("generate", help="write <prefix>.h and <prefix>.c for a model")
    add_model_args(p)
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory (created if needed)")
    p.add_argument("--prefix", help="C symbol prefix (default: the model name)")
    _add_dtype(p)
    p.add_argument(
        "--example",
        action="store_true",
        help="also write a firmware example: main.c with embedded MNIST digits and their expected outputs, "
        "Makefile, CMakeLists.txt, Cortex-M startup file and linker scripts",
    )
    p.add_argument("--target", default="host", choices=list(TARGETS), help="the example Makefile's default TARGET")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("verify", help="compile the C and compare it with the NumPy reference")
    add_model_args(p)
    p.add_argument("-n", type=int, default=256, help="number of inputs (default 256)")
    p.add_argument("--seed", type=int, default=0, help="seed for random inputs")
    p.add_argument("--inputs", choices=["mnist", "random"], default="mnist", help="MNIST test digits or random")
    p.add_argument("--prefix", help="C symbol prefix")
    p.add_argument("--tolerance", type=float, default=VERIFY_TOLERANCE, help="max error relative to output scale")
    p.add_argument(
        "--against",
        choices=["numpy", "onnxruntime"],
        default="numpy",
        help="reference: the NumPy float64 forward pass, or ONNX Runtime on the .onnx file (or the model's export)",
    )
    _add_dtype(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("predict", help="classify digit images (PNG, PGM or .npy)")
    add_model_args(p)
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--backend", choices=["c", "reference"], default="c")
    p.add_argument("--json", action="store_true", help="print JSON: digit (null if rejected), reason, probabilities")
    p.set_defaults(func=cmd_predict)
