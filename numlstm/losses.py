"""Losses with Keras 3's names, formulas and reduction.

Reduction as in Keras: each sample's loss is the mean over its non-batch
positions (over every axis for the regression losses; over every axis but
the class axis for the cross-entropies), and the batch loss is the mean of
the samples' losses. Every loss also returns the gradient of that value
with respect to ``y_pred``, which training feeds into the model's backward
pass.
"""

import numpy as np

EPSILON = 1e-7  # Keras' backend epsilon: probabilities are clipped to [EPSILON, 1 - EPSILON]


def _log_softmax(z):
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class Loss:
    name = None

    def __call__(self, y_true, y_pred):
        return self.value_and_gradient(y_true, y_pred)[0]

    def value_and_gradient(self, y_true, y_pred):
        """(mean loss, d loss / d y_pred)."""
        raise NotImplementedError

    def get_config(self):
        return {}

    def _targets_like(self, y_true, y_pred):
        y_true = np.asarray(y_true, y_pred.dtype)
        if y_true.shape != y_pred.shape:
            raise ValueError(f"{self.name}: y_true has shape {y_true.shape} but the model outputs {y_pred.shape}")
        return y_true


class _Elementwise(Loss):
    """Losses that average an elementwise term over every position."""

    def value_and_gradient(self, y_true, y_pred):
        value, derivative = self._term(self._targets_like(y_true, y_pred), y_pred)
        return float(value.mean()), (derivative / value.size).astype(y_pred.dtype)

    def _term(self, y_true, y_pred):
        """The elementwise loss and its derivative with respect to y_pred."""
        raise NotImplementedError


class MeanSquaredError(_Elementwise):
    name = "mean_squared_error"

    def _term(self, y_true, y_pred):
        error = y_pred - y_true
        return error * error, 2 * error


class MeanAbsoluteError(_Elementwise):
    name = "mean_absolute_error"

    def _term(self, y_true, y_pred):
        error = y_pred - y_true
        return np.abs(error), np.sign(error)


class Huber(_Elementwise):
    name = "huber"

    def __init__(self, delta=1.0):
        self.delta = float(delta)

    def _term(self, y_true, y_pred):
        error = y_pred - y_true
        small = np.abs(error) <= self.delta
        value = np.where(small, 0.5 * error * error, self.delta * (np.abs(error) - 0.5 * self.delta))
        return value, np.where(small, error, self.delta * np.sign(error))

    def get_config(self):
        return {"delta": self.delta}


class BinaryCrossentropy(_Elementwise):
    name = "binary_crossentropy"

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
    name = "categorical_crossentropy"

    def __init__(self, from_logits=False):
        self.from_logits = from_logits

    def _one_hot(self, y_true, y_pred):
        return self._targets_like(y_true, y_pred)

    def value_and_gradient(self, y_true, y_pred):
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
        return float(value.mean()), (derivative / positions).astype(y_pred.dtype)

    def get_config(self):
        return {"from_logits": self.from_logits}


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    name = "sparse_categorical_crossentropy"

    def _one_hot(self, y_true, y_pred):
        return np.eye(y_pred.shape[-1], dtype=y_pred.dtype)[self._labels(y_true, y_pred)]

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


_BY_NAME = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber, "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}


def get(identifier):
    """A loss from its Keras name or a Loss instance."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    raise ValueError(f"unknown loss {identifier!r}; valid names: {', '.join(sorted(_BY_NAME))}")
