"""A :class:`QuantizedNetwork` from a model file's own quantization (no calibration).

An importer of a quantized file builds the float network (geometry, and the file's weights
dequantized: the float reference), and states what the file says of each layer
(:mod:`lenetc.kinds.given`): per linear layer its integer weights, int32 bias and their
scales; per layer its output quantization. :func:`quantized_from_scales` walks the layers the
int8 C computes (activations merged into the linear layer before them, as calibration does)
and lets each kind's ``from_scales`` rule build its integer layer, so the integer reference and
the C compute with exactly the file's constants.

Example (a 1-layer dense network)::

    net = Network("d", (1, 1, 4), [Dense("fc", units=3)], params)
    qnet = quantized_from_scales(
        net,
        GivenTensor("input", 0.02, 0),
        {"fc": GivenLinear(weight=w_int8, weight_q=GivenTensor("fc.w", w_scales, 0, axis=0),
                           bias=b_int32, bias_q=GivenTensor("fc.b", 0.02 * w_scales, 0, "int32"),
                           out_q=GivenTensor("logits", 0.1, -3))},
    )
"""

from __future__ import annotations

import numpy as np

from ..errors import LenetcError
from ..kinds import kind_of, merge_activations
from ..kinds.given import GivenLinear, GivenOutput, GivenStep, GivenTensor, activation_qparams
from ..kinds.rbf import RBF
from ..kinds.softmax import Softmax
from ..network import Network
from .qnetwork import QuantizedNetwork

#: ``QuantizedNetwork.method`` of a network built from a file's own scales.
FROM_FILE = "file"


def quantized_from_scales(
    net: Network,
    input_q: GivenTensor,
    given: dict[str, GivenLinear | GivenOutput],
    source: str = "the model file's own scales and zero points",
) -> QuantizedNetwork:
    """The int8 network of ``net`` with the file's quantization: ``input_q`` for the network
    input, ``given[layer name]`` for each layer (keyed by the float layer's name; a linear layer
    with a merged activation is keyed by the linear layer's name and its ``out_q`` is the
    quantization after the activation). A final softmax is dropped (applied in Python after
    dequantizing, as for calibrated networks). ``source`` is what ``info`` says the scales came
    from. Anything the file gets wrong is a one-line :class:`LenetcError` naming the tensor or
    the layer."""
    net.validate()
    layers = merge_activations(list(net.layers))
    final_softmax = None
    if layers and isinstance(layers[-1], Softmax):
        final_softmax = "log_softmax" if layers[-1].log else "softmax"
        layers = layers[:-1]
    if not layers:
        raise LenetcError(f"model '{net.name}' has no layer to quantize")
    unknown = sorted(set(given) - {layer.name for layer in layers})
    if unknown:
        raise LenetcError(f"quantization given for layer(s) {unknown} that model '{net.name}' does not compute in int8")
    in_q = first_q = activation_qparams(input_q)
    shape = tuple(net.input_shape)
    qlayers = []
    for i, layer in enumerate(layers):
        kind = kind_of(layer)
        if kind.from_scales is None:
            raise LenetcError(
                f"layer '{layer.name}' ({layer.kind}): lenetc cannot take this kind's int8 form from a model file"
            )
        out_shape = tuple(layer.output_shape(shape))
        step = GivenStep(layer, shape, out_shape, in_q, given.get(layer.name), net.params, i == len(layers) - 1)
        q = kind.from_scales(step)
        qlayers.append(q)
        shape, in_q = out_shape, q.out_q
    out_dtype = "int32" if isinstance(layers[-1], RBF) else "int8"
    qnet = QuantizedNetwork(net, first_q, qlayers, qlayers[-1].out_q, out_dtype, final_softmax, FROM_FILE, 0)
    qnet.notes["calibration"] = source
    return qnet


def uint8_to_int8(values: np.ndarray) -> np.ndarray:
    """uint8 tensor values as the int8 values lenetc computes with (``u - 128``, exact)."""
    return (np.asarray(values, np.int16) - 128).astype(np.int8)
