"""Regression losses: squared, absolute, percentage, logarithmic, Huber, log-cosh and Poisson."""

import numpy as np

from ..kernels.cpu.losses import squared_error
from .loss import EPSILON, _Elementwise, _prediction

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))  # what the compiled loss reads


class MeanSquaredError(_Elementwise):
    """Mean of ``(y_true - y_pred) ** 2`` (``"mse"``, ``"mean_squared_error"``).

    Examples
    --------
    >>> import numpy as np
    >>> MeanSquaredError()(np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]]))
    0.5
    """

    name = "mean_squared_error"
    gpu_kernel = "elementwise"

    def value_and_gradient(self, y_true, y_pred, sample_weight=None):
        """The loss and its gradient with respect to ``y_pred``, as :meth:`Loss.value_and_gradient` gives them.

        Unweighted (the training step's most common loss), a compiled loop
        (``kernels/cpu/losses.py``) computes both in one pass, the sum in
        float64.

        Parameters
        ----------
        y_true : array_like
        y_pred : numpy.ndarray
        sample_weight : array_like, optional

        Returns
        -------
        value : float
        gradient : numpy.ndarray
        """
        if sample_weight is not None:
            return super().value_and_gradient(y_true, y_pred, sample_weight=sample_weight)
        if not (type(y_pred) is np.ndarray and type(y_true) is np.ndarray and y_pred.dtype in _KERNEL_DTYPES
                and y_true.dtype == y_pred.dtype and y_true.shape == y_pred.shape):
            # A training step's targets usually have the output's dtype and shape already: then none of these
            # checks and conversions applies (0.4 of the loss's 4 us at the benchmarks' tiny size).
            y_pred = _prediction(y_pred)
            y_true = self._targets_like(y_true, y_pred)
        if y_pred.dtype in _KERNEL_DTYPES and y_pred.size:
            gradient = np.empty(y_pred.shape, y_pred.dtype)
            total = squared_error(np.ascontiguousarray(y_pred).reshape(-1), np.ascontiguousarray(y_true).reshape(-1),
                                  gradient.reshape(-1))
            return total / y_pred.size, gradient
        error = y_pred - y_true
        count = error.size
        value = float(np.square(error).sum() / count)
        error *= 2
        error /= count
        return value, error

    def _term(self, y_true, y_pred):
        error = y_pred - y_true
        return error * error, 2 * error


class MeanAbsoluteError(_Elementwise):
    """Mean of ``abs(y_true - y_pred)`` (``"mae"``, ``"mean_absolute_error"``).

    Examples
    --------
    >>> import numpy as np
    >>> MeanAbsoluteError()(np.array([[0.0, 1.0]]), np.array([[1.0, 1.5]]))
    0.75
    """

    name = "mean_absolute_error"
    gpu_kernel = "elementwise"

    def _term(self, y_true, y_pred):
        error = y_pred - y_true
        return np.abs(error), np.sign(error)


class MeanAbsolutePercentageError(_Elementwise):
    """``100 * mean(abs((y_true - y_pred) / max(abs(y_true), 1e-7)))`` (``"mape"``).

    Also ``"mean_absolute_percentage_error"``; the denominator is clipped to
    Keras' epsilon, as in Keras.

    Examples
    --------
    >>> import numpy as np
    >>> MeanAbsolutePercentageError()(np.array([[2.0, 4.0]]), np.array([[1.0, 5.0]]))
    37.5
    """

    name = "mean_absolute_percentage_error"

    def _term(self, y_true, y_pred):
        scale = np.maximum(np.abs(y_true), EPSILON)
        return 100.0 * np.abs((y_true - y_pred) / scale), 100.0 * np.sign(y_pred - y_true) / scale


class MeanSquaredLogarithmicError(_Elementwise):
    """Mean of ``(log(max(y_pred, 1e-7) + 1) - log(max(y_true, 1e-7) + 1)) ** 2`` (``"msle"``).

    Also ``"mean_squared_logarithmic_error"``; values below Keras' epsilon
    are clipped to it (the gradient is zero there), as in Keras.

    Examples
    --------
    >>> import numpy as np
    >>> round(MeanSquaredLogarithmicError()(np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]])), 4)
    0.2402
    """

    name = "mean_squared_logarithmic_error"

    def _term(self, y_true, y_pred):
        shifted = np.maximum(y_pred, EPSILON) + 1.0
        difference = np.log(shifted) - np.log(np.maximum(y_true, EPSILON) + 1.0)
        return difference * difference, np.where(y_pred > EPSILON, 2 * difference / shifted, 0.0)


class Huber(_Elementwise):
    """Huber loss: quadratic for errors up to ``delta``, linear beyond (``"huber"``).

    Parameters
    ----------
    delta : float, optional
        Where the loss changes from quadratic to linear. Defaults to 1.0.

    Examples
    --------
    >>> import numpy as np
    >>> Huber(delta=1.0)(np.array([[0.0, 0.0]]), np.array([[0.5, 3.0]]))  # (0.125 + 2.5) / 2
    1.3125
    """

    name = "huber"
    gpu_kernel = "elementwise"

    def __init__(self, delta=1.0):
        self.delta = float(delta)

    def _term(self, y_true, y_pred):
        error = y_pred - y_true
        small = np.abs(error) <= self.delta
        value = np.where(small, 0.5 * error * error, self.delta * (np.abs(error) - 0.5 * self.delta))
        return value, np.where(small, error, self.delta * np.sign(error))

    def get_config(self):
        return {"delta": self.delta}

    def kernel_options(self):
        return {**super().kernel_options(), "delta": self.delta}


class LogCosh(_Elementwise):
    """Mean of ``log(cosh(y_pred - y_true))`` (``"log_cosh"``, ``"logcosh"``).

    Computed as Keras does, ``x + softplus(-2 x) - log(2)``, which does not
    overflow; the derivative is ``tanh(x)``.

    Examples
    --------
    >>> import numpy as np
    >>> round(LogCosh()(np.array([[0.0, 0.0]]), np.array([[0.0, 1.0]])), 4)
    0.2169
    """

    name = "log_cosh"

    def _term(self, y_true, y_pred):
        error = y_pred - y_true
        return error + np.logaddexp(0.0, -2.0 * error) - np.log(2.0), np.tanh(error)


class Poisson(_Elementwise):
    """Mean of ``y_pred - y_true * log(y_pred + 1e-7)`` (``"poisson"``).

    ``y_pred`` is a rate and must be positive (a softplus or exponential
    output); Keras' epsilon is added inside the logarithm, as in Keras.

    Examples
    --------
    >>> import numpy as np
    >>> round(Poisson()(np.array([[1.0, 2.0]]), np.array([[1.0, 2.0]])), 4)
    0.8069
    """

    name = "poisson"

    def _term(self, y_true, y_pred):
        shifted = y_pred + EPSILON
        return y_pred - y_true * np.log(shifted), 1.0 - y_true / shifted
