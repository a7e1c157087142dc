"""Reshaping layers: RepeatVector, Flatten and Reshape, as Keras 3's (none passes a mask on)."""

import math

import numpy as np

from .. import backend
from .base import Backward, Layer


def _positive_int(value, name, owner):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: {name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{owner}: {name} must be positive, got {value}")
    return int(value)


def _channels_last(data_format, owner):
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{owner}: data_format must be 'channels_last' (channels_first is not supported), "
                         f"got {data_format!r}")
    return "channels_last"


class _Reshaping(Layer):
    """A layer without weights whose output drops the mask (Keras' layers that do not support masking)."""

    def compute_mask(self, inputs, mask=None):
        return None


class RepeatVector(_Reshaping):
    """Repeats a (batch, features) input ``n`` times: (batch, n, features).

    Parameters
    ----------
    n : int
        How many times to repeat each sample (positive).
    name : str, optional
    dtype : str or numpy dtype, optional
        float32 (``floatx()``) by default, or float64.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import layers
    >>> layers.RepeatVector(4)(np.ones((2, 3))).shape
    (2, 4, 3)
    """

    def __init__(self, n, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.n = _positive_int(n, "n", self.name)

    def get_config(self):
        return {"n": self.n, "name": self.name, "dtype": self.dtype.name}

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"{self.name}: input must have shape (batch, features), got {tuple(input_shape)}")
        return (input_shape[0], self.n, input_shape[1])

    def forward(self, x, mask=None, training=False, initial_state=None):
        x = self._as_input(x)
        self.compute_output_shape(tuple(x.shape))
        self.built = True
        return backend.array_ops(x).spread_steps(x, self.n), None

    def backward(self, cache, d_output, input_gradient=True):
        if not input_gradient:
            return Backward(None, [])
        ops = backend.array_ops(d_output)
        return Backward(ops.sum_steps(ops.asarray(d_output, self.dtype)), [])


class Flatten(_Reshaping):
    """Flattens every axis but the batch axis: ``(batch, d1, ..., dk) -> (batch, d1*...*dk)``.

    A (batch,) input becomes (batch, 1), as in Keras.

    Parameters
    ----------
    data_format : str, optional
        ``"channels_last"`` (the default; channels_first is not supported).
    name : str, optional
    dtype : str or numpy dtype, optional
        float32 (``floatx()``) by default, or float64.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import layers
    >>> layers.Flatten()(np.ones((2, 5, 3))).shape
    (2, 15)
    """

    def __init__(self, data_format=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.data_format = _channels_last(data_format, self.name)

    def get_config(self):
        return {"data_format": self.data_format, "name": self.name, "dtype": self.dtype.name}

    def compute_output_shape(self, input_shape):
        rest = tuple(input_shape[1:])
        return (input_shape[0], None if None in rest else math.prod(rest))

    def forward(self, x, mask=None, training=False, initial_state=None):
        x = self._as_input(x)
        self.built = True
        shape = tuple(x.shape)
        return x.reshape(shape[0], math.prod(shape[1:])), shape

    def backward(self, cache, d_output, input_gradient=True):
        if not input_gradient:
            return Backward(None, [])
        return Backward(backend.array_ops(d_output).asarray(d_output, self.dtype).reshape(cache), [])


class Reshape(_Reshaping):
    """Reshapes each sample to ``target_shape``: ``(batch, ...) -> (batch, *target_shape)``.

    Parameters
    ----------
    target_shape : tuple of int
        The shape of one sample, without the batch axis; one entry may be
        -1, inferred from the sample's size.
    name : str, optional
    dtype : str or numpy dtype, optional
        float32 (``floatx()``) by default, or float64.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import layers
    >>> layers.Reshape((3, -1))(np.ones((2, 12))).shape
    (2, 3, 4)
    """

    def __init__(self, target_shape, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        try:
            target_shape = tuple(target_shape)
        except TypeError:
            raise TypeError(f"{self.name}: target_shape must be a tuple of ints, got {target_shape!r}") from None
        if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in target_shape):
            raise TypeError(f"{self.name}: target_shape must hold ints, got {target_shape}")
        if any(d < -1 for d in target_shape) or target_shape.count(-1) > 1:
            raise ValueError(f"{self.name}: target_shape must hold non-negative ints and at most one -1, "
                             f"got {target_shape}")
        self.target_shape = tuple(int(d) for d in target_shape)

    def get_config(self):
        return {"target_shape": self.target_shape, "name": self.name, "dtype": self.dtype.name}

    def _resolved(self, sample_shape):
        """target_shape with its -1 worked out for a sample of ``sample_shape`` (None where unknown)."""
        if None in sample_shape:
            return tuple(None if d == -1 else d for d in self.target_shape)
        size, known = math.prod(sample_shape), math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if known == 0 or size % known:
                raise ValueError(f"{self.name}: cannot reshape samples of shape {sample_shape} to {self.target_shape}")
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if size != known:
            raise ValueError(f"{self.name}: the total size must be unchanged, cannot reshape samples of shape "
                             f"{sample_shape} to {self.target_shape}")
        return self.target_shape

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._resolved(tuple(input_shape[1:]))

    def forward(self, x, mask=None, training=False, initial_state=None):
        x = self._as_input(x)
        self.built = True
        shape = tuple(x.shape)
        return x.reshape((shape[0],) + self._resolved(shape[1:])), shape

    def backward(self, cache, d_output, input_gradient=True):
        if not input_gradient:
            return Backward(None, [])
        return Backward(backend.array_ops(d_output).asarray(d_output, self.dtype).reshape(cache), [])
