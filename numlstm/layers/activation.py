"""Activation: an activation function applied elementwise (softmax: over the last axis), as Keras 3's."""

from .. import backend
from ..backend.cpu import ACTIVATIONS
from .base import Backward, Layer


class Activation(Layer):
    """``y = activation(x)``; the mask passes through.

    Parameters
    ----------
    activation : str or None
        One of ``"linear"`` (also None), ``"relu"``, ``"tanh"``, ``"sigmoid"``,
        ``"softmax"`` (over the last axis).
    name : str, optional
    dtype : str or numpy dtype, optional
        float32 (``floatx()``) by default, or float64.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import layers
    >>> layers.Activation("relu")(np.array([[-1.0, 2.0]])).tolist()
    [[0.0, 2.0]]
    """

    def __init__(self, activation, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        activation = "linear" if activation is None else activation
        if activation not in ACTIVATIONS:
            raise ValueError(f"{self.name}: unknown activation {activation!r}; valid: None, "
                             f"{', '.join(map(repr, ACTIVATIONS))}")
        self.activation = activation
        self.built = True

    def get_config(self):
        return {"activation": self.activation, "name": self.name, "dtype": self.dtype.name}

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, mask=None, training=False, initial_state=None):
        x = self._as_input(x)
        ops = backend.array_ops(x)
        # activate may work in place (on the GPU): a copy keeps the caller's x intact.
        y = x if self.activation == "linear" else ops.activate(self.activation, ops.copy(x))
        return y, y

    def backward(self, cache, d_output, input_gradient=True):
        if not input_gradient:
            return Backward(None, [])
        ops = backend.array_ops(cache)
        return Backward(ops.activation_gradient(self.activation, cache, ops.asarray(d_output, self.dtype)), [])
