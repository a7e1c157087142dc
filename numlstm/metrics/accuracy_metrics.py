"""Accuracy metrics: categorical, sparse categorical and binary."""

import numpy as np

from .metric import _numbers, _pair
from .reduction_metrics import Mean


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
