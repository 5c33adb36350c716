"""``info``, ``generate``, ``verify`` and ``predict``: the core sub-commands."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np

from ..api import compile, generate
from ..confidence import judge
from ..datasets import mnist_inputs, preprocessed
from ..digitsets import is_digit_batch, load_digit_set
from ..errors import LenetcError
from ..exporters.onnx_export import onnxruntime_outputs
from ..firmware.bundle import write_example
from ..firmware.targets import TARGETS
from ..images import load_digit
from ..keras_runtime import keras_outputs
from ..network import Network
from ..quant.reference_int8 import forward_float
from ..reference import forward, predict_classes
from ..tflite_runtime import RUNTIMES
from .int8 import add_int8_args, generate_int8, info_int8, quantize_from_args, verify_int8
from .model_args import TARGET_HELP, add_model_args, model_from_args, note_if_guessed, resolve_dialect
from .tflite import verify_tflite
from .verify_ort_int8 import verify_onnxruntime_int8
from .verify_report import VerifyReport, float_rows

#: Default verify tolerance: float32 C against the float64 reference, relative to the
#: largest output. Float32 rounding over a few thousand terms plus the 3e-7 tanh/exp
#: approximations stays near 1e-6; 1e-5 leaves headroom without hiding a real bug.
VERIFY_TOLERANCE = 1e-5
#: ``verify --against onnxruntime`` on MNIST digits also requires ONNX Runtime to classify at least
#: this fraction of them correctly: the C and ONNX Runtime agreeing on wrongly preprocessed digits
#: proves nothing. Trained LeNets score above 0.98; a wrong scale or offset typically gives 0.1-0.6.
VERIFY_MIN_ACCURACY = 0.9


def _shape(s) -> str:
    return "x".join(str(v) for v in s)


def cmd_info(args: argparse.Namespace) -> int:
    net = model_from_args(args)
    dialect = resolve_dialect(args.target)
    if args.dtype == "int8":
        return info_int8(net, args, dialect)
    rows = net.layer_info()
    totals = net.totals()
    mem = generate(net, target=dialect, ram_bytes=args.ram_bytes).memory
    c_doc = {"dialect": dialect.name, "workspace_align": dialect.align, **mem.to_dict()}
    if args.json:
        doc = {
            "model": net.name,
            "input_shape": list(net.input_shape),
            "output_kind": net.output_kind,
            "preprocess": {
                "scale": net.preprocess.scale,
                "offset": net.preprocess.offset,
                "pad": net.preprocess.pad,
                "source": net.preprocess.source,
                "guessed": net.preprocess.guessed,
            },
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
            "c": c_doc,
            "memory": {"dialect": dialect.name, **mem.to_dict()},
        }
        print(json.dumps(doc, indent=2))
        return 0
    print(f"model {net.name}: input {_shape(net.input_shape)}, output {_shape(net.output_shape)} ({net.output_kind})")
    print(f"MNIST preprocessing: {net.preprocess.describe()}")
    # columns as wide as the longest name (imported layers can have long ones)
    wn = max([10, *(len(r.name) for r in rows)])
    wk = max([12, *(len(r.kind) for r in rows)])
    print(f"{'layer':<{wn}} {'kind':<{wk}} {'output':<10} {'params':>9} {'connections':>12} {'MACs':>10}  description")
    for r in rows:
        print(
            f"{r.name:<{wn}} {r.kind:<{wk}} {_shape(r.output_shape):<10} {r.params:>9,} {r.connections:>12,} "
            f"{r.macs:>10,}  {r.description}"
        )
    print(f"{'total':<{wn}} {'':<{wk}} {'':<10} {totals['params']:>9,} {totals['connections']:>12,} "
          f"{totals['macs']:>10,}")  # fmt: skip
    print(
        f"generated C ({dialect.name}, workspace aligned to {dialect.align}): arena {mem.arena_bytes:,} bytes "
        f"(liveness bound {mem.arena_lower_bound:,}), weights {mem.weight_bytes:,} bytes"
    )
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    net = model_from_args(args)
    note_if_guessed(net)  # the C's <P>_preprocess (and an int8 calibration) use it
    if args.example:
        target = args.target or "host"
        if target not in TARGETS:
            raise LenetcError(
                f"--example builds firmware for a target ({', '.join(TARGETS)}), not the dialect '{target}'; "
                "the example's C uses that target's dialect"
            )
    else:
        dialect = resolve_dialect(args.target or "portable")
    if args.dtype == "int8" and not args.example and not args.json:
        return generate_int8(net, args, dialect)
    model = quantize_from_args(net, args) if args.dtype == "int8" else net
    if args.example:
        gen = write_example(model, args.output, prefix=args.prefix, target=target, ram_bytes=args.ram_bytes).generated
    else:
        gen = generate(model, args.output, prefix=args.prefix, target=dialect, ram_bytes=args.ram_bytes)
    if args.json:
        print(json.dumps(gen.to_dict()))
        return 0
    for path in gen.paths:
        print(f"wrote {path}")
    mem = gen.memory
    print(f"C dialect {gen.plan.dialect.name}: arena {mem.arena_bytes} bytes (bound {mem.arena_lower_bound}), "
          f"weights {mem.weight_bytes} bytes")  # fmt: skip
    if args.example:
        others = ", ".join(t for t in TARGETS if t != target)
        print(f"build and run: make -C {args.output} run   (builds for {target}, the bundle's default TARGET; "
              f"TARGET=... for another: {others})")  # fmt: skip
    return 0


def verification_inputs(net: Network, n: int, seed: int, source: str) -> tuple[np.ndarray, np.ndarray | None, str]:
    """``n`` inputs for ``verify``: MNIST test digits preprocessed for ``net`` with their labels,
    random ones (labels None), or the user's digits at the path ``source`` (their labels if any)."""
    if n < 1:
        raise LenetcError(f"-n must be at least 1, got {n}")
    if seed < 0:
        raise LenetcError(f"--seed must be at least 0, got {seed}")
    if source == "mnist":
        x, labels = mnist_inputs(net, n)
        return x, labels, f"{len(x)} MNIST test digits"
    if source == "random":
        rng = np.random.default_rng(seed)
        x = rng.uniform(-1.0, 1.0, size=(n, *net.input_shape)).astype(np.float32)
        return x, None, f"{n} random inputs (seed {seed})"
    digits = load_digit_set(source).first(n)
    return preprocessed(net, digits.images), digits.labels, digits.describe()


