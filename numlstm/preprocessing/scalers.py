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
        """Learn each feature's statistics from ``x`` (steps,) or (steps, features); returns the scaler."""
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
        """``(x - offset) / scale`` per feature, as float64."""
        self._require_fit()
        return (np.asarray(x, np.float64) - self.offset) / self.scale

    def inverse_transform(self, x):
        """``x * scale + offset`` per feature, as float64: back to the data's units."""
        self._require_fit()
        return np.asarray(x, np.float64) * self.scale + self.offset

    def fit_transform(self, x):
        """``fit(x)``, then ``transform(x)``."""
        return self.fit(x).transform(x)

    def get_config(self):
        """The fitted scaler as a JSON-friendly dict, for :func:`scaler_from_config`."""
        self._require_fit()
        return {"kind": self.kind, "offset": np.asarray(self.offset).tolist(), "scale": np.asarray(self.scale).tolist()}

    @staticmethod
    def from_config(config):
        """The fitted scaler that ``get_config()`` described (a StandardScaler or a MinMaxScaler)."""
        scaler = {"standard": StandardScaler, "minmax": MinMaxScaler}[config["kind"]]()
        scaler.offset = np.asarray(config["offset"], np.float64)
        scaler.scale = np.asarray(config["scale"], np.float64)
        return scaler


class StandardScaler(_Scaler):
    """Zero mean and unit standard deviation per feature (population deviation, as scikit-learn).

    Fit it on the training part of a series only, so that no statistic of
    the validation or test data leaks into training. A constant feature
    maps to 0.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm.preprocessing import StandardScaler
    >>> scaler = StandardScaler().fit(np.array([1.0, 2.0, 3.0]))
    >>> scaler.transform([1.0, 3.0]).round(4).tolist()
    [-1.2247, 1.2247]
    >>> scaler.inverse_transform(scaler.transform([5.0])).tolist()
    [5.0]
    """

    kind = "standard"

    def _statistics(self, x):
        return x.mean(axis=0), x.std(axis=0)


class MinMaxScaler(_Scaler):
    """The training range of each feature onto [0, 1].

    Values outside the training range map outside [0, 1]. A constant
    feature maps to 0.

    Examples
    --------
    >>> from numlstm.preprocessing import MinMaxScaler
    >>> MinMaxScaler().fit([2.0, 4.0]).transform([2.0, 3.0, 6.0]).tolist()
    [0.0, 0.5, 2.0]
    """

    kind = "minmax"

    def _statistics(self, x):
        low = x.min(axis=0)
        return low, x.max(axis=0) - low


def scaler_from_config(config):
    """The scaler described by ``get_config()`` (saved with a model by the numlstm command).

    Parameters
    ----------
    config : dict
        What a fitted scaler's ``get_config()`` returned.

    Returns
    -------
    StandardScaler or MinMaxScaler
        Fitted.
    """
    return _Scaler.from_config(config)
