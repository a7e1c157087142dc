"""Dropout: zero a fraction of the inputs while training, scaling the rest by 1 / (1 - rate)."""

import numpy as np

from .. import backend, utils
from .base import Backward, Layer


class Dropout(Layer):
    """Sets a fraction ``rate`` of its inputs to 0 while training, scaling the others by ``1 / (1 - rate)``.

    Outside training (``predict``, ``evaluate``, or a call without
    ``training=True``) it passes its input through. No weights; the mask
    passes through.

    Parameters
    ----------
    rate : float
        In [0, 1): the fraction of the inputs to drop.
    seed : int, optional
        With a seed every call draws the same mask (Keras' seeded layers
        draw a new one per call); without one, the global generator
        (:func:`numlstm.utils.set_random_seed`) draws a new mask per call.
    name : str, optional
    dtype : str or numpy dtype, optional
        float32 (``floatx()``) by default, or float64.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import layers
    >>> dropout = layers.Dropout(0.5, seed=0)
    >>> dropout(np.ones((1, 4))).tolist()
    [[1.0, 1.0, 1.0, 1.0]]
    >>> sorted(set(dropout(np.ones((1, 100)), training=True).ravel().tolist()))
    [0.0, 2.0]
    """

    def __init__(self, rate, seed=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        rate = utils._real_argument(rate, f"{self.name}: rate")
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"{self.name}: rate must be in [0, 1), got {rate!r}")
        self.rate = rate
        self.seed = seed

    def get_config(self):
        return {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": self.dtype.name}

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, mask=None, training=False, initial_state=None):
        x = self._as_input(x)
        self.built = True
        if not training or self.rate == 0.0:
            return x, None
        generator = utils.global_generator() if self.seed is None else np.random.default_rng(self.seed)
        # Drawn on the host whatever the device, so that a seed gives the same masks everywhere.
        ops = backend.array_ops(x)
        scale = ops.local(((generator.random(x.shape) >= self.rate) / (1.0 - self.rate)).astype(self.dtype))
        return ops.multiply(x, scale), scale

    def backward(self, cache, d_output, input_gradient=True):
        if not input_gradient:
            return Backward(None, [])
        ops = backend.array_ops(d_output)
        d_output = ops.asarray(d_output, self.dtype)
        return Backward(d_output if cache is None else ops.multiply(d_output, cache), [])
