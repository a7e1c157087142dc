"""Scalers fitted on the training part of a series only, with exact inverses."""

import numpy as np


def _as_2d(x, name):
    array = np.asarray(x, dtype=np.float64)
    if array.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D (steps,) or 2-D (steps, features), got shape {array.shape}")
    return array


class _Scaler:
    """Per-feature affine map ``(x - offset) / scale``; the last axis holds the features."""

    kind = None

    def __init__(self):
        self.offset = self.scale = None

    def fit(self, x):
        x = _as_2d(x, "x")
        if len(x) == 0:
            raise ValueError("x is empty: a scaler needs at least one training value")
        if not np.isfinite(x).all():
            raise ValueError("x contains NaN or infinity: fill missing values before fitting a scaler")
        offset, scale = self._statistics(x.reshape(len(x), -1))
        scale = np.where(scale > 0, scale, 1.0)  # a constant feature maps to 0, not to NaN
        self.offset, self.scale = (offset, scale) if x.ndim == 2 else (offset[0], scale[0])
        return self

    def _require_fit(self):
        if self.offset is None:
            raise ValueError(f"{type(self).__name__} is not fitted: call fit(train) first")

    def transform(self, x):
        self._require_fit()
        return (np.asarray(x, np.float64) - self.offset) / self.scale

    def inverse_transform(self, x):
        self._require_fit()
        return np.asarray(x, np.float64) * self.scale + self.offset

    def fit_transform(self, x):
        return self.fit(x).transform(x)

    def get_config(self):
        self._require_fit()
        return {"kind": self.kind, "offset": np.asarray(self.offset).tolist(), "scale": np.asarray(self.scale).tolist()}

    @staticmethod
    def from_config(config):
        scaler = {"standard": StandardScaler, "minmax": MinMaxScaler}[config["kind"]]()
        scaler.offset = np.asarray(config["offset"], np.float64)
        scaler.scale = np.asarray(config["scale"], np.float64)
        return scaler


class StandardScaler(_Scaler):
    """Zero mean and unit standard deviation per feature (population deviation, as scikit-learn)."""

    kind = "standard"

    def _statistics(self, x):
        return x.mean(axis=0), x.std(axis=0)


class MinMaxScaler(_Scaler):
    """The training range of each feature onto [0, 1]."""

    kind = "minmax"

    def _statistics(self, x):
        low = x.min(axis=0)
        return low, x.max(axis=0) - low


def scaler_from_config(config):
    """The scaler described by ``get_config()`` (saved with a model by the numlstm command)."""
    return _Scaler.from_config(config)
