"""Run a ``.tflite`` file in the real interpreters, for ``verify --against tflm|litert``:
TensorFlow Lite Micro (the ``tflite-micro`` package, TFLM's reference kernels as a device runs
them) and LiteRT (``ai-edge-litert``, TensorFlow Lite's desktop runtime). Both are optional
extras (``pip install 'lenetc[tflite]'``); neither needs TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import LenetcError

RUNTIMES = ("tflm", "litert")


def _nhwc(x: np.ndarray) -> np.ndarray:
    """lenetc's (N, C, H, W) or (N, F) batch as TFLite's (N, H, W, C) / (N, F)."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if x.ndim == 4 else np.ascontiguousarray(x)


def run(runtime: str, path: str | Path, x: np.ndarray) -> np.ndarray:
    """Outputs of the file at ``path`` under ``runtime`` for inputs ``x`` (lenetc's layout, already
    in the file's input type: float32, or int8 quantized as the file says), one image at a time."""
    if runtime == "tflm":
        try:
            from tflite_micro.python.tflite_micro import runtime as tflm
        except ImportError:
            raise LenetcError("--against tflm needs the 'tflite-micro' package: pip install 'lenetc[tflite]'") from None
        interp = tflm.Interpreter.from_file(str(path))
        outs = []
        for sample in _nhwc(x):
            interp.set_input(sample[None], 0)
            interp.invoke()
            outs.append(np.array(interp.get_output(0)[0]))
        return np.stack(outs)
    if runtime == "litert":
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise LenetcError(
                "--against litert needs the 'ai-edge-litert' package: pip install 'lenetc[tflite]'"
            ) from None
        interp = Interpreter(model_path=str(path))
        interp.allocate_tensors()
        inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
        outs = []
        for sample in _nhwc(x):
            interp.set_tensor(inp["index"], sample[None])
            interp.invoke()
            outs.append(np.array(interp.get_tensor(out["index"])[0]))
        return np.stack(outs)
    raise LenetcError(f"unknown TFLite runtime '{runtime}' (choose {', '.join(RUNTIMES)})")
