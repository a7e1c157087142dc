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

import warnings

import numpy as np

from .losses import EPSILON, check_sample_weight


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
    :meth:`get_state` and :meth:`set_state`; see the module's docstring for
    the state protocol.
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
        """The metric over every update since the last :meth:`reset`, as a float."""
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
        """Keras' name for :meth:`reset`."""
        self.reset()

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


class Mean(Metric):
    """The (weighted) mean of per-sample values, as Keras' ``Mean`` metrics compute it.

    Subclasses give ``_values(y_true, y_pred)``: values whose first axis
    holds the samples. Each sample's value is the mean over its other axes;
    the result is ``total / count`` with ``total`` the (weighted) sum of
    those and ``count`` the number of samples (or the sum of the weights),
    0.0 before any update (Keras' ``divide_no_nan``). State: ``(total,
    count)``.
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
    """

    def __init__(self, fn, name=None):
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        self._fn = fn
        super().__init__(name if name is not None else getattr(fn, "__name__", "mean_metric_wrapper"))

    def _values(self, y_true, y_pred):
        return self._fn(np.asarray(y_true), np.asarray(y_pred))


class MeanAbsoluteError(Mean):
    """Mean of ``abs(y_true - y_pred)`` (``"mae"``; default name ``"mean_absolute_error"``)."""

    default_name = "mean_absolute_error"

    def _values(self, y_true, y_pred):
        y_true, y_pred = _pair(y_true, y_pred)
        return np.abs(y_true - y_pred).mean(axis=-1)


class MeanSquaredError(Mean):
    """Mean of ``(y_true - y_pred) ** 2`` (``"mse"``; default name ``"mean_squared_error"``)."""

    default_name = "mean_squared_error"

    def _values(self, y_true, y_pred):
        y_true, y_pred = _pair(y_true, y_pred)
        return np.square(y_true - y_pred).mean(axis=-1)


class MeanAbsolutePercentageError(Mean):
    """``100 * mean(abs((y_true - y_pred) / max(abs(y_true), 1e-7)))`` (``"mape"``).

    Default name ``"mean_absolute_percentage_error"``.
    """

    default_name = "mean_absolute_percentage_error"

    def _values(self, y_true, y_pred):
        y_true, y_pred = _pair(y_true, y_pred)
        return 100.0 * np.abs((y_true - y_pred) / np.maximum(np.abs(y_true), EPSILON)).mean(axis=-1)


class RootMeanSquaredError(Mean):
    """Square root of the mean of ``(y_true - y_pred) ** 2`` (``"rmse"``).

    Default name ``"root_mean_squared_error"``. As in Keras, the squared
    errors are averaged elementwise, then the root is taken of the mean.
    """

    default_name = "root_mean_squared_error"

    def _values(self, y_true, y_pred):
        y_true, y_pred = _pair(y_true, y_pred)
        return np.square(y_pred - y_true)

    def result(self):
        return float(np.sqrt(super().result()))


class CategoricalAccuracy(Mean):
    """How often the argmax of ``y_pred`` is the argmax of one-hot ``y_true``.

    Default name ``"categorical_accuracy"``.
    """

    default_name = "categorical_accuracy"

    def _values(self, y_true, y_pred):
        y_true, y_pred = _numbers(y_true, "y_true"), _numbers(y_pred, "y_pred")
        return (y_true.argmax(axis=-1) == y_pred.argmax(axis=-1)).astype(np.float64)


class SparseCategoricalAccuracy(Mean):
    """How often the argmax of ``y_pred`` equals the integer label ``y_true``.

    Default name ``"sparse_categorical_accuracy"``; labels of shape
    ``y_pred.shape[:-1]`` or with a trailing axis of length 1.
    """

    default_name = "sparse_categorical_accuracy"

    def _values(self, y_true, y_pred):
        labels, y_pred = _numbers(y_true, "y_true"), _numbers(y_pred, "y_pred")
        if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
            labels = labels[..., 0]
        matches = (labels == y_pred.argmax(axis=-1)).astype(np.float64)
        return matches[..., 0] if matches.ndim > 1 and matches.shape[-1] == 1 else matches


class BinaryAccuracy(Mean):
    """How often ``y_true`` equals ``y_pred > threshold`` (elementwise), as in Keras.

    Parameters
    ----------
    name : str, optional
        Defaults to ``"binary_accuracy"``.
    threshold : float, optional
        Predictions above it count as 1. Defaults to 0.5.
    """

    default_name = "binary_accuracy"

    def __init__(self, name=None, threshold=0.5):
        self.threshold = float(threshold)
        super().__init__(name)

    def _values(self, y_true, y_pred):
        y_true, y_pred = _pair(y_true, y_pred)
        return (y_true == (y_pred > self.threshold)).astype(np.float64)


