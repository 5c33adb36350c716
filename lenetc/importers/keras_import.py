"""Keras Sequential models -> lenetc :class:`~lenetc.network.Network`, without TensorFlow.

Keras 2 ``.h5`` and Keras 3 ``.keras`` files are read with h5py (``pip install lenetc[keras]``);
where each layer's weights live in either layout is :mod:`lenetc.importers.keras_files`' job.

Keras computes channels last: Conv2D kernels are (kh, kw, in, out) and become lenetc's
(out, in, kh, kw); Dense kernels are (in, out); a Flatten of a channels-last tensor becomes
lenetc's ``Flatten(order="HWC")``, so the first dense layer keeps its rows as stored.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LenetcError
from ..layers import Act, Conv2D, Dense, Pool2D, Softmax
from ..names import safe_name, shown
from ..network import Network, Preprocess
from .builder import ChainBuilder, batchnorm_scale
from .keras_files import KerasWeights, read_keras, storage_paths
from .onnx_fold import one_line

SPATIAL = ("Conv2D", "DepthwiseConv2D", "ZeroPadding2D", "MaxPooling2D", "AveragePooling2D", "MaxPool2D", "AvgPool2D",
           "GlobalAveragePooling2D")  # fmt: skip
SKIPPED = ("InputLayer", "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout")


def _act_name(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):  # Keras 3 may serialise {"class_name": "function", "config": "relu"}
        inner = value.get("config")
        value = inner if isinstance(inner, str) else value.get("class_name")
    return None if value in (None, "linear") else str(value)


def _data_format(cfg: dict[str, Any]) -> str:
    """A layer's ``data_format`` (Keras' default, channels_last, when the config has none)."""
    fmt = cfg.get("data_format") or "channels_last"
    if fmt not in ("channels_last", "channels_first"):
        raise LenetcError(f"data_format {fmt!r} is not channels_last or channels_first")
    return fmt


def _inbound(layer: dict[str, Any]) -> list[str]:
    """The names of the layers whose outputs ``layer`` takes (Keras 3 and Keras 2 configs)."""
    names: list[str] = []
    nodes = layer.get("inbound_nodes") or []
    if len(nodes) > 1:
        raise LenetcError(f"Keras layer {shown(layer.get('name'))} is called {len(nodes)} times (shared layer)")

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            history = value.get("config", {}).get("keras_history") if isinstance(value.get("config"), dict) else None
            if value.get("class_name") == "__keras_tensor__" and history:
                names.append(str(history[0]))
                return
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            if len(value) >= 3 and isinstance(value[0], str) and isinstance(value[1], int):  # Keras 2: [name, 0, 0, {}]
                names.append(value[0])
                return
            for v in value:
                walk(v)

    walk(nodes)
    return names


def functional_chain(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The layers of a functional model in order, checked to be one plain chain: one input, each
    layer fed by exactly the one before it, nothing branching or merging."""
    by_name = {str(ly.get("name", ly.get("config", {}).get("name"))): ly for ly in layers}
    feeds: dict[str, list[str]] = {}
    for name, layer in by_name.items():
        sources = _inbound(layer)
        if len(sources) > 1:
            raise LenetcError(
                f"Keras layer {shown(name)} merges {len(sources)} inputs: only a plain chain is supported"
            )
        for src in sources:
            feeds.setdefault(src, []).append(name)
    starts = [name for name, layer in by_name.items() if not _inbound(layer)]
    if len(starts) != 1:
        raise LenetcError(f"Keras model has {len(starts)} inputs: only a plain chain with one input is supported")
    chain = [starts[0]]
    while chain[-1] in feeds:
        nxt = feeds[chain[-1]]
        if len(nxt) > 1:
            raise LenetcError(
                f"Keras layer {shown(chain[-1])} feeds {len(nxt)} layers: only a plain chain is supported"
            )
        chain.append(nxt[0])
    if len(chain) != len(by_name):
        raise LenetcError("Keras model: some layers are not on the chain from its input to its output")
    return [by_name[name] for name in chain]


