"""Rolling-origin backtests: forecasts from every origin of a series' test part, scored beside baselines."""

from dataclasses import dataclass

import numpy as np

from ..preprocessing import time_split
from ..preprocessing.windows import _positive
from .series import SeriesData, keyed_series
from .time_steps import season_of
from .scores import central_intervals, crps_from_quantiles, interval_coverage, mae, mase, pinball_loss, rmse, smape

WINDOWS = ("expanding", "sliding")
POINT_SCORES = ("RMSE", "MAE", "MASE", "sMAPE")
INTERVAL_SCORES = ("coverage", "pinball", "CRPS")


@dataclass(frozen=True, eq=False)
class Backtest:
    """What :func:`backtest` measured.

    Attributes
    ----------
    origins : numpy.ndarray (windows,)
        The index of each window's first forecast step.
    time : numpy.ndarray (windows,)
        Its stamp.
    actual : numpy.ndarray (windows, horizon)
        The observed target.
    forecasts : dict of str to numpy.ndarray (windows, horizon)
        Point forecasts by method: ``"LSTM"``, ``"naive"`` and, for
        seasonal data, ``"seasonal naive"``.
    quantile_forecasts : numpy.ndarray (windows, horizon, levels) or None
        The LSTM's quantiles, for a probabilistic forecaster.
    quantiles : tuple of float or None
    interval : float or None
        The nominal coverage of the widest central interval scored.
    scores : dict of str to dict of str to float
        ``scores[method][score]``: RMSE, MAE, MASE and sMAPE for every
        method; coverage, pinball and CRPS for a probabilistic LSTM.
    refits : int
        How many times the forecaster was trained during the backtest.
    series : dict of str to Backtest, optional
        For a global forecaster, each series' own backtest; the arrays
        above then stack every series' windows and ``scores`` are the
        means of the series' scores (each series weighs the same).
    """

    origins: np.ndarray
    time: np.ndarray
    actual: np.ndarray
    forecasts: dict
    quantile_forecasts: np.ndarray | None
    quantiles: tuple | None
    interval: float | None
    scores: dict
    refits: int
    series: dict | None = None

    def columns(self):
        """The score names in table order: the point scores, then the interval scores when measured."""
        return POINT_SCORES + (INTERVAL_SCORES if self.quantiles else ())

    def table(self):
        """The scores as an aligned text table, one method a row."""
        columns = self.columns()
        width = max(len(name) for name in self.scores) + 2
        lines = ["method".ljust(width) + "".join(f"{name:>10}" for name in columns)]
        for method, scores in self.scores.items():
            cells = "".join(f"{scores[name]:>10.4g}" if name in scores else f"{'':>10}" for name in columns)
            lines.append(method.ljust(width) + cells)
        return "\n".join(lines)

    def csv_lines(self):
        """The scores as CSV lines: a ``method`` column, then one column per score (empty where not measured).

        For several series a ``series`` column comes first: ``mean`` for the
        means, then each series' own rows.
        """
        columns = self.columns()
        parts = {None: self} if self.series is None else {"mean": self, **self.series}
        lines = [",".join((() if self.series is None else ("series",)) + ("method",) + columns)]
        for key, part in parts.items():
            lead = [] if key is None else [str(key)]
            for method, scores in part.scores.items():
                cells = [f"{scores[name]:.6g}" if name in scores else "" for name in columns]
                lines.append(",".join(lead + [method] + cells))
        return lines


