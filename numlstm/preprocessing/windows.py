"""Sliding windows for forecasting, time-ordered splits without leakage, and baseline forecasts."""

from dataclasses import dataclass

import numpy as np

from ..utils import _real_argument
from .scalers import MinMaxScaler, StandardScaler


def _series_2d(series):
    array = np.asarray(series, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"series must be 1-D (steps,) or 2-D (steps, features), got shape {np.shape(series)}")
    if not np.isfinite(array).all():
        raise ValueError("series contains NaN or infinity: fill missing values first")
    return array


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def window_starts(steps, lookback, horizon=1, stride=1, first_target=None, end=None):
    """Start indices of the windows whose forecast steps all lie in [first_target, end).

    A window starting at ``s`` reads steps ``s .. s+lookback-1`` and forecasts
    ``s+lookback .. s+lookback+horizon-1``.

    Parameters
    ----------
    steps : int
        The series' length.
    lookback, horizon, stride : int
        As in :func:`sliding_windows`.
    first_target : int, optional
        The first step a window may forecast; ``lookback`` (the first step
        with a full history), and never less, by default.
    end : int, optional
        One past the last step a window may forecast; ``steps`` by default.

    Returns
    -------
    array of int

    Examples
    --------
    >>> from numlstm.preprocessing import window_starts
    >>> window_starts(10, lookback=3, horizon=2, first_target=5).tolist()
    [2, 3, 4, 5]
    """
    lookback, horizon, stride = (_positive(n, v) for n, v in
                                 (("lookback", lookback), ("horizon", horizon), ("stride", stride)))
    first_target = lookback if first_target is None else max(int(first_target), lookback)
    end = steps if end is None else min(int(end), steps)
    return np.arange(first_target - lookback, end - lookback - horizon + 1, stride)


def sliding_windows(series, lookback, horizon=1, stride=1, target=0):
    """Forecasting pairs from one series.

    Parameters
    ----------
    series : array (steps,) or (steps, features)
    lookback : int
        Steps each input window holds.
    horizon : int
        Steps forecast after each window.
    stride : int
        Steps between the starts of consecutive windows.
    target : int
        The feature forecast, for a 2-D series.

    Returns
    -------
    x : array (windows, lookback, features), float64
    y : array (windows, horizon), float64
    """
    values = _series_2d(series)
    starts = window_starts(len(values), lookback, horizon, stride)
    if len(starts) == 0:
        raise ValueError(f"a series of {len(values)} steps holds no window of lookback {lookback} "
                         f"and horizon {horizon}: it needs at least {lookback + horizon} steps")
    return _gather(values, starts, lookback, horizon, target)


def _gather(values, starts, lookback, horizon, target):
    x = values[starts[:, None] + np.arange(lookback)]
    y = values[starts[:, None] + lookback + np.arange(horizon), target]
    return x, y


def time_split(steps, validation_fraction=0.15, test_fraction=0.15):
    """Boundaries ``(train_end, validation_end)`` of a time-ordered three-way split of ``steps`` steps.

    Steps ``[0, train_end)`` train, ``[train_end, validation_end)``
    validate and ``[validation_end, steps)`` test; each share is rounded to
    whole steps.

    Parameters
    ----------
    steps : int
    validation_fraction, test_fraction : float, default 0.15
        In [0, 1), leaving some steps for training.

    Returns
    -------
    train_end, validation_end : int

    Examples
    --------
    >>> from numlstm.preprocessing import time_split
    >>> time_split(100)
    (70, 85)
    """
    validation_fraction = _real_argument(validation_fraction, "validation_fraction")
    test_fraction = _real_argument(test_fraction, "test_fraction")
    for name, value in (("validation_fraction", validation_fraction), ("test_fraction", test_fraction)):
        if not 0 <= value < 1:
            raise ValueError(f"{name} must lie in [0, 1), got {value!r}")
    if validation_fraction + test_fraction >= 1:
        raise ValueError("validation_fraction + test_fraction must leave some training data")
    validation_end = steps - int(round(steps * test_fraction))
    train_end = validation_end - int(round(steps * validation_fraction))
    return train_end, validation_end


