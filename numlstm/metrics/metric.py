"""The base class of the metrics and the checks of their arguments (Keras' rank and weight rules).

See :mod:`numlstm.metrics` for the state protocol.
"""

import numpy as np

from ..losses import check_sample_weight


def _same_rank(x1, x2, expand_rank_1=True):
    """Keras' ``squeeze_or_expand_to_same_rank``: squeeze or expand a last axis of length 1 when the ranks
    differ by one."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    elif x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _numbers(values, argument):
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{argument} must hold numbers, got an array of dtype {array.dtype}")
    return array.astype(np.float64, copy=False)


def _pair(y_true, y_pred):
    """``y_true`` and ``y_pred`` as float64 arrays of one rank (Keras' squeeze or expand of a last axis of
    length 1)."""
    y_true, y_pred = _same_rank(_numbers(y_true, "y_true"), _numbers(y_pred, "y_pred"))
    try:
        np.broadcast_shapes(y_true.shape, y_pred.shape)
    except ValueError:
        raise ValueError(f"y_true has shape {y_true.shape}, which does not match y_pred's {y_pred.shape}") from None
    return y_true, y_pred


def _weights_like(sample_weight, shape, who):
    """The sample weights, checked and broadcast to ``shape`` (whose first axis holds the samples): a
    scalar, shape ``(N,)`` (per sample), a leading part of ``shape`` (per position; its axes of length 1
    broadcast), or ``shape`` itself, which may carry an extra trailing axis of length 1."""
    weights = check_sample_weight(sample_weight)
    if weights.ndim == 0:
        return np.broadcast_to(weights, shape)
    if not shape or weights.shape[0] != shape[0]:
        raise ValueError(f"{who}: sample_weight must hold one weight per sample "
                         f"({shape[0] if shape else 'no batch axis'}), got shape {weights.shape}")
    if weights.ndim == len(shape) + 1 and weights.shape[-1] == 1:
        weights = weights[..., 0]
    if weights.ndim > len(shape) or any(w not in (1, n) for w, n in zip(weights.shape, shape)):
        raise ValueError(f"{who}: sample_weight must have shape ({shape[0]},) or a leading part of {tuple(shape)}, "
                         f"got {weights.shape}")
    return np.broadcast_to(weights.reshape(weights.shape + (1,) * (len(shape) - weights.ndim)), shape)


def _per_sample_mean(values):
    """The mean over every axis but the first."""
    return values.mean(axis=tuple(range(1, values.ndim))) if values.ndim > 1 else values


class Metric:
    """Base class: accumulates a state over batches; ``result()`` reports it.

    Parameters
    ----------
    name : str, optional
        The name under which fit and evaluate report the metric. Defaults to
        Keras' name of the metric (e.g. ``"mean_absolute_error"``).

    Notes
    -----
    Subclasses implement :meth:`reset`, :meth:`update`, :meth:`result`,
    :meth:`get_state` and :meth:`set_state`; see :mod:`numlstm.metrics` for
    the state protocol.

    Examples
    --------
    A metric counting the samples it has seen: a state of one float.

    >>> import numpy as np
    >>> class SampleCount(Metric):
    ...     default_name = "samples"
    ...     def reset(self):
    ...         self.count = 0.0
    ...     def update(self, y_true, y_pred, sample_weight=None):
    ...         self.count += len(y_pred)
    ...     def result(self):
    ...         return self.count
    ...     def get_state(self):
    ...         return (self.count,)
    ...     def set_state(self, *values):
    ...         (self.count,) = values
    ...     @property
    ...     def state_size(self):
    ...         return 1
    >>> m = SampleCount()
    >>> m.update(None, np.zeros((3, 1)))
    >>> m.name, m.result()
    ('samples', 3.0)
    """

    default_name = None

    def __init__(self, name=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, got {type(name).__name__}")
        self.name = name if name is not None else self.default_name
        self.reset()

    def build(self, output_shape):
        """Prepare for outputs of ``output_shape`` (e.g. ``(None, F)``); fixes :attr:`state_size`.

        A no-op except for metrics whose state depends on the output's width
        (:class:`R2Score`).

        Parameters
        ----------
        output_shape : tuple
            The model's output shape, batch axis first (``None`` allowed there).
        """

    def reset(self):
        """Forget every update."""
        raise NotImplementedError

    def update(self, y_true, y_pred, sample_weight=None):
        """Accumulate one batch.

        Parameters
        ----------
        y_true : array_like
            Targets.
        y_pred : array_like
            The model's outputs for them.
        sample_weight : array_like, optional
            Non-negative weights: shape ``(N,)``, the positions' shape, or a
            scalar.
        """
        raise NotImplementedError

    def result(self):
        """The metric over every update since the last :meth:`~numlstm.metrics.Metric.reset`, as a float."""
        raise NotImplementedError

    def get_state(self):
        """The state as a flat tuple of ``state_size`` floats; states of disjoint data add up."""
        raise NotImplementedError

    def set_state(self, *values):
        """Replace the state with ``values`` (``state_size`` floats, as :meth:`get_state` gives them)."""
        raise NotImplementedError

    @property
    def state_size(self):
        """The length of :meth:`get_state`'s tuple (fixed for this instance once built)."""
        return len(self.get_state())

    def _check_state(self, values):
        if len(values) != self.state_size:
            raise ValueError(f"{self.name}: set_state needs {self.state_size} values, got {len(values)}")
        return [float(v) for v in values]

    # Keras' spellings
    def update_state(self, y_true, y_pred, sample_weight=None):
        """Keras' name for :meth:`update`."""
        self.update(y_true, y_pred, sample_weight)

    def reset_state(self):
        """Keras' name for :meth:`~numlstm.metrics.Metric.reset`."""
        self.reset()

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"