def check_inputs(net: Network, ref: np.ndarray, labels: np.ndarray, min_accuracy: float | None) -> tuple[bool, str]:
    """Whether the reference's accuracy on labelled MNIST digits reaches ``min_accuracy`` (None:
    no requirement), which shows that the inputs are the ones the model expects; returns
    (ok, the report line)."""
    need = "" if min_accuracy is None else f" (needs >= {100 * min_accuracy:g} %)"
    if tuple(ref.shape[1:]) != (10,):
        return min_accuracy is None or min_accuracy <= 0, f"cannot be computed: {ref.shape[1]} outputs, not 10{need}"
    accuracy = float((predict_classes(net, ref) == labels).mean())
    ok = min_accuracy is None or accuracy >= min_accuracy
    return ok, f"{100 * accuracy:.2f} % of the digits classified as labelled{need}"


def compare(ref: np.ndarray, got: np.ndarray, net: Network) -> dict[str, float]:
    """Max absolute error, error relative to the output scale, and argmax agreement."""
    err = np.abs(got.astype(np.float64) - ref)
    scale = max(float(np.abs(ref).max()), 1e-30)
    agree = float((predict_classes(net, ref) == predict_classes(net, got)).mean())
    return {"max_abs": float(err.max()), "max_rel": float(err.max() / scale), "argmax_agreement": agree}


