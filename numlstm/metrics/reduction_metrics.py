"""Metrics that average a per-sample value: ``Mean`` and the wrapper of a plain function."""

import numpy as np

from ..losses import check_sample_weight
from .metric import Metric, _per_sample_mean, _weights_like


class Mean(Metric):
    """The (weighted) mean of per-sample values, as Keras' ``Mean`` metrics compute it.

    Subclasses give ``_values(y_true, y_pred)``: values whose first axis
    holds the samples. Each sample's value is the mean over its other axes;
    the result is ``total / count`` with ``total`` the (weighted) sum of
    those and ``count`` the number of samples (or the sum of the weights),
    0.0 before any update (Keras' ``divide_no_nan``). State: ``(total,
    count)``.

    Examples
    --------
    A subclass gives the per-sample values:

    >>> import numpy as np
    >>> class MeanPrediction(Mean):
    ...     default_name = "mean_prediction"
    ...     def _values(self, y_true, y_pred):
    ...         return np.asarray(y_pred).mean(axis=-1)
    >>> m = MeanPrediction()
    >>> m.update(None, np.array([[1.0], [2.0], [6.0]]))
    >>> m.result(), m.get_state()
    (3.0, (9.0, 3.0))
    """

    def reset(self):
        self._total = 0.0
        self._count = 0.0

    def update(self, y_true, y_pred, sample_weight=None):
        values = np.asarray(self._values(y_true, y_pred), dtype=np.float64)
        if sample_weight is None:
            per_sample = _per_sample_mean(values) if values.ndim > 1 else values
            self._total += float(per_sample.sum())
            self._count += float(per_sample.size if values.ndim else 1)
            return
        weights = check_sample_weight(sample_weight)
        if weights.ndim == 0:  # Keras: a scalar weight weighs the batch's mean once
            self._total += float(values.mean() * weights) if values.size else 0.0
            self._count += float(weights)
            return
        if values.ndim == 0:
            raise ValueError(f"{self.name}: sample_weight must be a scalar for values without a batch axis")
        weights = _weights_like(weights, values.shape, self.name)
        self._total += float(_per_sample_mean(values * weights).sum())
        self._count += float(_per_sample_mean(weights).sum())

    def result(self):
        return self._total / self._count if self._count else 0.0

    def get_state(self):
        """``(total, count)``."""
        return self._total, self._count

    def set_state(self, *values):
        self._total, self._count = self._check_state(values)

    @property
    def state_size(self):
        return 2

    def _values(self, y_true, y_pred):
        raise NotImplementedError


class MeanMetricWrapper(Mean):
    """A :class:`Mean` of a function's per-sample values (Keras' ``MeanMetricWrapper``).

    Parameters
    ----------
    fn : callable
        ``fn(y_true, y_pred)`` returning an array whose first axis holds the
        samples (e.g. ``numpy.abs(y_pred - y_true).mean(axis=-1)``).
    name : str, optional
        Defaults to the function's ``__name__``.

    Examples
    --------
    >>> import numpy as np
    >>> m = MeanMetricWrapper(lambda y_true, y_pred: np.abs(y_pred - y_true).max(axis=-1), name="max_error")
    >>> m.update(np.array([[0.0, 1.0]]), np.array([[0.5, 3.0]]))
    >>> m.name, m.result()
    ('max_error', 2.0)
    """

    def __init__(self, fn, name=None):
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        self._fn = fn
        super().__init__(name if name is not None else getattr(fn, "__name__", "mean_metric_wrapper"))

    def _values(self, y_true, y_pred):
        return self._fn(np.asarray(y_true), np.asarray(y_pred))