def backtest(forecaster, series=None, start=None, stride=1, refit=0, window="expanding", train_steps=None,
             horizon=None, **fit_options):
    """Score a forecaster from rolling origins over the last part of a series, beside naive baselines.

    Every origin from ``start`` to the last one with a full horizon of
    observations, ``stride`` steps apart, is forecast ``horizon`` steps
    ahead from the ``lookback`` steps before it. Without refits the
    forecasts of all origins come from one batched ``predict``; with
    ``refit=k`` the forecaster is trained anew before every k-th origin on
    the data before it (all of it with ``window="expanding"``, the last
    ``train_steps`` with ``"sliding"``), then forecasts that group of
    origins in one call.

    Parameters
    ----------
    forecaster : Forecaster
        Trained (for ``refit=0``) or not.
    series : optional
        One series as :func:`series_data` takes it, or for a global
        forecaster a dict of them keyed as in training; by default the
        series the forecaster was trained on. Must hold its target and
        covariates.
    start : int or numpy.datetime64, optional
        The first origin: a step index, or a date (the first step at or
        after it, in each series). Defaults to the first step of the test
        part as the forecaster split its training series. Origins start no
        earlier than step ``lookback + 1``: a window reads ``lookback``
        steps and MASE's scale needs two.
    stride : int, default 1
        Steps between origins.
    refit : int, default 0
        Retrain before every ``refit``-th origin; 0 never retrains.
    window : {"expanding", "sliding"}
        The training data of a refit.
    train_steps : int, optional
        The steps a sliding window trains on (needed with ``"sliding"``).
    horizon : int, optional
        Score only the first ``horizon`` steps of each forecast (at most
        the forecaster's horizon, the default).
    **fit_options
        Passed to ``Forecaster.fit_data`` at each refit (``epochs``, ...).

    Returns
    -------
    Backtest

    Notes
    -----
    MASE divides each method's MAE by the in-sample MAE of the seasonal
    naive forecast (the naive one for data without a season, or too short
    a history) on the target before the first origin (Hyndman and Koehler,
    2006). Coverage is that of the
    widest central interval among the quantile levels (0.1 and 0.9 give
    the 80% interval); CRPS is approximated from the quantile levels
    (:func:`numlstm.forecasting.crps_from_quantiles`).

    Examples
    --------
    >>> from numlstm import datasets
    >>> from numlstm.forecasting import Forecaster, backtest
    >>> forecaster = Forecaster(lookback=24, horizon=6, units=(8,)).fit(datasets.load_elnino(), epochs=1, seed=0)
    >>> result = backtest(forecaster, stride=6)
    >>> sorted(result.scores), len(result.origins)
    (['LSTM', 'naive', 'seasonal naive'], 18)
    """
    sources = _series_for(forecaster, series)
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {', '.join(WINDOWS)}, got {window!r}")
    if window == "sliding" and refit and train_steps is None:
        raise ValueError("a sliding window needs train_steps, the steps each refit trains on")
    refit = int(refit)
    if refit < 0:
        raise ValueError(f"refit must be 0 (never) or a positive number of origins, got {refit}")
    if not refit and forecaster.model is None:
        raise ValueError("the forecaster is not trained: fit it first or backtest with refit=1 or more")
    if refit and len(sources) > 1:
        raise ValueError("refits of a forecaster of several series are not supported: backtest it with refit=0")
    stride = _positive("stride", stride)
    horizon = forecaster.horizon if horizon is None else _positive("horizon", horizon)
    if horizon > forecaster.horizon:
        raise ValueError(f"horizon {horizon} is beyond the {forecaster.horizon} steps the forecaster forecasts")
    results = {key: _backtest_series(forecaster, key, data, start, stride, refit, window, train_steps, horizon,
                                     fit_options) for key, data in sources.items()}
    return results[None] if None in results else _combined(results)


def _backtest_series(forecaster, key, data, start, stride, refit, window, train_steps, horizon, fit_options):
    steps = len(data.values)
    if start is None:
        start = time_split(steps, forecaster.validation_fraction, forecaster.test_fraction)[1]
    elif isinstance(start, np.datetime64):
        if not np.issubdtype(data.time.dtype, np.datetime64):
            raise ValueError(f"start {start} is a date but the series has no dates: give a step number")
        start = int(np.searchsorted(data.time, start))
    where = f"series {key!r}: " if key is not None else ""
    first = max(int(start), forecaster.lookback + 1)  # a window's lookback, and one step for MASE's scale
    origins = np.arange(first, steps - horizon + 1, stride)
    if len(origins) == 0:
        raise ValueError(f"{where}no origin from step {first} leaves a full horizon of {horizon} observed steps in "
                         f"a series of {steps}: start earlier or lower the horizon")
    forecasts, refits = _forecasts(forecaster, key, data, origins, refit, window, train_steps, fit_options)
    return _scored(forecaster, data, origins, forecasts[:, :horizon], refits)


