"""Optimizers with Keras 3's names, defaults and update rules.

Each works on the model's single flat parameter buffer with a fused Numba
kernel (``numlstm.kernels.optimizer_updates``): one pass over all weights per
step, not a Python loop per array.
"""

import numpy as np

from .kernels.optimizer_updates import adam_update, sgd_update


class Optimizer:
    name = None

    def __init__(self, learning_rate):
        if not learning_rate > 0:
            raise ValueError(f"{type(self).__name__}: learning_rate must be positive, got {learning_rate!r}")
        self.learning_rate = float(learning_rate)
        self.iterations = 0

    def build(self, params):
        """Allocate the state for a flat parameter buffer."""

    def apply(self, params, grads):
        """Update ``params`` in place from ``grads`` (both flat, same dtype)."""
        self.iterations += 1
        self._update(params, grads)

    def variables(self):
        """The optimizer's state arrays, for saving."""
        return []


class SGD(Optimizer):
    name = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        super().__init__(learning_rate)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1], got {momentum!r}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def build(self, params):
        self.velocity = np.zeros_like(params)

    def _update(self, params, grads):
        sgd_update(params, grads, self.velocity, self.learning_rate, self.momentum, self.nesterov)

    def variables(self):
        return [self.velocity]


class Adam(Optimizer):
    name = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.0):
        super().__init__(learning_rate)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.weight_decay = float(weight_decay)

    def build(self, params):
        self.m = np.zeros_like(params)
        self.v = np.zeros_like(params)

    def _update(self, params, grads):
        adam_update(params, grads, self.m, self.v, self.learning_rate, self.beta_1, self.beta_2,
                    self.epsilon, self.iterations, self.weight_decay)

    def variables(self):
        return [self.m, self.v]


class AdamW(Adam):
    name = "adamw"

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay)


_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW}


def get(identifier):
    """An optimizer from its Keras name or an Optimizer instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"unknown optimizer {identifier!r}; valid names: {', '.join(sorted(_BY_NAME))}")
