"""The int8 C loaded in Python: float in (quantized here) or raw int8 in; float or raw out."""

from __future__ import annotations

import numpy as np

from ..build import CompiledNetwork
from ..errors import LenetcError
from ..reference import as_batch


class CompiledInt8Network(CompiledNetwork):
    """``net(x)`` quantizes float input with the input scale/zero point, runs the int8 C and
    returns dequantized float outputs (softmax re-applied when the float model ends in one).
    ``net.run_int8(q)`` takes int8 input and returns the raw C output (int8 logits or int32
    RBF distances). ``net(x, raw=True)`` returns (float output, raw output)."""

    def __init__(self, net, plan, module, build_dir):
        super().__init__(net, plan, module, build_dir)
        self.qnet = plan.qnet
        self.out_dtype = np.int32 if plan.out_ctype == "int32_t" else np.int8

    def run_int8(self, xq: np.ndarray) -> np.ndarray:
        batch, single = as_batch(xq, self.input_shape)
        if batch.dtype != np.int8:
            raise LenetcError(f"run_int8 needs int8 input, got {batch.dtype}")
        inp = np.ascontiguousarray(batch)
        n = inp.shape[0]
        out = np.empty((n, self.output_size), dtype=self.out_dtype)
        workspace = np.empty(max(self.arena_bytes, 1) // 4 + 1, dtype=np.int32)
        status = self._run_batch(
            self.ffi.from_buffer("int8_t[]", inp),
            self.ffi.from_buffer("int32_t[]" if self.out_dtype == np.int32 else "int8_t[]", out),
            n,
            self.ffi.from_buffer("int32_t[]", workspace),
        )
        if status != 0:
            raise LenetcError(f"generated C returned status {status}")
        return out[0] if single else out

    def __call__(self, x: np.ndarray, raw: bool = False):
        x = np.asarray(x)
        raw_out = self.run_int8(x if x.dtype == np.int8 else self.qnet.quantize_input(x))
        y = self.qnet.dequantize_output(raw_out).astype(np.float32)
        return (y, raw_out) if raw else y
