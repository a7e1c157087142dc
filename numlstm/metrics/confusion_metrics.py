"""Metrics from confusion counts at thresholds: precision, recall and the area under a curve."""

import numpy as np

from ..losses import EPSILON
from .metric import Metric, _numbers, _same_rank, _weights_like


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

    Examples
    --------
    >>> import numpy as np
    >>> m = Precision()
    >>> m.update(np.array([1.0, 0.0, 1.0]), np.array([[0.9], [0.6], [0.4]]))
    >>> m.result()  # one true positive of two predicted positives
    0.5
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

    Examples
    --------
    >>> import numpy as np
    >>> m = Recall()
    >>> m.update(np.array([1.0, 0.0, 1.0]), np.array([[0.9], [0.6], [0.4]]))
    >>> m.result()  # one of the two positives found
    0.5
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

    Examples
    --------
    >>> import numpy as np
    >>> m = AUC()
    >>> m.update(np.array([0.0, 0.0, 1.0, 1.0]), np.array([[0.1], [0.4], [0.35], [0.8]]))
    >>> round(m.result(), 4)
    0.75
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
