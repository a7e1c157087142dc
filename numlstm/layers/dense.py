"""Dense: y = activation(x @ kernel + bias) on the last axis, as Keras applies it to 3-D input."""

import numpy as np

from .base import Backward, Layer


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# name: (function of z, gradient wrt z given y = f(z) and dy)
_ACTIVATIONS = {
    "linear": (lambda z: z, lambda y, dy: dy),
    "relu": (lambda z: np.maximum(z, 0), lambda y, dy: dy * (y > 0)),
    "tanh": (np.tanh, lambda y, dy: dy * (1 - y * y)),
    "sigmoid": (lambda z: 0.5 * np.tanh(0.5 * z) + 0.5, lambda y, dy: dy * y * (1 - y)),
    "softmax": (_softmax, lambda y, dy: y * (dy - (dy * y).sum(axis=-1, keepdims=True))),
}


class Dense(Layer):
    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"{self.name}: units must be a positive int, got {units!r}")
        activation = "linear" if activation is None else activation
        if activation not in _ACTIVATIONS:
            raise ValueError(f"{self.name}: unknown activation {activation!r}; valid: None, "
                             f"{', '.join(map(repr, _ACTIVATIONS))}")
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
        if x.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"{self.name}: expected {self.kernel.shape[0]} features on the last axis, got shape {x.shape}")
        z = x @ self.kernel
        if self.use_bias:
            z += self.bias
        y = _ACTIVATIONS[self.activation][0](z)
        return y, (x, y)

    def backward(self, cache, d_output, input_gradient=True):
        x, y = cache
        dz = _ACTIVATIONS[self.activation][1](y, np.asarray(d_output, self.dtype))
        x_rows = x.reshape(-1, x.shape[-1])
        dz_rows = dz.reshape(-1, self.units)
        grads = [x_rows.T @ dz_rows]
        if self.use_bias:
            grads.append(dz_rows.sum(axis=0))
        return Backward(dz @ self.kernel.T if input_gradient else None, grads)
