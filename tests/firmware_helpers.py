"""Shared by the tests/test_firmware_*.py files: which toolchains exist, and the host reference."""

from __future__ import annotations

import os
import shutil
from functools import cache

import numpy as np
import pytest

import lenetc
from lenetc.firmware.targets import get_target

#: The host reference build: the generated C, compiled natively with the example's flags
#: (no FMA contraction), so its float32 outputs are the bits every target must print.
REFERENCE_FLAGS = ["-std=c99", "-O2", "-ffp-contract=off", "-fPIC"]


def need_target(name: str) -> None:
    """Skip when a toolchain is missing; fail instead under CI (CI=true, set by the CI runner)
    or with LENETC_REQUIRE_FIRMWARE=1, so CI can never pass with the firmware tests skipped."""
    target = get_target(name)
    missing = target.missing_tools()
    if missing:
        message = (
            f"target {name} needs {', '.join(missing)}: "
            f"apt-get install --no-install-recommends {' '.join(target.packages)}"
        )
        if os.environ.get("LENETC_REQUIRE_FIRMWARE") == "1" or os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def need_program(*names: str, package: str) -> str:
    """The first of ``names`` on PATH; else skip, or fail under CI as :func:`need_target` does."""
    found = next((p for p in map(shutil.which, names) if p), None)
    if found is None:
        message = f"{names[0]} is missing: apt-get install --no-install-recommends {package}"
        if os.environ.get("LENETC_REQUIRE_FIRMWARE") == "1" or os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


@cache
def load(model: str, weights: str | None = None):
    return lenetc.load(model, weights)


def host_outputs(net, inputs: np.ndarray) -> np.ndarray:
    """float32 outputs of the host reference build."""
    return lenetc.compile(net, flags=REFERENCE_FLAGS)(inputs)


def hex_words(outputs: np.ndarray) -> list[list[str]]:
    """Float32 outputs as the example prints them: 8 hex digits of the bit pattern each."""
    bits = np.ascontiguousarray(outputs, dtype=np.float32).view(np.uint32)
    return [[f"{int(b):08x}" for b in row] for row in bits]
