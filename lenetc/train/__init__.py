"""A pure-NumPy trainer for the zoo networks (and any network of the supported layer kinds)."""

from .backprop import backward, forward, loss_and_grad, trainable_keys, training_head
from .loop import MODEL_DEFAULTS, TrainConfig, TrainResult, default_config, init_params, shift_images, train

__all__ = [
    "MODEL_DEFAULTS", "TrainConfig", "TrainResult", "backward", "default_config", "forward", "init_params",
    "loss_and_grad", "shift_images", "train", "trainable_keys", "training_head",
]  # fmt: skip
