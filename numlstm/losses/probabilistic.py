"""Probabilistic losses: crossentropies and the Kullback-Leibler divergence."""

import numpy as np

from .loss import EPSILON, Loss, _Elementwise, _log_softmax, _prediction


class KLDivergence(_Elementwise):
    """Kullback-Leibler divergence ``sum(y_true * log(y_true / y_pred), axis=-1)`` (``"kl_divergence"``).

    Also ``"kld"``. Both arguments are clipped to ``[1e-7, 1]`` as in Keras
    (the gradient is zero where ``y_pred`` is clipped); the last axis is
    summed, not averaged.

    Examples
    --------
    >>> import numpy as np
    >>> round(KLDivergence()(np.array([[0.5, 0.5]]), np.array([[0.25, 0.75]])), 4)
    0.1438
    """

    name = "kl_divergence"
    _last_axis = "sum"

    def _term(self, y_true, y_pred):
        p = np.clip(y_true, EPSILON, 1.0)
        q = np.clip(y_pred, EPSILON, 1.0)
        return p * np.log(p / q), np.where((y_pred > EPSILON) & (y_pred < 1.0), -p / q, 0.0)


class BinaryCrossentropy(_Elementwise):
    """Binary crossentropy, the mean over the last axis (``"binary_crossentropy"``).

    Parameters
    ----------
    from_logits : bool, optional
        Whether ``y_pred`` holds logits rather than probabilities (which are
        clipped to ``[1e-7, 1 - 1e-7]``, as in Keras). Defaults to False.

    Examples
    --------
    >>> import numpy as np
    >>> round(BinaryCrossentropy()(np.array([[1.0, 0.0]]), np.array([[0.9, 0.2]])), 4)
    0.1643
    >>> round(BinaryCrossentropy(from_logits=True)(np.array([[1.0]]), np.array([[0.0]])), 4)  # log(2)
    0.6931
    """

    name = "binary_crossentropy"
    gpu_kernel = "elementwise"

    def __init__(self, from_logits=False):
        self.from_logits = from_logits

    def _term(self, y_true, y_pred):
        if self.from_logits:
            z = y_pred
            value = np.maximum(z, 0) - z * y_true + np.log1p(np.exp(-np.abs(z)))
            return value, 0.5 * np.tanh(0.5 * z) + 0.5 - y_true
        p = np.clip(y_pred, EPSILON, 1 - EPSILON)
        value = -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))
        inside = (y_pred > EPSILON) & (y_pred < 1 - EPSILON)
        return value, np.where(inside, (p - y_true) / (p * (1 - p)), 0.0)

    def get_config(self):
        return {"from_logits": self.from_logits}


class CategoricalCrossentropy(Loss):
    """Categorical crossentropy of one-hot (or soft) targets (``"categorical_crossentropy"``).

    Parameters
    ----------
    from_logits : bool, optional
        Whether ``y_pred`` holds logits rather than probabilities (which are
        normalised over the last axis and clipped to ``[1e-7, 1 - 1e-7]``, as
        in Keras). Defaults to False.

    Examples
    --------
    >>> import numpy as np
    >>> round(CategoricalCrossentropy()(np.array([[0.0, 1.0, 0.0]]), np.array([[0.1, 0.8, 0.1]])), 4)  # -log(0.8)
    0.2231
    """

    name = "categorical_crossentropy"
    gpu_kernel = "crossentropy"

    def __init__(self, from_logits=False):
        self.from_logits = from_logits

    def _targets_like(self, y_true, y_pred):
        try:
            return super()._targets_like(y_true, y_pred)
        except ValueError as exc:
            shape = tuple(y_pred.shape)
            if len(shape) and shape[-1] > 1 and np.shape(y_true) == shape[:-1]:
                raise ValueError(f"{exc}; these look like class indices, which the "
                                 "sparse_categorical_crossentropy loss takes (this one takes one-hot rows)") from None
            raise

    def _one_hot(self, y_true, y_pred):
        return self._targets_like(y_true, y_pred)

    def value_and_gradient(self, y_true, y_pred, sample_weight=None):
        """See :meth:`Loss.value_and_gradient`."""
        y_pred = _prediction(y_pred)
        y_true = self._one_hot(y_true, y_pred)
        positions = y_pred.size // y_pred.shape[-1]
        if self.from_logits:
            log_q = _log_softmax(y_pred)
            value = -(y_true * log_q).sum(axis=-1)
            derivative = np.exp(log_q) * y_true.sum(axis=-1, keepdims=True) - y_true
        else:
            total = y_pred.sum(axis=-1, keepdims=True)
            q = y_pred / total
            clipped = np.clip(q, EPSILON, 1 - EPSILON)
            value = -(y_true * np.log(clipped)).sum(axis=-1)
            d_q = np.where((q > EPSILON) & (q < 1 - EPSILON), -y_true / clipped, 0.0)
            derivative = (d_q - (d_q * q).sum(axis=-1, keepdims=True)) / total
        if sample_weight is not None:
            return self._reduce_positions(value, derivative, y_pred, sample_weight)
        return float(value.mean()), (derivative / positions).astype(y_pred.dtype)

    def get_config(self):
        return {"from_logits": self.from_logits}


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical crossentropy of integer class indices (``"sparse_categorical_crossentropy"``).

    ``y_true`` holds class indices of shape ``y_pred.shape[:-1]`` (or with a
    trailing axis of length 1).

    Parameters
    ----------
    from_logits : bool, optional
        Whether ``y_pred`` holds logits. Defaults to False.

    Examples
    --------
    >>> import numpy as np
    >>> y_pred = np.array([[0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    >>> round(SparseCategoricalCrossentropy()(np.array([1, 2]), y_pred), 4)  # -(log(0.8) + log(0.6)) / 2
    0.367
    """

    name = "sparse_categorical_crossentropy"

    def _one_hot(self, y_true, y_pred):
        return np.eye(y_pred.shape[-1], dtype=y_pred.dtype)[self._labels(y_true, y_pred)]

    def kernel_targets(self, y_true, output):
        return self._labels(y_true, output)

    def kernel_options(self):
        return {**super().kernel_options(), "sparse": True}

    def _labels(self, y_true, y_pred):
        """The class indices of ``y_true`` (shape ``y_pred.shape[:-1]``, int64), checked."""
        labels = np.asarray(y_true)
        shape = tuple(y_pred.shape)
        if labels.shape == shape[:-1] + (1,):
            labels = labels[..., 0]
        if labels.shape != shape[:-1]:
            raise ValueError(f"{self.name}: y_true must hold class indices of shape {shape[:-1]}, "
                             f"got {labels.shape}")
        if labels.dtype.kind == "f":
            if not np.all(labels == np.round(labels)):
                raise ValueError(f"{self.name}: y_true must hold integer class indices")
            labels = labels.astype(np.int64)
        classes = shape[-1]
        if labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= classes:
            raise ValueError(f"{self.name}: y_true must hold class indices in [0, {classes}), "
                             f"got values from {labels.min()} to {labels.max()}")
        return labels.astype(np.int64, copy=False)
