"""Accuracy metrics: categorical, sparse categorical and binary."""

import numpy as np

from .metric import _numbers, _pair
from .reduction_metrics import Mean


class CategoricalAccuracy(Mean):
    """How often the argmax of ``y_pred`` is the argmax of one-hot ``y_true``.

    Default name ``"categorical_accuracy"``.

    Examples
    --------
    >>> import numpy as np
    >>> m = CategoricalAccuracy()
    >>> m.update(np.array([[0, 1], [1, 0]]), np.array([[0.2, 0.8], [0.3, 0.7]]))
    >>> m.result()
    0.5
    """

    default_name = "categorical_accuracy"

    def _values(self, y_true, y_pred):
        y_true, y_pred = _numbers(y_true, "y_true"), _numbers(y_pred, "y_pred")
        return (y_true.argmax(axis=-1) == y_pred.argmax(axis=-1)).astype(np.float64)


class SparseCategoricalAccuracy(Mean):
    """How often the argmax of ``y_pred`` equals the integer label ``y_true``.

    Default name ``"sparse_categorical_accuracy"``; labels of shape
    ``y_pred.shape[:-1]`` or with a trailing axis of length 1.

    Examples
    --------
    >>> import numpy as np
    >>> m = SparseCategoricalAccuracy()
    >>> m.update(np.array([1, 0]), np.array([[0.2, 0.8], [0.3, 0.7]]))
    >>> m.result()
    0.5
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

    Examples
    --------
    >>> import numpy as np
    >>> m = BinaryAccuracy()
    >>> m.update(np.array([1.0, 0.0, 1.0]), np.array([[0.9], [0.6], [0.4]]))
    >>> round(m.result(), 4)
    0.3333
    """

    default_name = "binary_accuracy"

    def __init__(self, name=None, threshold=0.5):
        self.threshold = float(threshold)
        super().__init__(name)

    def _values(self, y_true, y_pred):
        y_true, y_pred = _pair(y_true, y_pred)
        return (y_true == (y_pred > self.threshold)).astype(np.float64)
