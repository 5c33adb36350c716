"""Loading a ``.tflite`` file: the float network from :mod:`.tflite_import`, and for an int8 file
the quantized network with the file's own scales from :mod:`.tflite_quantized` (this module sits
above both, so neither imports the other back)."""

from __future__ import annotations

from pathlib import Path

from .tflite_import import import_tflite, stated_preprocess
from .tflite_quantized import quantized_from_facts


def load_tflite(path: str | Path):
    """A ``.tflite`` file as a :class:`Network` (float32 files) or a
    :class:`~lenetc.quant.qnetwork.QuantizedNetwork` with the file's own scales (int8 files)."""
    imp = import_tflite(path)
    net = imp.builder.network(stated_preprocess(imp.description))
    if not imp.int8:
        return net
    return quantized_from_facts(net, imp)
