"""The quantile (pinball) loss, which trains one output per quantile level for quantile regression."""

import itertools
import numbers

import numpy as np

from .loss import Loss, _prediction


def _check_quantiles(quantiles, what="quantiles"):
    """``quantiles`` as a tuple of floats, checked: non-empty, strictly increasing, each in (0, 1).

    Parameters
    ----------
    quantiles : sequence of float
        The levels.
    what : str, optional
        The argument's name, for the error messages.

    Returns
    -------
    tuple of float

    Raises
    ------
    ValueError
        For anything else.
    """
    if isinstance(quantiles, (str, bytes)) or not hasattr(quantiles, "__iter__"):
        raise ValueError(f"{what} must be a sequence of levels in (0, 1), got {quantiles!r}")
    levels = list(quantiles)
    if not levels:
        raise ValueError(f"{what} must hold at least one level, got an empty sequence")
    for level in levels:
        # bool is a Number, but True as a level is a mistake, not 1.0
        if isinstance(level, bool) or not isinstance(level, numbers.Real):
            raise ValueError(f"{what} must hold numbers, got {level!r}")
        if not 0.0 < float(level) < 1.0:
            raise ValueError(f"{what} must lie strictly between 0 and 1, got {level!r}")
    levels = tuple(float(level) for level in levels)
    if any(b <= a for a, b in itertools.pairwise(levels)):
        raise ValueError(f"{what} must be strictly increasing, got {list(levels)}")
    return levels


class QuantileLoss(Loss):
    r"""The pinball loss of quantile regression, one output per level (``"quantile_loss"``, ``"pinball_loss"``).

    For the level :math:`q` and the error :math:`u = y_{true} - y_{pred}`
    the elementwise term is

    .. math:: \rho_q(u) = \max(q u, (q - 1) u),

    whose expectation is smallest where :math:`y_{pred}` is the
    :math:`q`-quantile of :math:`y_{true}`. Its derivative with respect to
    :math:`y_{pred}` is :math:`-q` where :math:`y_{true} > y_{pred}` and
    :math:`1 - q` where :math:`y_{true} \le y_{pred}` (at a tie, where the
    term has a kink, the right-hand derivative :math:`1 - q` is taken).

    The loss of a position is the mean of the term over the levels; the
    batch loss is Keras' weighted ``"sum_over_batch_size"`` of the positions,
    so sample weights mean what they mean for the other losses (see
    :mod:`numlstm.losses`).

    Parameters
    ----------
    quantiles : sequence of float, optional
        The levels, strictly increasing, each in (0, 1). Defaults to
        ``(0.1, 0.5, 0.9)``.

    Attributes
    ----------
    quantiles : tuple of float
        The levels, in the order of the output's last axis.

    Notes
    -----
    Shapes: ``y_pred`` is ``(..., Q)`` with ``Q = len(quantiles)``, one output
    per level (a ``Dense(Q)`` output layer); ``y_true`` is ``(...)``, the
    positions' shape, or ``(..., 1)``, and is compared with every level.
    Nothing keeps the learnt quantiles from crossing; they rarely do once
    trained.

    Examples
    --------
    >>> import numpy as np
    >>> loss = QuantileLoss((0.25, 0.75))
    >>> y_true = np.array([2.0, 0.0])
    >>> y_pred = np.array([[0.0, 4.0], [1.0, 3.0]])
    >>> value, gradient = loss.value_and_gradient(y_true, y_pred)
    >>> value  # ((0.25 * 2 + 0.25 * 2) / 2 + (0.75 * 1 + 0.25 * 3) / 2) / 2
    0.625
    >>> gradient.tolist()  # [[-0.25, 0.25], [0.75, 0.25]] / (2 levels * 2 positions)
    [[-0.0625, 0.0625], [0.1875, 0.0625]]
    """

    name = "quantile_loss"

    def __init__(self, quantiles=(0.1, 0.5, 0.9)):
        self.quantiles = _check_quantiles(quantiles)

    def value_and_gradient(self, y_true, y_pred, sample_weight=None):
        """The loss and its gradient with respect to ``y_pred``.

        Parameters
        ----------
        y_true : array_like
            Targets of shape ``y_pred.shape[:-1]`` or ``y_pred.shape[:-1] + (1,)``.
        y_pred : numpy.ndarray
            One output per level, shape ``(..., len(quantiles))``.
        sample_weight : array_like, optional
            Weights of shape ``(N,)``, of the positions' shape, or a scalar.

        Returns
        -------
        value : float
            The weighted mean over positions of each position's mean pinball
            loss over the levels.
        gradient : numpy.ndarray
            ``d value / d y_pred``, of ``y_pred``'s shape and dtype.
        """
        y_pred = _prediction(y_pred)
        y_true = self._targets_like(y_true, y_pred)
        levels = np.asarray(self.quantiles, dtype=y_pred.dtype)
        error = y_true - y_pred
        term = np.maximum(levels * error, (levels - 1) * error)
        derivative = np.where(error > 0, -levels, 1 - levels)
        return self._reduce_positions(term.mean(axis=-1), derivative / len(levels), y_pred, sample_weight)

    def _targets_like(self, y_true, y_pred):
        """``y_true`` broadcast to ``y_pred``'s shape and dtype, checked: it has one value per position."""
        width = len(self.quantiles)
        positions = self._targets_per_position(y_true, y_pred, width,
                                               f"with Q = {width} quantiles y_pred must be (..., {width})")
        return np.broadcast_to(positions[..., None], y_pred.shape)

    def get_config(self):
        """The arguments that rebuild this loss: ``{"quantiles": [...]}``.

        Returns
        -------
        dict
        """
        return {"quantiles": list(self.quantiles)}