class _Confusion(Metric):
    """Counts of a confusion matrix at thresholds, as Keras' ``update_confusion_matrix_variables``: a
    prediction is positive above a threshold, a label is positive when non-zero."""

    def __init__(self, thresholds=None, class_id=None, name=None):
        if thresholds is None:
            thresholds = 0.5
        self._single = np.ndim(thresholds) == 0
        values = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
        if values.ndim != 1 or not values.size or np.any((values < 0) | (values > 1)):
            raise ValueError(f"thresholds must be a float or a list of floats in [0, 1], got {thresholds!r}")
        if class_id is not None and (isinstance(class_id, bool) or not isinstance(class_id, (int, np.integer))):
            raise TypeError(f"class_id must be an int or None, got {class_id!r}")
        self.thresholds = values
        self.class_id = class_id
        super().__init__(name)

    def _counts(self, y_true, y_pred, sample_weight):
        """(tp, fp, fn) per threshold for this batch."""
        y_pred, y_true = _same_rank(_numbers(y_pred, "y_pred"), _numbers(y_true, "y_true"))
        if y_true.shape != y_pred.shape:
            raise ValueError(f"{self.name}: y_true has shape {y_true.shape} but y_pred has {y_pred.shape}")
        weights = np.ones(y_pred.shape) if sample_weight is None else _weights_like(sample_weight, y_pred.shape,
                                                                                    self.name)
        if self.class_id is not None:
            if y_pred.ndim < 2:
                raise ValueError(f"{self.name}: class_id needs y_pred of shape (samples, classes), got {y_pred.shape}")
            column = (Ellipsis, self.class_id)
            y_true, y_pred, weights = y_true[column], y_pred[column], weights[column]
        label = (y_true != 0).reshape(-1)
        weights = weights.reshape(-1)
        positive = y_pred.reshape(1, -1) > self.thresholds[:, None]
        tp = (positive & label) @ weights
        fp = (positive & ~label) @ weights
        fn = (~positive & label) @ weights
        return tp, fp, fn

    def _report(self, values):
        return float(values[0]) if self._single else [float(v) for v in values]


class Precision(_Confusion):
    """``true_positives / (true_positives + false_positives)`` at ``thresholds``.

    Parameters
    ----------
    thresholds : float or list of float, optional
        Predictions above a threshold are positive. Defaults to 0.5. With a
        list, ``result()`` gives a list.
    class_id : int, optional
        Only this class (last axis of ``y_pred``) is counted.
    name : str, optional
        Defaults to ``"precision"``.
    """

    default_name = "precision"

    def reset(self):
        self._tp = np.zeros(len(self.thresholds))
        self._fp = np.zeros(len(self.thresholds))

    def update(self, y_true, y_pred, sample_weight=None):
        tp, fp, _ = self._counts(y_true, y_pred, sample_weight)
        self._tp += tp
        self._fp += fp

    def result(self):
        total = self._tp + self._fp
        return self._report(np.divide(self._tp, total, out=np.zeros_like(total), where=total != 0))

    def get_state(self):
        """``(*true_positives, *false_positives)``, one of each per threshold."""
        return tuple(float(v) for v in np.concatenate([self._tp, self._fp]))

    def set_state(self, *values):
        values = self._check_state(values)
        self._tp, self._fp = np.split(np.asarray(values), 2)

    @property
    def state_size(self):
        return 2 * len(self.thresholds)


class Recall(_Confusion):
    """``true_positives / (true_positives + false_negatives)`` at ``thresholds``.

    Parameters
    ----------
    thresholds : float or list of float, optional
        Predictions above a threshold are positive. Defaults to 0.5.
    class_id : int, optional
        Only this class (last axis of ``y_pred``) is counted.
    name : str, optional
        Defaults to ``"recall"``.
    """

    default_name = "recall"

    def reset(self):
        self._tp = np.zeros(len(self.thresholds))
        self._fn = np.zeros(len(self.thresholds))

    def update(self, y_true, y_pred, sample_weight=None):
        tp, _, fn = self._counts(y_true, y_pred, sample_weight)
        self._tp += tp
        self._fn += fn

    def result(self):
        total = self._tp + self._fn
        return self._report(np.divide(self._tp, total, out=np.zeros_like(total), where=total != 0))

    def get_state(self):
        """``(*true_positives, *false_negatives)``, one of each per threshold."""
        return tuple(float(v) for v in np.concatenate([self._tp, self._fn]))

    def set_state(self, *values):
        values = self._check_state(values)
        self._tp, self._fn = np.split(np.asarray(values), 2)

    @property
    def state_size(self):
        return 2 * len(self.thresholds)


def _no_nan_divide(a, b):
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b != 0)


