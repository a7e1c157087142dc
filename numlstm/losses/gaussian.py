"""The Gaussian negative log-likelihood, which trains a likelihood head: a mean and a scale per position."""

import math
import numbers

import numpy as np

from .loss import Loss, _prediction

_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


def _check_min_scale(min_scale):
    """``min_scale`` as a float, checked: a positive, finite real number.

    Parameters
    ----------
    min_scale : float
        The floor added to the standard deviation.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For anything else.
    """
    # bool is a Number, but True as a scale is a mistake, not 1.0
    if isinstance(min_scale, bool) or not isinstance(min_scale, numbers.Real):
        raise ValueError(f"min_scale must be a positive finite number, got {min_scale!r}")
    value = float(min_scale)
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"min_scale must be a positive finite number, got {min_scale!r}")
    return value


def _check_parameters_shape(y_pred, who):
    """Raise a ValueError unless ``y_pred`` has a last axis of length 2 (the mean and the raw scale)."""
    if not y_pred.ndim or y_pred.shape[-1] != 2:
        raise ValueError(f"{who}: y_pred must have shape (..., 2) (the mean and the unconstrained scale of each "
                         f"position), got {tuple(y_pred.shape)}")


def _softplus(r):
    """``log(1 + exp(r))`` without overflow for large ``r`` (``logaddexp(0, r)``)."""
    return np.logaddexp(0, r)


def _sigmoid(r):
    """``1 / (1 + exp(-r))`` without overflow for large ``|r|``."""
    e = np.exp(-np.abs(r))
    return np.where(r >= 0, 1 / (1 + e), e / (1 + e))


def gaussian_parameters(y_pred, min_scale=1e-3):
    """The mean and standard deviation a Gaussian likelihood head outputs.

    Maps a network's outputs trained with :class:`GaussianNLL` to the
    parameters of each position's predicted distribution:
    ``mu = y_pred[..., 0]`` and ``sigma = softplus(y_pred[..., 1]) +
    min_scale``, with ``softplus(r) = log(1 + exp(r))``.

    Parameters
    ----------
    y_pred : array_like
        The outputs, of shape ``(..., 2)``.
    min_scale : float, optional
        The floor of the standard deviation, as given to the loss
        (``loss.min_scale``). Defaults to ``1e-3``.

    Returns
    -------
    mu : numpy.ndarray
        The means, of shape ``y_pred.shape[:-1]``.
    sigma : numpy.ndarray
        The standard deviations, of the same shape, each at least
        ``min_scale``.

    Raises
    ------
    ValueError
        If ``y_pred``'s last axis is not of length 2, or ``min_scale`` is not
        a positive finite number.

    Examples
    --------
    >>> import numpy as np
    >>> mu, sigma = gaussian_parameters(np.array([[1.5, 0.0], [-2.0, 50.0]]))
    >>> mu.tolist()
    [1.5, -2.0]
    >>> sigma.round(6).tolist()  # log(2) + 0.001, and 50 + 0.001 (softplus(r) ~ r for large r)
    [0.694147, 50.001]
    """
    min_scale = _check_min_scale(min_scale)
    y_pred = _prediction(y_pred)
    _check_parameters_shape(y_pred, "gaussian_parameters")
    mu = y_pred[..., 0].copy()
    sigma = (_softplus(y_pred[..., 1]) + min_scale).astype(y_pred.dtype, copy=False)
    return mu, sigma


