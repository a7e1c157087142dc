"""Conv1D: a 1-D convolution over time, channels last, with Keras 3's kernel layout and padding rules."""

import numpy as np

from .. import backend, initializers
from ..backend.cpu import ACTIVATIONS
from .base import Backward, Layer
from .reshaping import _channels_last

_PADDINGS = ("valid", "same", "causal")


def _single_int(value, name, owner):
    """A positive int given as an int or a one-element tuple/list (Keras' standardize_tuple)."""
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int (or a tuple of one), got {value!r}")
    return int(value)


class Conv1D(Layer):
    """1-D convolution over time (a temporal convolution), channels last, as Keras 3's ``Conv1D``.

    ``y[b, o, f] = activation(sum_{j, c} x_pad[b, o * strides + j * dilation_rate, c] * kernel[j, c, f]
    + bias[f])``.

    Input (batch, timesteps, channels); output (batch, new_timesteps,
    filters). Weights, in Keras order: ``kernel`` (kernel_size, channels,
    filters), then ``bias`` (filters,) with ``use_bias``. Padding:
    ``"valid"`` none; ``"same"`` ceil(T / strides) outputs, the zeros split
    as evenly as they go, the odd one on the right; ``"causal"``
    dilation_rate * (kernel_size - 1) zeros on the left, so output t sees
    no input after t. No mask is passed on (as Keras).

    Parameters
    ----------
    filters : int
        Output channels.
    kernel_size : int
        The window's length in taps.
    strides : int, default 1
    padding : {"valid", "same", "causal"}, default "valid"
    data_format : str, optional
        ``"channels_last"`` (the default; channels_first is not supported).
    dilation_rate : int, default 1
        The step between taps (not with strides above 1).
    activation : str, optional
        As Dense's: None (linear), "relu", "tanh", "sigmoid", "softmax".
    use_bias : bool, default True
    kernel_initializer, bias_initializer : str or initializer, default "glorot_uniform", "zeros"
    name : str, optional
    dtype : str or numpy dtype, optional
        float32 (``floatx()``) by default, or float64.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import layers
    >>> layers.Conv1D(8, 3, padding="causal")(np.ones((2, 10, 4))).shape
    (2, 10, 8)
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.filters = _single_int(filters, "filters", self.name)
        self.kernel_size = _single_int(kernel_size, "kernel_size", self.name)
        self.strides = _single_int(strides, "strides", self.name)
        self.dilation_rate = _single_int(dilation_rate, "dilation_rate", self.name)
        if self.strides > 1 and self.dilation_rate > 1:
            raise ValueError(f"{self.name}: strides > 1 is not supported with dilation_rate > 1, got "
                             f"strides={strides}, dilation_rate={dilation_rate}")
        padding = padding.lower() if isinstance(padding, str) else padding
        if padding not in _PADDINGS:
            raise ValueError(f"{self.name}: padding must be one of {_PADDINGS}, got {padding!r}")
        self.padding = padding
        self.data_format = _channels_last(data_format, self.name)
        activation = "linear" if activation is None else activation
        if activation not in ACTIVATIONS:
            raise ValueError(f"{self.name}: unknown activation {activation!r}; valid: None, "
                             f"{', '.join(map(repr, ACTIVATIONS))}")
        self.activation = activation
        if not isinstance(use_bias, bool):
            raise TypeError(f"{self.name}: use_bias must be a bool, got {use_bias!r}")
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def get_config(self):
        return {"filters": self.filters, "kernel_size": (self.kernel_size,), "strides": (self.strides,),
                "padding": self.padding, "data_format": self.data_format, "dilation_rate": (self.dilation_rate,),
                "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer, "bias_initializer": self.bias_initializer,
                "name": self.name, "dtype": self.dtype.name}

    def _padding(self, steps):
        """(zeros on the left, zeros on the right) for ``steps`` input steps."""
        extent = (self.kernel_size - 1) * self.dilation_rate + 1
        if self.padding == "causal":
            return extent - 1, 0
        if self.padding == "valid":
            return 0, 0
        total = max((-(-steps // self.strides) - 1) * self.strides + extent - steps, 0)
        return total // 2, total - total // 2

    def _output_steps(self, steps):
        if steps is None:
            return None
        left, right = self._padding(steps)
        return (steps + left + right - (self.kernel_size - 1) * self.dilation_rate - 1) // self.strides + 1

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"{self.name}: input must have shape (batch, timesteps, channels) with known channels, "
                             f"got {tuple(input_shape)}")
        self.add_weight("kernel", (self.kernel_size, input_shape[-1], self.filters), self.kernel_initializer)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer)
        self.built = True

    def compute_output_shape(self, input_shape):
        steps = self._output_steps(input_shape[1])
        if steps is not None and steps < 1:
            raise ValueError(f"{self.name}: {input_shape[1]} timesteps are too few for a kernel of "
                             f"{self.kernel_size} taps at dilation {self.dilation_rate} with padding {self.padding!r}")
        return (input_shape[0], steps, self.filters)

    def compute_mask(self, inputs, mask=None):
        return None

    def forward(self, x, mask=None, training=False, initial_state=None):
        x = self._as_input(x)
        if x.ndim != 3:
            raise ValueError(f"{self.name}: x must have shape (batch, timesteps, channels), got shape {x.shape}")
        if not self.built:
            self.build(x.shape)
        B, T, C = x.shape
        if C != self.kernel.shape[1]:
            raise ValueError(f"{self.name}: expected {self.kernel.shape[1]} channels, got shape {x.shape}")
        steps = self.compute_output_shape(x.shape)[1]
        ops = backend.array_ops(x)
        windows = ops.sequence_windows(x, self.kernel_size, self.strides, self.dilation_rate, *self._padding(T))
        z = ops.matmul(windows, ops.local(self.kernel).reshape(self.kernel_size * C, self.filters))
        if self.use_bias:
            ops.add_bias(z, ops.local(self.bias))
        y = ops.activate(self.activation, z)
        return y.reshape(B, steps, self.filters), (tuple(x.shape), windows, y)

    def backward(self, cache, d_output, input_gradient=True):
        shape, windows, y = cache
        ops = backend.array_ops(y)
        dz = ops.activation_gradient(self.activation, y, ops.asarray(d_output, self.dtype).reshape(y.shape))
        grads = [ops.matmul(windows, dz, transpose_a=True).reshape(self.kernel.shape)]
        if self.use_bias:
            grads.append(ops.column_sums(dz))
        if not input_gradient:
            return Backward(None, grads)
        d_windows = ops.matmul(dz, ops.local(self.kernel).reshape(-1, self.filters), transpose_b=True)
        return Backward(ops.sequence_windows_gradient(d_windows, shape, self.kernel_size, self.strides,
                                                      self.dilation_rate, *self._padding(shape[1])), grads)
