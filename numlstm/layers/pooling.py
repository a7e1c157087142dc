"""GlobalAveragePooling1D: the mean over time of each feature, masked steps left out, as Keras 3's."""

import numpy as np

from .. import backend
from .base import Backward, Layer
from .reshaping import _channels_last


class GlobalAveragePooling1D(Layer):
    """``y[b, f] = sum_t mask[b, t] * x[b, t, f] / sum_t mask[b, t]`` (every step without a mask).

    Input (batch, timesteps, features); output (batch, features), or
    (batch, 1, features) with ``keepdims``. No mask is passed on. A sequence
    whose every step is masked averages to NaN (0 / 0), as in Keras.

    Parameters
    ----------
    data_format : str, optional
        ``"channels_last"`` (the default; channels_first is not supported).
    keepdims : bool, default False
        Keep the time axis, of length 1.
    name : str, optional
    dtype : str or numpy dtype, optional
        float32 (``floatx()``) by default, or float64.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import layers
    >>> x = np.array([[[1.0], [3.0], [100.0]]])
    >>> layers.GlobalAveragePooling1D()(x, mask=np.array([[True, True, False]])).tolist()
    [[2.0]]
    """

    def __init__(self, data_format=None, keepdims=False, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.data_format = _channels_last(data_format, self.name)
        if not isinstance(keepdims, bool):
            raise TypeError(f"{self.name}: keepdims must be a bool, got {keepdims!r}")
        self.keepdims = keepdims
        self.built = True

    def get_config(self):
        return {"data_format": self.data_format, "keepdims": self.keepdims, "name": self.name,
                "dtype": self.dtype.name}

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{self.name}: input must have shape (batch, timesteps, features), got "
                             f"{tuple(input_shape)}")
        return (input_shape[0], 1, input_shape[2]) if self.keepdims else (input_shape[0], input_shape[2])

    def compute_mask(self, inputs, mask=None):
        return None

    def forward(self, x, mask=None, training=False, initial_state=None):
        x = self._as_input(x)
        shape = tuple(x.shape)
        output_shape = self.compute_output_shape(shape)
        if mask is not None and not backend.is_device_array(mask):
            mask = np.asarray(mask, bool)
        if mask is not None and tuple(mask.shape) != shape[:2]:
            raise ValueError(f"{self.name}: mask must have shape {shape[:2]}, got {tuple(mask.shape)}")
        y = backend.array_ops(x).sum_steps(x, mask, mean=True)
        return y.reshape(output_shape), (shape[1], mask)

    def backward(self, cache, d_output, input_gradient=True):
        if not input_gradient:
            return Backward(None, [])
        timesteps, mask = cache
        ops = backend.array_ops(d_output)
        d_output = ops.asarray(d_output, self.dtype)
        d_output = d_output.reshape(tuple(d_output.shape)[0], -1)
        return Backward(ops.spread_steps(d_output, timesteps, mask, mean=True), [])
