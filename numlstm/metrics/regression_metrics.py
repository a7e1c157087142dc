"""Regression metrics: mean absolute, squared and percentage errors, their root, and R2."""

import warnings

import numpy as np

from ..losses import EPSILON
from .metric import Metric, _pair, _weights_like
from .reduction_metrics import Mean


class MeanAbsoluteError(Mean):
    """Mean of ``abs(y_true - y_pred)`` (``"mae"``; default name ``"mean_absolute_error"``).

    Examples
    --------
    >>> import numpy as np
    >>> m = MeanAbsoluteError()
    >>> m.update(np.array([1.0, 2.0]), np.array([[1.5], [2.0]]))
    >>> m.result()
    0.25
    """

    default_name = "mean_absolute_error"

    def _values(self, y_true, y_pred):
        y_true, y_pred = _pair(y_true, y_pred)
        return np.abs(y_true - y_pred).mean(axis=-1)


class MeanSquaredError(Mean):
    """Mean of ``(y_true - y_pred) ** 2`` (``"mse"``; default name ``"mean_squared_error"``).

    Examples
    --------
    >>> import numpy as np
    >>> m = MeanSquaredError()
    >>> m.update(np.array([1.0, 2.0]), np.array([[1.5], [3.0]]))
    >>> m.result()
    0.625
    """

    default_name = "mean_squared_error"

    def _values(self, y_true, y_pred):
        y_true, y_pred = _pair(y_true, y_pred)
        return np.square(y_true - y_pred).mean(axis=-1)


class MeanAbsolutePercentageError(Mean):
    """``100 * mean(abs((y_true - y_pred) / max(abs(y_true), 1e-7)))`` (``"mape"``).

    Default name ``"mean_absolute_percentage_error"``.

    Examples
    --------
    >>> import numpy as np
    >>> m = MeanAbsolutePercentageError()
    >>> m.update(np.array([2.0, 4.0]), np.array([[1.0], [5.0]]))
    >>> m.result()
    37.5
    """

    default_name = "mean_absolute_percentage_error"

    def _values(self, y_true, y_pred):
        y_true, y_pred = _pair(y_true, y_pred)
        return 100.0 * np.abs((y_true - y_pred) / np.maximum(np.abs(y_true), EPSILON)).mean(axis=-1)


class RootMeanSquaredError(Mean):
    """Square root of the mean of ``(y_true - y_pred) ** 2`` (``"rmse"``).

    Default name ``"root_mean_squared_error"``. As in Keras, the squared
    errors are averaged elementwise, then the root is taken of the mean.

    Examples
    --------
    >>> import numpy as np
    >>> m = RootMeanSquaredError()
    >>> m.update(np.array([0.0, 0.0]), np.array([[3.0], [4.0]]))
    >>> round(m.result(), 4)  # sqrt((9 + 16) / 2)
    3.5355
    """

    default_name = "root_mean_squared_error"

    def _values(self, y_true, y_pred):
        y_true, y_pred = _pair(y_true, y_pred)
        return np.square(y_pred - y_true)

    def result(self):
        return float(np.sqrt(super().result()))


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

    Examples
    --------
    >>> import numpy as np
    >>> m = R2Score()
    >>> m.update(np.array([1.0, 2.0, 3.0]), np.array([[1.0], [2.0], [4.0]]))
    >>> m.result()  # 1 - 1 / 2
    0.5
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
