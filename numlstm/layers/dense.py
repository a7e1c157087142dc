"""Dense: y = activation(x @ kernel + bias) on the last axis, as Keras applies it to 3-D input."""

import numpy as np

from .. import backend
from ..backend.cpu import ACTIVATIONS
from .base import Backward, Layer


class Dense(Layer):
    """Densely connected layer: ``y = activation(x @ kernel + bias)``, on the last axis.

    Input (batch, ..., features), e.g. (batch, features) or, applied to
    every timestep, (batch, timesteps, features); output the same with
    ``units`` last. Weights, in Keras order: ``kernel`` (features, units),
    then ``bias`` (units,) with ``use_bias``. The mask passes through.

    Parameters
    ----------
    units : int
        Output features.
    activation : str, optional
        None (linear), ``"relu"``, ``"tanh"``, ``"sigmoid"`` or ``"softmax"``
        (over the last axis).
    use_bias : bool, default True
    kernel_initializer, bias_initializer : str or initializer, default "glorot_uniform", "zeros"
    name : str, optional
    dtype : str or numpy dtype, optional
        float32 (``floatx()``) by default, or float64.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import layers
    >>> dense = layers.Dense(4, activation="relu")
    >>> dense(np.ones((2, 5, 3))).shape
    (2, 5, 4)
    >>> [w.shape for w in dense.get_weights()]
    [(3, 4), (4,)]
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"{self.name}: units must be a positive int, got {units!r}")
        activation = "linear" if activation is None else activation
        if activation not in ACTIVATIONS:
            raise ValueError(f"{self.name}: unknown activation {activation!r}; valid: None, "
                             f"{', '.join(map(repr, ACTIVATIONS))}")
        self.units = int(units)
        self.activation = activation
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer

    def get_config(self):
        return {"units": self.units, "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer, "bias_initializer": self.bias_initializer,
                "name": self.name, "dtype": self.dtype.name}

    def build(self, input_shape):
        features = input_shape[-1]
        self.add_weight("kernel", (features, self.units), self.kernel_initializer)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer)
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, x, mask=None, training=False, initial_state=None):
        x = self._as_input(x)
        if x.ndim < 2:
            raise ValueError(f"{self.name}: x must have at least 2 dimensions (batch, ..., features), got shape {x.shape}")
        if not self.built:
            self.build(x.shape)
        shape = tuple(x.shape)  # a tuple: the CUDA simulator's shapes refuse negative indices
        if shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"{self.name}: expected {self.kernel.shape[0]} features on the last axis, got shape {x.shape}")
        ops = backend.array_ops(x)
        z = ops.matmul(x.reshape(-1, shape[-1]), ops.local(self.kernel))
        if self.use_bias:
            ops.add_bias(z, ops.local(self.bias))
        y = ops.activate(self.activation, z).reshape(shape[:-1] + (self.units,))
        return y, (x, y)

    def backward(self, cache, d_output, input_gradient=True):
        x, y = cache
        ops = backend.array_ops(x)
        dz = ops.activation_gradient(self.activation, y, ops.asarray(d_output, self.dtype))
        x_rows = x.reshape(-1, tuple(x.shape)[-1])
        dz_rows = dz.reshape(-1, self.units)
        grads = [ops.matmul(x_rows, dz_rows, transpose_a=True)]
        if self.use_bias:
            grads.append(ops.column_sums(dz_rows))
        if not input_gradient:
            return Backward(None, grads)
        d_input = ops.matmul(dz_rows, ops.local(self.kernel), transpose_b=True)
        return Backward(d_input.reshape(x.shape), grads)
