"""What the command line calls for ``--dtype int8``: calibrate on real MNIST training digits."""

from __future__ import annotations

from ..errors import LenetcError
from ..network import Network
from .calibrate import DEFAULT_METHOD, DEFAULT_PERCENTILE, quantize
from .qnetwork import QuantizedNetwork

#: Calibration digits used by default: enough for stable 99.99th percentiles, a few seconds.
DEFAULT_CALIBRATION = 1000


def calibration_digits(n: int = DEFAULT_CALIBRATION, directory=None):
    """The first ``n`` MNIST *training* digits (uint8 (n, 28, 28)); test digits stay unseen."""
    try:
        from ..datasets import mnist
    except ImportError:  # pragma: no cover - until lenetc.datasets lands
        raise LenetcError("int8 calibration needs MNIST (lenetc.datasets is not available)") from None
    if n < 1:
        raise LenetcError(f"number of calibration digits must be at least 1, got {n}")
    images, _ = mnist("train", directory)
    return images[:n]


def quantize_for_cli(
    net: Network,
    n_calib: int = DEFAULT_CALIBRATION,
    method: str = DEFAULT_METHOD,
    percentile: float = DEFAULT_PERCENTILE,
    directory=None,
) -> QuantizedNetwork:
    """Quantize ``net`` calibrated on the first ``n_calib`` MNIST training digits."""
    return quantize(net, calibration_digits(n_calib, directory), method, percentile)