def _combined(results):
    """One Backtest of several series: their windows stacked, their scores averaged."""
    parts = list(results.values())
    scores = {method: {name: float(np.mean([part.scores[method][name] for part in parts if method in part.scores]))
                       for name in parts[0].scores[method]}
              for method in parts[0].scores if all(method in part.scores for part in parts)}
    forecasts = {method: np.concatenate([part.forecasts[method] for part in parts]) for method in scores}
    quantiles = None if parts[0].quantile_forecasts is None else np.concatenate(
        [part.quantile_forecasts for part in parts])
    return Backtest(np.concatenate([part.origins for part in parts]), np.concatenate([part.time for part in parts]),
                    np.concatenate([part.actual for part in parts]), forecasts, quantiles, parts[0].quantiles,
                    parts[0].interval, scores, sum(part.refits for part in parts), dict(results))


def _series_for(forecaster, series):
    """``{key: SeriesData}`` to backtest on: ``series``, else what the forecaster was trained on."""
    if series is None:
        if not forecaster.series:
            raise ValueError("give the series to backtest on: a loaded forecaster keeps no data")
        return forecaster.series
    target, covariates = (forecaster.target, forecaster.covariates) if forecaster.names else (None, None)
    return keyed_series(series, target, covariates)


def _forecasts(forecaster, key, data, origins, refit, window, train_steps, fit_options):
    """The forecasts from every origin, batched per group of origins between refits."""
    if not refit:
        return forecaster.predict_windows(data, origins, key), 0
    groups = [origins[i:i + refit] for i in range(0, len(origins), refit)]
    pieces = []
    for group in groups:
        first = 0 if window == "expanding" else max(0, group[0] - train_steps)
        history = SeriesData(data.time[first:group[0]], data.values[first:group[0]], data.names, data.frequency,
                             data.source, data.description)
        trained = forecaster.clone().fit_data(history, forecaster.validation_fraction, 0.0, **fit_options)
        pieces.append(trained.predict_windows(data, group))
    return np.concatenate(pieces), len(groups)


def _scored(forecaster, data, origins, forecasts, refits):
    horizon = forecasts.shape[1]
    season = forecaster.season or season_of(data.frequency)  # an untrained forecaster has not set its own
    target = data.values[:, 0]
    steps = origins[:, None] + np.arange(horizon)
    actual = target[steps]
    methods = {"LSTM": forecaster.point(forecasts), "naive": np.repeat(target[origins - 1, None], horizon, axis=1)}
    if season:
        back = season * (np.arange(horizon) // season + 1)
        if (steps - back).min() >= 0:
            methods["seasonal naive"] = target[steps - back]
    history = target[:origins[0]]  # what was known at the first origin scales MASE
    scale_season = season if season and len(history) > season else 1
    scores = {name: {"RMSE": rmse(values, actual), "MAE": mae(values, actual),
                     "MASE": mase(values, actual, history, scale_season), "sMAPE": smape(values, actual)}
              for name, values in methods.items()}
    interval = None
    if forecaster.quantiles is not None:
        quantiles = forecaster.quantiles
        scores["LSTM"].update(pinball=pinball_loss(forecasts, actual, quantiles),
                              CRPS=crps_from_quantiles(forecasts, actual, quantiles))
        intervals = central_intervals(quantiles)
        if intervals:
            low, high, interval = intervals[0]  # the widest
            scores["LSTM"]["coverage"] = interval_coverage(forecasts[..., low], forecasts[..., high], actual)
    return Backtest(origins, data.time[origins], actual, methods,
                    forecasts if forecaster.quantiles is not None else None, forecaster.quantiles, interval, scores,
                    refits)
