"""Quantile forecasters on the packaged real series: calibrated 80% intervals and MASE against the baselines.

The figures were measured (2-core AMD EPYC, seeds 0-2; see the forecasting guide) and the bounds are the
issue's targets: the 80% interval covers 70-90% of the test points, and on the seasonal series the LSTM's
MASE beats the seasonal naive forecast's.
"""

import pytest

from numlstm import datasets
from numlstm.forecasting import Forecaster, backtest

# series -> (Forecaster arguments, fit arguments); measured coverage and MASE in the comments
CASES = {
    # coverage 0.787-0.803, MASE 0.35-0.37 (seasonal naive 1.36)
    "co2": ({"lookback": 52, "horizon": 13, "units": (16,)}, {"epochs": 30}),
    # coverage 0.863-0.878, MASE 0.63-0.66 (seasonal naive 0.79)
    "elnino": ({"lookback": 36, "horizon": 12, "units": (16,)}, {"epochs": 60}),
    # coverage 0.811-0.833, MASE 1.03-1.33 (naive 2.46); the solar cycle is no fixed season
    "sunspots": ({"lookback": 22, "horizon": 3, "units": (16,), "relative": False}, {"epochs": 100, "patience": 15}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_80_percent_interval_covers_70_to_90_percent_and_mase_beats_the_baselines(name):
    design, training = CASES[name]
    forecaster = Forecaster(quantiles=(0.1, 0.5, 0.9), **design)
    forecaster.fit(datasets.load_series(name), seed=0, **{"patience": 8, **training})
    result = backtest(forecaster)
    lstm = result.scores["LSTM"]
    assert result.interval == pytest.approx(0.8)
    assert 0.70 <= lstm["coverage"] <= 0.90, result.table()
    baseline = "seasonal naive" if name != "sunspots" else "naive"
    assert lstm["MASE"] < result.scores[baseline]["MASE"], result.table()
    assert lstm["CRPS"] == pytest.approx(2 * lstm["pinball"])  # three levels: the approximation's definition