@dataclass
class Split:
    """One part of a :class:`ForecastData`: model arrays and what maps them back to units.

    Attributes
    ----------
    x : array (windows, lookback, features)
        The model's inputs, scaled.
    y : array (windows, horizon)
        The targets, scaled.
    y_units : array (windows, horizon)
        The targets in the series' units.
    target_starts : array (windows,)
        The index of each window's first forecast step.
    anchors : array (windows, features)
        What was subtracted from each window before scaling: its last
        observed value with ``relative``, else zeros.
    """

    x: np.ndarray             # (windows, lookback, features), scaled
    y: np.ndarray             # (windows, horizon), scaled
    y_units: np.ndarray       # (windows, horizon), in the series' units
    target_starts: np.ndarray  # (windows,): index of each window's first forecast step
    anchors: np.ndarray       # (windows, features): subtracted before scaling (zeros unless relative)

    def __len__(self):
        return len(self.x)


class ForecastData:
    """A series cut into scaled forecasting windows for training, validation and test, without leakage.

    The series is split in time at ``time_split``'s boundaries; a window
    belongs to the part that holds its forecast steps (its inputs may reach
    back into the part before, as a forecaster's history does). The scaler
    is fitted on training data only.

    With ``relative=True`` each window is expressed relative to its last
    observed value (inputs and targets minus that value), so the network
    learns changes, not levels: a trending series (CO2) then stays inside
    the range the scaler saw in training.

    Parameters
    ----------
    series : array (steps,) or (steps, features)
    lookback, horizon, stride : int
        As in :func:`sliding_windows`.
    validation_fraction, test_fraction : float
        Shares of the steps forecast in validation and in test.
    scaler : {"standard", "minmax"}
    relative : bool
    target : int
        The feature forecast, for a 2-D series.
    """

    def __init__(self, series, lookback, horizon=1, stride=1, validation_fraction=0.15, test_fraction=0.15,
                 scaler="standard", relative=False, target=0):
        values = _series_2d(series)
        if not 0 <= target < values.shape[1]:
            raise ValueError(f"target must index one of the series' {values.shape[1]} features, got {target}")
        scalers = {"standard": StandardScaler, "minmax": MinMaxScaler}
        if scaler not in scalers:
            raise ValueError(f"scaler must be one of {', '.join(scalers)}, got {scaler!r}")
        self.values, self.lookback, self.horizon = values, lookback, horizon
        self.relative, self.target = bool(relative), target
        self.train_end, self.validation_end = time_split(len(values), validation_fraction, test_fraction)
        bounds = {"train": (0, self.train_end), "validation": (self.train_end, self.validation_end),
                  "test": (self.validation_end, len(values))}
        starts = {part: window_starts(len(values), lookback, horizon, stride, first, end)
                  for part, (first, end) in bounds.items()}
        if len(starts["train"]) == 0:
            raise ValueError(f"the training part ({self.train_end} of {len(values)} steps) holds no window of "
                             f"lookback {lookback} and horizon {horizon}: shorten them or train on more")
        for part in ("validation", "test"):
            if len(starts[part]) == 0 and bounds[part][1] > bounds[part][0]:
                raise ValueError(f"the {part} part ({bounds[part][1] - bounds[part][0]} steps) is shorter than "
                                 f"the horizon {horizon}: lower the horizon or raise the {part} fraction")
        raw = {part: _gather(values, s, lookback, horizon, target) for part, s in starts.items()}
        anchors = {part: (x[:, -1] if self.relative else np.zeros((len(x), values.shape[1])))
                   for part, (x, _) in raw.items()}
        train_inputs = (raw["train"][0] - anchors["train"][:, None]) if self.relative else values[:self.train_end]
        self.scaler = scalers[scaler]().fit(train_inputs.reshape(-1, values.shape[1]))
        self.train, self.validation, self.test = (self._split(raw[p], anchors[p], starts[p]) for p in bounds)

    def _split(self, raw, anchors, starts):
        x, y = raw
        x_scaled = self.scaler.transform(x - anchors[:, None])
        y_scaled = (y - anchors[:, self.target, None] - self.scaler.offset[self.target]) / self.scaler.scale[self.target]
        return Split(x_scaled, y_scaled, y, starts + self.lookback, anchors)

    def to_units(self, split, y_scaled, windows=slice(None)):
        """The model's forecasts for ``split``'s windows (or the ``windows`` selected from them), in the series' units."""
        anchors = split.anchors[windows, self.target]
        y_scaled = np.asarray(y_scaled, np.float64).reshape(len(anchors), self.horizon)
        return y_scaled * self.scaler.scale[self.target] + self.scaler.offset[self.target] + anchors[:, None]

    def naive_forecast(self, split):
        """The naive baseline for ``split``'s windows: every forecast step equals the last observed value."""
        last = self.values[split.target_starts - 1, self.target]
        return np.repeat(last[:, None], self.horizon, axis=1)

    def seasonal_naive_forecast(self, split, season):
        """The seasonal baseline: each step equals the value one ``season`` earlier (the latest observed one)."""
        season = _positive("season", season)
        steps = split.target_starts[:, None] + np.arange(self.horizon)
        back = season * ((np.arange(self.horizon) // season) + 1)
        earlier = steps - back
        if earlier.min(initial=0) < 0:
            raise ValueError(f"the season {season} reaches before the start of the series")
        return self.values[earlier, self.target]


def stateful_chunks(x, y, length):
    """Cut long sequences into consecutive chunks for truncated BPTT with a stateful model.

    ``x`` (sequences, steps, features) and ``y`` (sequences, steps, ...)
    become arrays of ``steps // length`` chunks per sequence, ordered chunk
    by chunk, so that ``fit(..., batch_size=sequences, shuffle=False)`` on
    a model of ``stateful=True`` LSTMs sees chunk k of every sequence in
    batch k, its state carried from chunk k-1 (gradients stop at chunk
    boundaries). Call ``model.reset_states()`` at each epoch's start.
    Trailing steps that do not fill a chunk are dropped.

    Parameters
    ----------
    x : array (sequences, steps, features)
    y : array (sequences, steps, ...)
    length : int
        The steps in each chunk.

    Returns
    -------
    x_chunks : array (chunks * sequences, length, features)
    y_chunks : array (chunks * sequences, length, ...)

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm.preprocessing import stateful_chunks
    >>> x = np.arange(12.0).reshape(2, 6, 1)
    >>> x_chunks, _ = stateful_chunks(x, x, length=3)
    >>> x_chunks[:, :, 0].tolist()
    [[0.0, 1.0, 2.0], [6.0, 7.0, 8.0], [3.0, 4.0, 5.0], [9.0, 10.0, 11.0]]
    """
    x, y = np.asarray(x), np.asarray(y)
    length = _positive("length", length)
    if x.ndim != 3 or y.ndim < 2 or len(x) != len(y) or x.shape[1] != y.shape[1]:
        raise ValueError(f"x must be (sequences, steps, features) and y (sequences, steps, ...) with the same "
                         f"sequences and steps, got {x.shape} and {y.shape}")
    chunks = x.shape[1] // length
    if chunks == 0:
        raise ValueError(f"sequences of {x.shape[1]} steps hold no chunk of {length}")

    def cut(array):
        trimmed = array[:, :chunks * length]
        split = trimmed.reshape(array.shape[0], chunks, length, *array.shape[2:])
        return np.ascontiguousarray(split.swapaxes(0, 1).reshape(chunks * array.shape[0], length, *array.shape[2:]))

    return cut(x), cut(y)


def rmse(forecast, actual):
    """Root mean squared error over all windows and steps.

    Parameters
    ----------
    forecast, actual : array
        Of one shape, e.g. (windows, horizon).

    Returns
    -------
    float

    Examples
    --------
    >>> from numlstm.preprocessing import rmse
    >>> rmse([1.0, 2.0], [1.0, 4.0])
    1.4142135623730951
    """
    return float(np.sqrt(np.mean((np.asarray(forecast) - np.asarray(actual)) ** 2)))
