"""Every size bound lenetc enforces, in one place, so that a small file never costs gigabytes
and nothing the generated C computes overflows its types.

The generated C indexes with ``int``/``int32_t`` (32 bits on every target lenetc supports),
returns the arena size from ``uint32_t <P>_workspace_size()`` and counts images with
``int32_t``; so every tensor, constant array, loop bound and the arena must stay at most
:data:`C_INT_MAX`. Models are further held to :data:`MAX_TENSOR_ELEMENTS` per tensor when they
are validated, which bounds the float64 reference's memory per image as well.
"""

from __future__ import annotations

import math

from .errors import LenetcError

#: Largest value of the C ``int``/``int32_t`` the generated code indexes and counts with.
C_INT_MAX = 2**31 - 1

#: Most elements in one tensor of a model (its input, any layer's output): 16,777,216, e.g.
#: 16 maps of 1024x1024, 64 MiB in float32 and 128 MiB in the float64 reference per image.
#: LeNet-family models use under 10^5.
MAX_TENSOR_ELEMENTS = 2**24


def check_tensor(shape: tuple[int, ...], what: str) -> None:
    """Refuse a tensor of more than :data:`MAX_TENSOR_ELEMENTS` elements."""
    n = math.prod(int(v) for v in shape)
    if n > MAX_TENSOR_ELEMENTS:
        dims = "x".join(str(v) for v in shape)
        raise LenetcError(
            f"{what} has {n:,} elements ({dims}); lenetc handles at most {MAX_TENSOR_ELEMENTS:,} per tensor"
        )


def check_c_size(value: int, what: str, ctype: str = "int") -> None:
    """Refuse a size the generated C would hold in ``ctype`` when it does not fit (> C_INT_MAX)."""
    if value > C_INT_MAX:
        raise LenetcError(
            f"{what} is {value:,}, more than the generated C's {ctype} holds ({C_INT_MAX:,}); "
            "the model is too large to compile"
        )