class GaussianNLL(Loss):
    r"""The negative log-likelihood of a Gaussian whose mean and scale the network outputs (``"gaussian_nll"``).

    A likelihood head for probabilistic forecasting (as DeepAR's): each
    position's output holds the mean :math:`\mu = y_{pred}[..., 0]` and an
    unconstrained :math:`r = y_{pred}[..., 1]`, mapped to the standard
    deviation

    .. math:: \sigma = \operatorname{softplus}(r) + \sigma_{min},
              \qquad \operatorname{softplus}(r) = \log(1 + e^r).

    The loss of a position with target :math:`y` is

    .. math:: \ell = \tfrac12 \log(2\pi) + \log\sigma
              + \tfrac12 \left(\frac{y - \mu}{\sigma}\right)^2,

    one value per position (not a mean over the two parameters); the batch
    loss is Keras' weighted ``"sum_over_batch_size"`` of the positions, so
    sample weights mean what they mean for the other losses (see
    :mod:`numlstm.losses`). The gradient is

    .. math:: \frac{\partial \ell}{\partial \mu} = \frac{\mu - y}{\sigma^2},
              \qquad
              \frac{\partial \ell}{\partial r} = \left(\frac1\sigma
              - \frac{(y - \mu)^2}{\sigma^3}\right) \operatorname{sigmoid}(r).

    Parameters
    ----------
    min_scale : float, optional
        :math:`\sigma_{min}`, a positive floor of the standard deviation,
        which keeps the likelihood bounded. Defaults to ``1e-3``.

    Attributes
    ----------
    min_scale : float
        The floor of the standard deviation.

    Notes
    -----
    Shapes: ``y_pred`` is ``(..., 2)`` (a ``Dense(2)`` output layer, or
    ``Dense(2 * horizon)`` then ``Reshape((horizon, 2))``); ``y_true`` is
    ``(...)``, the positions' shape, or ``(..., 1)``. The softplus and
    sigmoid are computed stably, so large ``|r|`` gives finite values and
    gradients. :func:`gaussian_parameters` turns the outputs into
    ``(mu, sigma)``.

    Examples
    --------
    >>> import numpy as np
    >>> loss = GaussianNLL(min_scale=1e-12)
    >>> r = np.log(np.e - 1)  # softplus(r) = 1, so sigma = 1; sigmoid(r) = 1 - 1/e = 0.63212
    >>> y_true = np.array([0.0, 2.0])
    >>> y_pred = np.array([[0.0, r], [0.0, r]])
    >>> value, gradient = loss.value_and_gradient(y_true, y_pred)
    >>> round(value, 4)  # 0.5 log(2 pi) = 0.91894, plus 0.5 * 2**2 at the second position; mean of two
    1.9189
    >>> gradient.round(5).tolist()  # [mu - y, (1 - (y - mu)**2) * 0.63212] / 2 positions
    [[0.0, 0.31606], [-1.0, -0.94818]]
    """

    name = "gaussian_nll"

    def __init__(self, min_scale=1e-3):
        self.min_scale = _check_min_scale(min_scale)

    def value_and_gradient(self, y_true, y_pred, sample_weight=None):
        """The loss and its gradient with respect to ``y_pred``.

        Parameters
        ----------
        y_true : array_like
            Targets of shape ``y_pred.shape[:-1]`` or ``y_pred.shape[:-1] + (1,)``.
        y_pred : numpy.ndarray
            The mean and the unconstrained scale of each position, shape
            ``(..., 2)``.
        sample_weight : array_like, optional
            Weights of shape ``(N,)``, of the positions' shape, or a scalar.

        Returns
        -------
        value : float
            The weighted mean over positions of each position's negative
            log-likelihood.
        gradient : numpy.ndarray
            ``d value / d y_pred``, of ``y_pred``'s shape and dtype.
        """
        y_pred = _prediction(y_pred)
        y_true = self._targets_like(y_true, y_pred)
        mu, r = y_pred[..., 0], y_pred[..., 1]
        sigma = _softplus(r) + y_pred.dtype.type(self.min_scale)
        error = y_true - mu
        z = error / sigma
        values = _HALF_LOG_TWO_PI + np.log(sigma) + 0.5 * z * z
        d_values = np.empty_like(y_pred)
        d_values[..., 0] = (mu - y_true) / (sigma * sigma)
        d_values[..., 1] = (1 - z * z) / sigma * _sigmoid(r)
        return self._reduce_positions(values, d_values, y_pred, sample_weight)

    def _targets_like(self, y_true, y_pred):
        """``y_true`` of the positions' shape ``y_pred.shape[:-1]`` and ``y_pred``'s dtype, checked."""
        return self._targets_per_position(y_true, y_pred, 2,
                                          "y_pred must be (..., 2) (the mean and the unconstrained scale)")

    def get_config(self):
        """The arguments that rebuild this loss: ``{"min_scale": ...}``.

        Returns
        -------
        dict
        """
        return {"min_scale": self.min_scale}