class KerasImporter:
    def __init__(self, config: dict[str, Any], weights: KerasWeights, name: str):
        kind = config.get("class_name")
        if kind not in ("Sequential", "Functional", "Model"):
            raise LenetcError(f"Keras model class '{kind}' is not supported (Sequential, or a functional chain)")
        cfg = config.get("config", {})
        self.layers = cfg["layers"] if isinstance(cfg, dict) else cfg
        if not isinstance(self.layers, list) or not all(
            isinstance(ly, dict) and isinstance(ly.get("config", {}), dict) for ly in self.layers
        ):
            raise LenetcError("Keras model config: 'layers' must be a list of layer objects")
        if kind != "Sequential":
            self.layers = functional_chain(self.layers)
        self.weights = weights
        self.channels_last = True
        shape = self._input_shape(config)
        self.b = ChainBuilder(name, shape)
        #: the MNIST preprocessing a leading Rescaling layer states (None: lenetc guesses)
        self.preprocess: Preprocess | None = None
        #: a ZeroPadding2D's (top, left, bottom, right), waiting for the convolution it pads
        self.pending_pad: tuple[int, int, int, int] | None = None

    def _input_shape(self, config) -> tuple[int, int, int]:
        candidates = []
        for layer in self.layers[:2]:
            c = layer.get("config", {})
            candidates += [c.get("batch_shape"), c.get("batch_input_shape")]
        cfg = config.get("config", {})
        candidates += [cfg.get("build_input_shape") if isinstance(cfg, dict) else None]
        candidates += [config.get("build_config", {}).get("input_shape")]
        shape = next((s for s in candidates if s), None)
        if shape is None:
            raise LenetcError("Keras model has no input shape (build the model or give an InputLayer)")
        dims = [int(v) for v in shape[1:]]
        # The stored layout is the first spatial layer's data_format (each later one must agree).
        first = next((ly.get("config", {}) for ly in self.layers if ly.get("class_name") in SPATIAL), {})
        self.channels_last = _data_format(first) == "channels_last"
        if len(dims) == 1:
            return (dims[0], 1, 1)
        if len(dims) == 2:  # (H, W) grayscale
            return (1, dims[0], dims[1])
        if len(dims) != 3:
            raise LenetcError(f"Keras input shape {shape} is not an image or a vector")
        return (dims[2], dims[0], dims[1]) if self.channels_last else tuple(dims)  # type: ignore[return-value]

    def run(self) -> Network:
        for layer, storage in zip(self.layers, storage_paths(self.layers), strict=True):
            kind, cfg = layer.get("class_name"), layer.get("config", {})
            name = str(cfg.get("name", kind))
            if kind in SKIPPED:
                continue
            handler = getattr(self, f"k_{kind}", None)
            try:
                if handler is None:
                    raise LenetcError("layer type not supported")
                if self.pending_pad is not None and kind not in ("Conv2D", "DepthwiseConv2D", "ZeroPadding2D"):
                    raise LenetcError("follows a ZeroPadding2D: only a convolution can take its padding")
                handler(name, cfg, self.weights.get(name, storage))
            except LenetcError as exc:
                raise LenetcError(f"Keras layer {shown(name)} ({kind}): {exc}") from None
            except (KeyError, ValueError, IndexError, TypeError, AttributeError, ArithmeticError) as exc:
                msg = f"{type(exc).__name__}: {exc}"
                raise LenetcError(f"Keras layer {shown(name)} ({kind}) is malformed ({msg})") from None
        if self.pending_pad is not None:
            raise LenetcError("the model ends in a ZeroPadding2D")
        return self.b.network(self.preprocess)

    # ---- helpers -------------------------------------------------------------------------------
    def _act(self, name: str, act: str | None, cfg: dict[str, Any] | None = None) -> None:
        if act is None:
            return
        simple = {
            "relu": Act("relu"),
            "tanh": Act("tanh"),
            "sigmoid": Act("sigmoid"),
            "relu6": Act("clip", lo=0.0, hi=6.0),
            "elu": Act("elu", alpha=1.0),  # keras.activations.elu's default alpha
            "silu": Act("silu"),
            "swish": Act("silu"),
            "hard_sigmoid": Act("hard_sigmoid"),
        }
        if act in simple:
            self.b.add_act(simple[act], f"{name}_{act}")
        elif act == "leaky_relu":
            self.b.add_act(Act("leaky_relu", alpha=0.2), f"{name}_{act}")  # keras.activations default slope
        elif act in ("softmax", "log_softmax"):
            self.b.flatten(f"{name}_flat", "HWC" if self.channels_last else "CHW")
            self.b.add(Softmax(self.b.unique(f"{name}_{act}"), log=act == "log_softmax"))
        else:
            raise LenetcError(f"activation '{act}' not supported")

    def _padding(self, mode: str, size: tuple[int, int], kernel, strides) -> tuple[int, int, int, int]:
        if len(kernel) != 2 or len(strides) != 2 or min(*kernel, *strides) < 1:
            raise LenetcError(f"window {list(kernel)} and strides {list(strides)} must be two positive integers")
        if mode == "valid":
            return (0, 0, 0, 0)
        if mode != "same":
            raise LenetcError(f"padding '{mode}' not supported")
        total = [max((-(-n // s) - 1) * s + k - n, 0) for n, s, k in zip(size, strides, kernel, strict=True)]
        return (total[0] // 2, total[1] // 2, total[0] - total[0] // 2, total[1] - total[1] // 2)

    def _image(self, cfg: dict[str, Any] | None = None) -> tuple[int, int, int]:
        """The current image shape (C, H, W); with a spatial layer's ``cfg``, also checks that
        its ``data_format`` is the layout the tensor is stored in (Keras would otherwise treat a
        C,H,W tensor as H,W,C: another computation, refused rather than guessed)."""
        if len(self.b.shape) != 3:
            raise LenetcError(f"needs an image input, got shape {self.b.shape}")
        if cfg is not None:
            fmt = _data_format(cfg)
            if fmt != self._layout():
                raise LenetcError(
                    f"data_format '{fmt}' on a tensor stored {self._layout()} (mixed layouts are not supported)"
                )
        return self.b.shape  # type: ignore[return-value]

    def _layout(self) -> str:
        return "channels_last" if self.channels_last else "channels_first"

    # ---- layers ----------------------------------------------------------------------------------
    def _conv(self, name, cfg, weight: np.ndarray, bias_w: list, groups: int) -> None:
        """A Conv2D of ``weight`` (out, in/groups, kh, kw), taking any pending ZeroPadding2D."""
        _, h, wd = self._image(cfg)
        if any(int(d) != 1 for d in cfg.get("dilation_rate", (1, 1))):
            raise LenetcError(f"dilation_rate {cfg.get('dilation_rate')} not supported")
        kernel, strides = tuple(cfg["kernel_size"]), tuple(cfg.get("strides", (1, 1)))
        bias = bias_w[0] if cfg.get("use_bias", True) and bias_w else np.zeros(weight.shape[0], np.float32)
        zt, zl, zb, zr = self.pending_pad or (0, 0, 0, 0)
        self.pending_pad = None
        pt, pl, pb, pr = self._padding(cfg.get("padding", "valid"), (h + zt + zb, wd + zl + zr), kernel, strides)
        conv = Conv2D(self.b.unique(name), out_channels=int(weight.shape[0]), kernel=kernel, stride=strides,
                      padding=(pt + zt, pl + zl, pb + zb, pr + zr), groups=groups)  # fmt: skip
        self.b.add(conv, {"weight": weight, "bias": bias})
        self._act(name, _act_name(cfg.get("activation")))

    def k_Conv2D(self, name, cfg, w):
        if not w:
            raise LenetcError("no weights in the file")
        weight = np.transpose(w[0], (3, 2, 0, 1))  # (kh, kw, in, out) -> (out, in, kh, kw)
        self._conv(name, cfg, weight, list(w[1:]), int(cfg.get("groups", 1)))

    def k_DepthwiseConv2D(self, name, cfg, w):
        c, _, _ = self._image()
        if not w:
            raise LenetcError("no weights in the file")
        kh, kw, cin, mult = w[0].shape
        if cin != c:
            raise LenetcError(f"depthwise kernel for {cin} channels on a {c}-channel input")
        # (kh, kw, in, mult) -> (in * mult, 1, kh, kw): output channel i * mult + m reads input i
        weight = np.transpose(w[0], (2, 3, 0, 1)).reshape(cin * mult, 1, kh, kw)
        self._conv(name, cfg, weight, list(w[1:]), cin)

    def k_ZeroPadding2D(self, name, cfg, w):
        self._image(cfg)
        pad = cfg.get("padding", 1)
        if isinstance(pad, int):
            (t, b), (l, r) = (pad, pad), (pad, pad)
        elif len(pad) == 2 and all(isinstance(v, int) for v in pad):
            (t, b), (l, r) = (pad[0], pad[0]), (pad[1], pad[1])
        else:
            (t, b), (l, r) = (int(v) for v in pad[0]), (int(v) for v in pad[1])
        if min(t, b, l, r) < 0:
            raise LenetcError(f"negative padding {pad}")
        zt, zl, zb, zr = self.pending_pad or (0, 0, 0, 0)
        self.pending_pad = (zt + t, zl + l, zb + b, zr + r)

    def k_Rescaling(self, name, cfg, w):
        scale, offset = cfg.get("scale", 1.0), cfg.get("offset", 0.0)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (scale, offset)):
            raise LenetcError("per-channel scale or offset not supported (one number each)")
        if not self.b.layers and self.preprocess is None and len(self.b.shape) == 3:
            # the model's own statement of its preprocessing: it reads raw pixels 0..255
            c, h, wd = self.b.shape
            pad = (h - 28) // 2 if c == 1 and h == wd and h >= 28 and (h - 28) % 2 == 0 else 0
            self.preprocess = Preprocess(float(scale), float(offset), pad, f"the model's Rescaling layer {shown(name)}")
            return
        self.b.add_affine(np.float64(scale), np.float64(offset), name)

    def k_Reshape(self, name, cfg, w):
        target = tuple(int(v) for v in cfg["target_shape"])
        if math.prod(target) != math.prod(self.b.shape):
            raise LenetcError(f"target shape {list(target)} does not hold {math.prod(self.b.shape)} values")
        if len(target) == 1:
            self.b.flatten(name, "HWC" if self.channels_last else "CHW")
            return
        if len(target) == 3 and not self.b.layers and self.b.shape[1:] == (1, 1):
            # a flat input reshaped to an image: with one channel its values are already in C,H,W order
            h, wd, c = target if self.channels_last else (target[1], target[2], target[0])
            if c != 1:
                raise LenetcError(f"a flat input reshaped to {c} channels (values would need reordering)")
            self.b.input_shape = self.b.shape = (1, h, wd)
            return
        raise LenetcError(f"reshape of {self.b.shape} to {list(target)} not supported (only flat input to image)")

    def _pool(self, name, cfg, mode):
        _, h, wd = self._image(cfg)
        kernel = tuple(cfg.get("pool_size", (2, 2)))
        strides = tuple(cfg.get("strides") or kernel)
        pad = self._padding(cfg.get("padding", "valid"), (h, wd), kernel, strides)
        # Keras/TensorFlow 'same' average pooling divides by the inputs inside the window only.
        self.b.add(Pool2D(self.b.unique(name), mode=mode, kernel=kernel, stride=strides, padding=pad))

    def k_MaxPooling2D(self, name, cfg, w):
        self._pool(name, cfg, "max")

    def k_AveragePooling2D(self, name, cfg, w):
        self._pool(name, cfg, "avg")

    k_MaxPool2D, k_AvgPool2D = k_MaxPooling2D, k_AveragePooling2D

    def k_GlobalAveragePooling2D(self, name, cfg, w):
        _, h, wd = self._image(cfg)
        self.b.add(Pool2D(self.b.unique(name), mode="avg", kernel=(h, wd), stride=(h, wd)))
        self.b.flatten(f"{name}_flat")

    def k_Flatten(self, name, cfg, w):
        # Keras' Flatten reshapes the tensor as stored, except that data_format='channels_first'
        # first moves the channels last: a channels-first tensor flattens C,H,W by default and
        # H,W,C when told channels_first; a channels-last one flattens H,W,C, and told
        # channels_first it would be permuted to W,C,H (refused).
        told = _data_format(cfg)
        if len(self.b.shape) != 3 or math.prod(self.b.shape) == max(self.b.shape):
            self.b.flatten(name, "HWC" if self.channels_last else "CHW")  # one non-unit axis: any order
        elif self.channels_last and told == "channels_first":
            raise LenetcError("data_format 'channels_first' on a channels_last tensor (a W,C,H order) is not supported")
        else:
            self.b.flatten(name, "HWC" if self.channels_last or told == "channels_first" else "CHW")

    def k_Dense(self, name, cfg, w):
        if len(self.b.shape) != 1 and math.prod(self.b.shape[1:]) != 1:
            raise LenetcError(f"Dense on a {len(self.b.shape)}-D tensor {self.b.shape} (add a Flatten)")
        if not w:
            raise LenetcError("no weights in the file")
        units = int(cfg["units"])
        bias = w[1] if cfg.get("use_bias", True) and len(w) > 1 else np.zeros(units, np.float32)
        self.b.add(Dense(self.b.unique(name), units=units), {"weight": w[0].T, "bias": bias})
        self._act(name, _act_name(cfg.get("activation")))

    def k_Activation(self, name, cfg, w):
        self._act(name, _act_name(cfg.get("activation")))

    def k_ReLU(self, name, cfg, w):
        top, slope = cfg.get("max_value"), float(cfg.get("negative_slope", 0.0) or 0.0)
        if float(cfg.get("threshold", 0.0) or 0.0) != 0.0 or (top is not None and slope):
            raise LenetcError("ReLU with a threshold (or both max_value and negative_slope) not supported")
        if top is not None:
            self.b.add_act(Act("clip", lo=0.0, hi=float(top)), name)
        else:
            self.b.add_act(Act("leaky_relu", alpha=slope) if slope else Act("relu"), name)

    def k_LeakyReLU(self, name, cfg, w):
        slope = cfg.get("negative_slope", cfg.get("alpha", 0.3))
        self.b.add_act(Act("leaky_relu", alpha=float(slope)), name)

    def k_ELU(self, name, cfg, w):
        self.b.add_act(Act("elu", alpha=float(cfg.get("alpha", 1.0))), name)

    def k_Softmax(self, name, cfg, w):
        self._act(name, "softmax")

    def k_BatchNormalization(self, name, cfg, w):
        axis = cfg.get("axis", -1)
        axis = axis[0] if isinstance(axis, list) else axis
        image = len(self.b.shape) == 3 and math.prod(self.b.shape[1:]) > 1
        channel_axis = (3 if self.channels_last else 1) if image else 1
        if image and axis not in (channel_axis, channel_axis - 4):
            raise LenetcError(f"normalises axis {axis}, not the channel axis")
        w = list(w)
        gamma = w.pop(0) if cfg.get("scale", True) else np.ones_like(w[-1])
        beta = w.pop(0) if cfg.get("center", True) else np.zeros_like(w[-1])
        mean, var = w
        s = batchnorm_scale(gamma, var, float(cfg.get("epsilon", 1e-3)))
        t = beta - mean * s
        tail = (1,) * (len(self.b.shape) - 1)
        self.b.add_affine(s.reshape(-1, *tail), t.reshape(-1, *tail), name)


def load_keras(path: str | Path) -> Network:
    """Import a Keras Sequential model from ``.h5`` (Keras 2) or ``.keras`` (Keras 3)."""
    path = Path(path)
    if not path.is_file():
        raise LenetcError(f"Keras file '{path}' does not exist")
    config, weights = read_keras(path)
    try:
        name = safe_name(path.stem, "keras_model")
        return KerasImporter(config, weights, name).run()
    except LenetcError as exc:
        raise LenetcError(one_line(str(exc))) from None
    except (KeyError, ValueError, IndexError, TypeError, AttributeError, OSError) as exc:
        raise LenetcError(one_line(f"Keras model '{path}' is malformed ({type(exc).__name__}: {exc})")) from None
    finally:
        weights.h5.close()
