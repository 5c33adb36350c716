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


#: Most bytes ONNX constant folding may produce over a whole import (each folded value is also
#: held to MAX_TENSOR_ELEMENTS, checked by shape inference before it is computed).
MAX_FOLDED_BYTES = 256 * 2**20

#: Most pixels of one picture (predict, --inputs, --calib-data): 16,777,216, e.g. 4096 x 4096
#: or a 12-megapixel photo; checked from the file's header before any pixel is decoded. Pillow
#: only warns at 89,478,485 and refuses at twice that.
MAX_IMAGE_PIXELS = 2**24


def check_image_pixels(height: int, width: int, where: str) -> None:
    """Refuse a picture of more than :data:`MAX_IMAGE_PIXELS` pixels."""
    if height * width > MAX_IMAGE_PIXELS:
        raise LenetcError(
            f"{where}: {width}x{height} is {height * width:,} pixels, more than lenetc reads "
            f"({MAX_IMAGE_PIXELS:,}); scale the picture down"
        )
