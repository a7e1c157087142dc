"""Metrics reported by fit and evaluate, with Keras 3's names, formulas and weighting.

Every metric accumulates over batches with :meth:`Metric.update`
(``update(y_true, y_pred, sample_weight=None)``), reports with
:meth:`Metric.result` and starts again with :meth:`Metric.reset`. Targets of
shape ``(N,)`` are accepted for outputs of shape ``(N, 1)``, as in Keras.

Merging across processes (the state protocol)
---------------------------------------------
A metric's whole state is a flat tuple of floats, ``metric.get_state()``, of
length ``metric.state_size``, and states merge by elementwise **sum**: the
state of the union of two shares of the data is the sum of their states. So
data-parallel evaluation reduces ``[loss_total, *m1.get_state(),
*m2.get_state(), ...]`` with one sum over the ranks and gives each metric back
its slice with ``metric.set_state(*values)``. ``state_size`` is fixed per
metric instance once the metric knows the width of the model's output: only
:class:`R2Score` (one set of sums per output column) needs that, which
``metric.build(output_shape)`` tells it (a no-op for every other metric;
call it on every rank before ``get_state()``, since a rank with no data never
updates its metrics).

Sample weights follow Keras' ``Mean`` metrics: a weight of shape ``(N,)``
weights each sample's mean over its positions, and the result is the
weighted sum over the weights' sum; weights of the positions' shape
(``(N, T)`` for sequence outputs) weight each position. They must be finite
and non-negative.

Examples
--------
>>> import numpy as np
>>> from numlstm import metrics
>>> m = metrics.MeanAbsoluteError()
>>> m.update(np.array([1.0, 2.0]), np.array([[1.5], [2.0]]), sample_weight=[1.0, 3.0])
>>> m.name, m.result()
('mean_absolute_error', 0.125)
>>> m.get_state(), m.state_size
((0.5, 4.0), 2)
"""

from .accuracy_metrics import BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy
from .confusion_metrics import AUC, Precision, Recall
from .metric import Metric
from .reduction_metrics import Mean, MeanMetricWrapper
from .regression_metrics import (MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredError, R2Score,
                                 RootMeanSquaredError)

__all__ = ["Metric", "Mean", "MeanMetricWrapper", "MeanAbsoluteError", "MeanSquaredError",
           "MeanAbsolutePercentageError", "RootMeanSquaredError", "R2Score", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "BinaryAccuracy", "Precision", "Recall", "AUC", "get"]


_BY_NAME = {
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "rmse": RootMeanSquaredError, "root_mean_squared_error": RootMeanSquaredError,
    "mape": MeanAbsolutePercentageError, "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "categorical_accuracy": CategoricalAccuracy, "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy, "precision": Precision, "recall": Recall, "auc": AUC,
    "r2_score": R2Score,
}


def get(identifier, loss_name=None):
    """A metric from its name, a :class:`Metric` instance or subclass, or a function.

    Parameters
    ----------
    identifier : str or Metric or type or callable
        A name (``"mae"``, ``"precision"``, ``"auc"``, ...; the metric is
        reported under this string), ``"accuracy"``/``"acc"`` (resolved by
        the loss, as numlstm has always done: binary for binary
        crossentropy, sparse for sparse categorical crossentropy, else
        categorical), a metric instance (returned as it is), a Metric
        subclass (instantiated), or a function ``fn(y_true, y_pred)`` of
        per-sample values (wrapped in :class:`MeanMetricWrapper`).
    loss_name : str, optional
        The compiled loss's name, for ``"accuracy"``.

    Returns
    -------
    Metric

    Examples
    --------
    >>> get("mae").name, get(MeanAbsoluteError).name
    ('mae', 'mean_absolute_error')
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        name = identifier
        if identifier in ("accuracy", "acc"):
            name = {"sparse_categorical_crossentropy": "sparse_categorical_accuracy",
                    "binary_crossentropy": "binary_accuracy"}.get(loss_name, "categorical_accuracy")
        if name not in _BY_NAME:
            raise ValueError(f"unknown metric {identifier!r}; valid names: accuracy, {', '.join(sorted(_BY_NAME))}")
        return _BY_NAME[name](name=identifier)
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise TypeError(f"metric must be a name, a Metric or a function, got {type(identifier).__name__}")
