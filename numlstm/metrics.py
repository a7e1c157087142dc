"""Metrics reported by fit and evaluate, averaged over the samples of an epoch."""

import numpy as np


class Metric:
    """Accumulates a per-sample quantity over batches; ``result()`` is its mean."""

    def __init__(self, name):
        self.name = name
        self.reset()

    def reset(self):
        self._total = 0.0
        self._count = 0

    def update(self, y_true, y_pred):
        values = self._per_sample(np.asarray(y_true), y_pred)
        self._total += float(values.sum())
        self._count += values.size

    def result(self):
        return self._total / self._count if self._count else float("nan")

    def get_state(self):
        """(total, count): what data-parallel evaluation sums over the ranks."""
        return self._total, self._count

    def set_state(self, total, count):
        self._total, self._count = float(total), int(count)

    def _per_sample(self, y_true, y_pred):
        raise NotImplementedError


def _per_sample_mean(values):
    return values.reshape(len(values), -1).mean(axis=1)


class MeanAbsoluteError(Metric):
    def _per_sample(self, y_true, y_pred):
        return _per_sample_mean(np.abs(y_pred - y_true))


class MeanSquaredError(Metric):
    def _per_sample(self, y_true, y_pred):
        return _per_sample_mean((y_pred - y_true) ** 2)


class RootMeanSquaredError(MeanSquaredError):
    def result(self):
        return float(np.sqrt(super().result()))


class CategoricalAccuracy(Metric):
    def _per_sample(self, y_true, y_pred):
        return (y_true.argmax(axis=-1) == y_pred.argmax(axis=-1)).astype(float).reshape(-1)


class SparseCategoricalAccuracy(Metric):
    def _per_sample(self, y_true, y_pred):
        labels = y_true[..., 0] if y_true.shape == y_pred.shape[:-1] + (1,) else y_true
        return (labels == y_pred.argmax(axis=-1)).astype(float).reshape(-1)


class BinaryAccuracy(Metric):
    def _per_sample(self, y_true, y_pred):
        return ((y_pred > 0.5) == (y_true > 0.5)).astype(float).reshape(-1)


_BY_NAME = {"mae": MeanAbsoluteError, "mse": MeanSquaredError, "rmse": RootMeanSquaredError,
            "categorical_accuracy": CategoricalAccuracy, "sparse_categorical_accuracy": SparseCategoricalAccuracy,
            "binary_accuracy": BinaryAccuracy}


def get(identifier, loss_name=None):
    """A metric from its name; "accuracy" resolves by the loss, as in Keras."""
    if isinstance(identifier, Metric):
        return identifier
    name = identifier
    if identifier in ("accuracy", "acc"):
        name = {"sparse_categorical_crossentropy": "sparse_categorical_accuracy",
                "binary_crossentropy": "binary_accuracy"}.get(loss_name, "categorical_accuracy")
    if name not in _BY_NAME:
        raise ValueError(f"unknown metric {identifier!r}; valid names: accuracy, {', '.join(sorted(_BY_NAME))}")
    return _BY_NAME[name](identifier if isinstance(identifier, str) else name)
