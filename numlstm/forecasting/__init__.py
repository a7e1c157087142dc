"""Forecasting as scientists need it: dated CSV files, covariates, quantile forecasts and backtests.

From a CSV file of dates and numeric columns to scored, probabilistic forecasts::

    from numlstm.forecasting import Forecaster, backtest, read_csv

    table = read_csv("weather.csv")            # dates parsed, frequency inferred, missing cells filled
    forecaster = Forecaster(lookback=48, horizon=24, quantiles=(0.1, 0.5, 0.9))
    forecaster.fit(table, target="load", covariates=["temp", "humidity"], epochs=50)
    forecast = forecaster.predict()             # the 24 steps after the end, with dates and quantiles
    result = backtest(forecaster)              # every origin of the test part, beside naive baselines
    print(result.table())

Probabilistic forecasts come three ways (``Forecaster(method=...)``):
quantile regression on the pinball loss, a Gaussian likelihood head, or
Monte Carlo dropout; the first two are calibrated on the validation part.
Several series train one global model: ``fit({"north": a, "south": b})``,
or ``read_csv(path, id_column="site")`` for a long file.

The same from the command line: ``numlstm train``, ``numlstm forecast`` and
``numlstm backtest`` (see ``numlstm train --help``).
"""

from .backtest import Backtest, backtest
from .calendar import CALENDAR_FEATURES, calendar_features, check_calendar_varies
from .calibration import conformal_adjustments
from .csv_tables import FILL_STRATEGIES, MISSING_TOKENS, TimeTable, fill_missing, read_csv
from .forecaster import Forecast, Forecaster
from .heads import METHODS
from .scores import (central_interval, central_intervals, crps_from_quantiles, interval_coverage, mae, mase,
                     pinball_loss, quantile_levels, rmse, smape)
from .series import SeriesData, collection_data, is_collection, keyed_series, series_data
from .time_steps import SEASONS, UNITS, frequency_parts, future_times, infer_frequency, parse_times, season_of

__all__ = ["read_csv", "TimeTable", "parse_times", "infer_frequency", "fill_missing", "MISSING_TOKENS",
           "FILL_STRATEGIES", "Forecaster", "Forecast", "METHODS", "SeriesData", "series_data", "collection_data",
           "keyed_series", "is_collection", "conformal_adjustments", "CALENDAR_FEATURES", "calendar_features",
           "check_calendar_varies", "backtest", "Backtest", "rmse", "mae", "mase", "smape", "interval_coverage",
           "pinball_loss", "crps_from_quantiles", "quantile_levels", "central_intervals", "central_interval",
           "frequency_parts", "future_times", "season_of", "UNITS", "SEASONS"]
