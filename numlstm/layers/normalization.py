"""LayerNormalization: each sample normalised over its trailing axes, then scaled and shifted (Keras 3)."""

import math

import numpy as np

from .. import backend, initializers
from .base import Backward, Layer


class LayerNormalization(Layer):
    """``y = (x - mean) / sqrt(variance + epsilon) * gamma + beta``, mean and (biased) variance over ``axis``.

    Weights, in Keras order: ``gamma`` (with ``scale``), then ``beta`` (with
    ``center``), each of the normalised axes' shape, e.g. (features,). The
    mask passes through.

    Parameters
    ----------
    axis : int or list of int, default -1
        The axes to normalise over; they must be the last ones (e.g. -1, or
        [1, 2] of a 3-D input).
    epsilon : float, default 1e-3
        Added to the variance.
    center : bool, default True
        Add ``beta``.
    scale : bool, default True
        Multiply by ``gamma``.
    beta_initializer, gamma_initializer : str or initializer, default "zeros", "ones"
    name : str, optional
    dtype : str or numpy dtype, optional
        float32 (``floatx()``) by default, or float64.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import layers
    >>> y = layers.LayerNormalization()(np.array([[1.0, 2.0, 3.0]]))
    >>> bool(abs(y.mean()) < 1e-6)
    True
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        axes = axis if isinstance(axis, (list, tuple)) else [axis]
        if not axes or not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes):
            raise TypeError(f"{self.name}: axis must be an int or a list of ints, got {axis!r}")
        if not isinstance(epsilon, (int, float)) or isinstance(epsilon, bool) or epsilon < 0:
            raise ValueError(f"{self.name}: epsilon must be a non-negative number, got {epsilon!r}")
        for flag, value in (("center", center), ("scale", scale)):
            if not isinstance(value, bool):
                raise TypeError(f"{self.name}: {flag} must be a bool, got {value!r}")
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else int(axis)
        self.epsilon = float(epsilon)
        self.center, self.scale = center, scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)

    def get_config(self):
        return {"axis": self.axis, "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": self.beta_initializer, "gamma_initializer": self.gamma_initializer,
                "name": self.name, "dtype": self.dtype.name}

    def _axes(self, ndim):
        """The normalised axes of an input of rank ``ndim``, non-negative and sorted: the last ones."""
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        if not all(-ndim <= a < ndim for a in axes):
            raise ValueError(f"{self.name}: axis {self.axis} is out of range for inputs of rank {ndim}")
        axes = sorted({a % ndim for a in axes})
        if axes != list(range(ndim - len(axes), ndim)) or axes[0] == 0:
            raise ValueError(f"{self.name}: axis must name the last axes (not the batch axis), got {self.axis} "
                             f"for inputs of rank {ndim}")
        return axes

    def build(self, input_shape):
        shape = tuple(input_shape[a] for a in self._axes(len(input_shape)))
        if None in shape:
            raise ValueError(f"{self.name}: the normalised axes must have known sizes, got input shape "
                             f"{tuple(input_shape)}")
        self._normalized_shape = shape
        if self.scale:
            self.add_weight("gamma", shape, self.gamma_initializer)
        if self.center:
            self.add_weight("beta", shape, self.beta_initializer)
        self.built = True

    def compute_output_shape(self, input_shape):
        self._axes(len(input_shape))
        return tuple(input_shape)

    def forward(self, x, mask=None, training=False, initial_state=None):
        x = self._as_input(x)
        shape = tuple(x.shape)
        if not self.built:
            self.build(shape)
        axes = self._axes(len(shape))
        width = math.prod(shape[axes[0]:])
        if shape[axes[0]:] != self._normalized_shape:
            raise ValueError(f"{self.name}: expected inputs ending in {self._normalized_shape}, got shape {shape}")
        ops = backend.array_ops(x)
        gamma = ops.local(self.gamma).reshape(-1) if self.scale else None
        beta = ops.local(self.beta).reshape(-1) if self.center else None
        y, normalized, inv_std = ops.layer_norm(x.reshape(-1, width), gamma, beta, self.epsilon)
        return y.reshape(shape), (normalized, inv_std, gamma, shape)

    def backward(self, cache, d_output, input_gradient=True):
        normalized, inv_std, gamma, shape = cache
        ops = backend.array_ops(normalized)
        dy = ops.asarray(d_output, self.dtype).reshape(normalized.shape)
        grads = []
        if self.scale:
            grads.append(ops.column_sums(ops.multiply(dy, normalized)).reshape(self._normalized_shape))
        if self.center:
            grads.append(ops.column_sums(dy).reshape(self._normalized_shape))
        if not input_gradient:
            return Backward(None, grads)
        return Backward(ops.layer_norm_gradient(dy, normalized, inv_std, gamma).reshape(shape), grads)