class AUC(Metric):
    """Area under the ROC (or precision-recall) curve, computed as Keras 3 computes it.

    The curve is sampled at ``num_thresholds`` evenly spaced thresholds
    (``[-1e-7, 1/(n-1), ..., (n-2)/(n-1), 1 + 1e-7]``); predictions are
    clipped to ``[0, 1]``, labels are positive when non-zero, and the area is a
    Riemann sum (trapezoids for ``"interpolation"``; for the PR curve Keras'
    interpolation of Davis & Goadrich).

    Parameters
    ----------
    num_thresholds : int, optional
        Defaults to 200 (Keras' default); at least 2.
    curve : {"ROC", "PR"}, optional
        Defaults to ``"ROC"``.
    summation_method : {"interpolation", "minoring", "majoring"}, optional
        Defaults to ``"interpolation"``.
    name : str, optional
        Defaults to ``"auc"``.
    from_logits : bool, optional
        Whether ``y_pred`` holds logits (a sigmoid is applied first).

    Notes
    -----
    State: ``(*true_positives, *false_positives, *true_negatives,
    *false_negatives)``, ``4 * num_thresholds`` floats.
    """

    default_name = "auc"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None,
                 from_logits=False):
        if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, (int, np.integer)) or num_thresholds < 2:
            raise ValueError(f"num_thresholds must be an integer > 1, got {num_thresholds!r}")
        curve = curve.upper() if isinstance(curve, str) else curve
        if curve not in ("ROC", "PR"):
            raise ValueError(f"curve must be 'ROC' or 'PR', got {curve!r}")
        method = summation_method.lower() if isinstance(summation_method, str) else summation_method
        if method not in ("interpolation", "minoring", "majoring"):
            raise ValueError("summation_method must be 'interpolation', 'minoring' or 'majoring', "
                             f"got {summation_method!r}")
        self.num_thresholds = int(num_thresholds)
        self.curve, self.summation_method, self.from_logits = curve, method, bool(from_logits)
        inner = [(i + 1) * 1.0 / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)]
        self.thresholds = np.array([0.0 - EPSILON] + inner + [1.0 + EPSILON])
        super().__init__(name)

    def reset(self):
        self._tp, self._fp, self._tn, self._fn = (np.zeros(self.num_thresholds) for _ in range(4))

    def update(self, y_true, y_pred, sample_weight=None):
        y_pred, y_true = _same_rank(_numbers(y_pred, "y_pred"), _numbers(y_true, "y_true"))
        if y_true.shape != y_pred.shape:
            raise ValueError(f"{self.name}: y_true has shape {y_true.shape} but y_pred has {y_pred.shape}")
        if self.from_logits:
            y_pred = 0.5 * np.tanh(0.5 * y_pred) + 0.5
        weights = (np.ones(y_pred.shape) if sample_weight is None
                   else _weights_like(sample_weight, y_pred.shape, self.name)).reshape(-1)
        label = (y_true != 0).reshape(-1).astype(np.float64)
        prediction = np.clip(y_pred, 0.0, 1.0).reshape(-1)
        # Keras' bucketing for evenly spaced thresholds: a prediction in (t_(i), t_(i+1)] counts for t_0..t_i.
        buckets = np.maximum(np.ceil(prediction * (self.num_thresholds - 1)) - 1, 0).astype(np.int64)
        true_labels, false_labels = label * weights, (1.0 - label) * weights
        tp = np.bincount(buckets, true_labels, self.num_thresholds)[::-1].cumsum()[::-1]
        fp = np.bincount(buckets, false_labels, self.num_thresholds)[::-1].cumsum()[::-1]
        self._tp += tp
        self._fp += fp
        self._tn += false_labels.sum() - fp
        self._fn += true_labels.sum() - tp

    def _interpolate_pr(self):
        tp, fp, fn = self._tp, self._fp, self._fn
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _no_nan_divide(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _no_nan_divide(p[:-1], np.maximum(p[1:], 0)), 1.0)
        with np.errstate(divide="ignore"):
            log_ratio = np.log(np.where(ratio > 0, ratio, 1.0))
        increments = _no_nan_divide(slope * (dtp + intercept * log_ratio), np.maximum(tp[1:] + fn[1:], 0))
        return float(increments.sum())

    def result(self):
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr()
        recall = _no_nan_divide(self._tp, self._tp + self._fn)
        if self.curve == "ROC":
            x, y = _no_nan_divide(self._fp, self._fp + self._tn), recall
        else:
            x, y = recall, _no_nan_divide(self._tp, self._tp + self._fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return float(((x[:-1] - x[1:]) * heights).sum())

    def get_state(self):
        """``(*tp, *fp, *tn, *fn)``, ``num_thresholds`` of each."""
        return tuple(float(v) for v in np.concatenate([self._tp, self._fp, self._tn, self._fn]))

    def set_state(self, *values):
        values = self._check_state(values)
        self._tp, self._fp, self._tn, self._fn = np.split(np.asarray(values), 4)

    @property
    def state_size(self):
        return 4 * self.num_thresholds


class R2Score(Metric):
    """Coefficient of determination, ``1 - sum((y - y_pred)**2) / sum((y - mean(y))**2)``, per output column.

    Keras' ``R2Score``: outputs must be 2-D ``(N, F)`` (targets ``(N,)`` are
    accepted for ``F == 1``); sample weights of shape ``(N,)`` or ``(N, F)``.

    Parameters
    ----------
    class_aggregation : {"uniform_average", "variance_weighted_average", None}, optional
        How the columns' scores combine. ``None`` reports a list (one score
        per column). Defaults to ``"uniform_average"``.
    num_regressors : int, optional
        For the adjusted R2 score; 0 (the default) for the plain score.
    name : str, optional
        Defaults to ``"r2_score"``.

    Notes
    -----
    State: ``(*sum, *squared_sum, *residual, *count, num_samples)``, ``4 * F
    + 1`` floats; the width ``F`` comes from :meth:`build` or the first
    update.
    """

    default_name = "r2_score"

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name=None):
        if class_aggregation not in (None, "uniform_average", "variance_weighted_average"):
            raise ValueError("class_aggregation must be None, 'uniform_average' or 'variance_weighted_average', "
                             f"got {class_aggregation!r}")
        if isinstance(num_regressors, bool) or not isinstance(num_regressors, (int, np.integer)) or num_regressors < 0:
            raise ValueError(f"num_regressors must be an integer >= 0, got {num_regressors!r}")
        self.class_aggregation, self.num_regressors = class_aggregation, int(num_regressors)
        self._width = None
        super().__init__(name)

    def build(self, output_shape):
        width = tuple(output_shape)[-1] if len(tuple(output_shape)) else None
        if len(tuple(output_shape)) == 1:  # (N,) outputs are one column
            width = 1
        if not isinstance(width, (int, np.integer)) or width < 1:
            raise ValueError(f"{self.name}: output_shape must end in the number of columns, got {output_shape!r}")
        if self._width is not None and self._width != width:
            raise ValueError(f"{self.name}: built for {self._width} columns, got output_shape {output_shape!r}")
        if self._width is None:
            self._width = int(width)
            self.reset()

    def reset(self):
        width = self._width or 0
        self._sum, self._squared_sum, self._residual, self._count = (np.zeros(width) for _ in range(4))
        self._samples = 0.0

    def update(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _pair(y_true, y_pred)
        if y_true.ndim != 2 or y_pred.ndim != 2 or y_true.shape != y_pred.shape:
            raise ValueError(f"{self.name} expects 2-D inputs (samples, outputs), got y_true {y_true.shape} and "
                             f"y_pred {y_pred.shape}")
        self.build(y_pred.shape)
        weights = np.ones(y_true.shape) if sample_weight is None else _weights_like(sample_weight, y_true.shape,
                                                                                    self.name)
        weighted = y_true * weights
        self._sum += weighted.sum(axis=0)
        self._squared_sum += (y_true * weighted).sum(axis=0)
        self._residual += ((y_true - y_pred) ** 2 * weights).sum(axis=0)
        self._count += weights.sum(axis=0)
        self._samples += y_true.size

    def result(self):
        if self._width is None:
            return 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self._sum / self._count
            total = self._squared_sum - self._sum * mean
            raw = 1 - self._residual / total
        raw = np.where(np.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            score = float(raw.mean())
        elif self.class_aggregation == "variance_weighted_average":
            with np.errstate(divide="ignore", invalid="ignore"):
                score = float((total * raw).sum() / total.sum())
        else:
            score = raw
        if self.num_regressors:
            n, p = self._samples, self.num_regressors
            if p > n - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 score. "
                              "Falling back to standard R2 score.", stacklevel=2)
            elif p == n - 1:
                warnings.warn("Division by zero in Adjusted R2 score. Falling back to standard R2 score.",
                              stacklevel=2)
            else:
                score = 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0)
        return [float(v) for v in score] if isinstance(score, np.ndarray) else float(score)

    def get_state(self):
        """``(*sum, *squared_sum, *residual, *count, num_samples)``; needs :meth:`build` or an update first."""
        if self._width is None:
            raise ValueError(f"{self.name}: call build(output_shape) (or update) before get_state: "
                             "the state holds one set of sums per output column")
        return tuple(float(v) for v in np.concatenate(
            [self._sum, self._squared_sum, self._residual, self._count, [self._samples]]))

    def set_state(self, *values):
        values = np.asarray(self._check_state(values))
        self._sum, self._squared_sum, self._residual, self._count = np.split(values[:-1], 4)
        self._samples = float(values[-1])

    @property
    def state_size(self):
        if self._width is None:
            raise ValueError(f"{self.name}: the state size is known once built (build(output_shape) or update)")
        return 4 * self._width + 1


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