def _tolerance(text: str) -> float:
    """``--tolerance``: a finite number >= 0 (NaN would fail every check, a negative one too)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def cmd_verify(args: argparse.Namespace) -> int:
    net = model_from_args(args)
    x, labels, what = verification_inputs(net, args.n, args.seed, args.inputs)
    if labels is not None:
        note_if_guessed(net)
    if args.against in RUNTIMES:
        return verify_tflite(args, net, x, what)
    if args.dtype == "int8":
        if args.against == "onnxruntime":
            return verify_onnxruntime_int8(args, net, x, what, labels)
        return verify_int8(quantize_from_args(net, args), x, what, args.prefix, args.json)
    compiled = compile(net, prefix=args.prefix)
    if args.against == "onnxruntime":
        ref, label = onnxruntime_outputs(args.model, net, x)
    elif args.against == "keras":
        ref, label = keras_outputs(args.model, net, x), f"Keras on {args.model}"
    else:
        ref, label = forward(net, x), "NumPy reference (float64)"
    got = compiled(x)
    ref = np.asarray(ref).reshape(len(x), -1)  # the C's output is flat; a model's need not be a vector
    stats = compare(ref, got, net)
    ok = stats["max_rel"] <= args.tolerance
    report = VerifyReport(net.name, "float32", label, what)
    float_rows(report, stats["max_abs"], stats["max_rel"], stats["argmax_agreement"], args.tolerance)
    inputs_ok = True
    if labels is not None:
        # The same wrong input on both sides agrees perfectly: ONNX Runtime's accuracy on the digits'
        # labels is what shows that the inputs are the ones the model expects (numpy: shown only).
        gate = args.min_accuracy if args.against in ("onnxruntime", "keras") else None
        inputs_ok, line = check_inputs(net, ref, labels, gate)
        report.add("preprocessing", "preprocessing", net.preprocess.describe())
        acc = float((predict_classes(net, ref) == labels).mean()) if tuple(ref.shape[1:]) == (10,) else None
        report.add("reference_accuracy", "reference accuracy", acc, line)
    report.ok = ok and inputs_ok
    if not ok:
        report.verdict = "FAIL: error above tolerance"
    elif not inputs_ok:
        who = "Keras" if args.against == "keras" else "ONNX Runtime"
        report.verdict = (
            f"FAIL: {who} misclassifies too many digits, so the inputs both sides got are probably not what "
            "the model expects: state its preprocessing with --scale/--offset/--pad (--min-accuracy 0 for an "
            "untrained model; --inputs random compares the arithmetic only)"
        )
    else:
        report.verdict = "PASS"
    return report.emit(args.json)


def predict_images(paths: list[str]) -> tuple[list[str], np.ndarray]:
    """The pictures ``predict`` was given, named, as uint8 (N, 28, 28): each file is one digit,
    except a .npy holding a batch (N, 28, 28), which gives N digits named ``FILE[i]``."""
    names: list[str] = []
    pixels: list[np.ndarray] = []
    for path in paths:
        batch = load_digit_set(path) if is_digit_batch(path) else None
        if batch is None:
            names.append(str(path))
            pixels.append(load_digit(path))
            continue
        names += [f"{path}[{i}]" for i in range(len(batch.images))]
        pixels += list(batch.images)
    return names, np.stack(pixels)


def cmd_predict(args: argparse.Namespace) -> int:
    net = model_from_args(args)
    note_if_guessed(net)
    names, pixels = predict_images(args.images)
    x = net.preprocess.apply(pixels)
    if args.dtype == "int8":
        qnet = quantize_from_args(net, args)
        out = compile(qnet)(x) if args.backend == "c" else forward_float(qnet, x)
    else:
        out = compile(net)(x) if args.backend == "c" else forward(net, x)
    answers = judge(net, pixels, out)
    if args.json:
        print(json.dumps([{"image": name, **a.to_json()} for name, a in zip(names, answers)], indent=2))
    else:
        for name, answer in zip(names, answers):
            print(f"{name}: {answer.describe()}")
    return 0


def _add_dtype(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dtype",
        default=None,
        choices=["float32", "int8"],
        help="arithmetic of the generated C (default float32; int8 for a quantized .tflite or .onnx file)",
    )
    add_int8_args(p)


def register(sub) -> None:
    p = sub.add_parser("info", help="per-layer shapes, parameters, connections and MACs")
    add_model_args(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_dtype(p)
    p.add_argument("--target", default="portable", metavar="T", help=TARGET_HELP + "; the arena's alignment follows it")
    p.add_argument(
        "--ram-bytes",
        type=int,
        metavar="N",
        help="report the plan for N bytes of RAM (arena + a reserved stack of <prefix>_run), as generate --ram-bytes",
    )
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("generate", help="write <prefix>.h and <prefix>.c for a model")
    add_model_args(p)
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory (created if needed)")
    p.add_argument("--prefix", help="C symbol prefix (default: the model name)")
    _add_dtype(p)
    # issue 14: the RAM budget (planning: lenetc/codegen/budget.py)
    p.add_argument(
        "--ram-bytes",
        type=int,
        metavar="N",
        help="plan for N bytes of RAM (arena + a reserved stack of <prefix>_run): the fastest stage modes "
        "that fit, refused naming the smallest feasible N when none does (lenetc size --ram-bytes measures the stack)",
    )
    p.add_argument("--json", action="store_true", help="print what was written as JSON: files, sizes, symbols, memory")
    p.add_argument(
        "--example",
        action="store_true",
        help="also write a firmware example: main.c with embedded MNIST digits and their expected outputs, "
        "Makefile, CMakeLists.txt, Cortex-M startup file and linker scripts",
    )
    p.add_argument(
        "--target",
        metavar="T",
        help=TARGET_HELP + " (default portable). With --example, a firmware target: the bundle's default TARGET "
        "and its dialect (default host)",
    )
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("verify", help="compile the C and compare it with the NumPy reference")
    add_model_args(p)
    p.add_argument("-n", type=int, default=256, help="number of inputs (default 256)")
    p.add_argument("--seed", type=int, default=0, help="seed for random inputs")
    p.add_argument(
        "--inputs",
        default="mnist",
        metavar="mnist|random|PATH",
        help="MNIST test digits, random inputs, or your own digits: a folder of pictures, FILE.npy or FILE.npz "
        "(labels from FILE.npz, labels.csv or 0..9 folders; see README)",
    )
    p.add_argument("--prefix", help="C symbol prefix")
    p.add_argument("--json", action="store_true", help="print the comparison as one JSON object")
    p.add_argument("--tolerance", type=_tolerance, default=VERIFY_TOLERANCE, help="max error relative to output scale")
    p.add_argument(
        "--against",
        choices=["numpy", "onnxruntime", "keras", *RUNTIMES],
        default="numpy",
        help="reference: the NumPy float64 forward pass, ONNX Runtime on the .onnx file (or the model's export), "
        "Keras on a .keras/.h5 file itself, or for a .tflite file TensorFlow Lite Micro (tflm) or LiteRT (litert) "
        "on the file itself",
    )
    p.add_argument(
        "--min-accuracy",
        type=float,
        default=VERIFY_MIN_ACCURACY,
        metavar="A",
        help="--against onnxruntime on MNIST digits: fail unless ONNX Runtime classifies at least this fraction "
        f"correctly, i.e. unless the inputs are right (default {VERIFY_MIN_ACCURACY:g})",
    )
    _add_dtype(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("predict", help="classify digit images (PNG, PGM or .npy)")
    add_model_args(p)
    p.add_argument(
        "images", nargs="+", metavar="IMAGE", help="a picture, or a .npy of one (28, 28) or many (N, 28, 28)"
    )
    p.add_argument(
        "--backend",
        choices=["c", "reference"],
        default="c",
        help="the compiled C or the NumPy reference (int8: the integer reference)",
    )
    p.add_argument("--json", action="store_true", help="print JSON: digit (null if rejected), reason, probabilities")
    _add_dtype(p)
    p.set_defaults(func=cmd_predict)
