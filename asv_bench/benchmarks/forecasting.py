"""Rolling-origin backtests: every origin of CO2's test part in one batched predict, against one predict per origin.

The forecaster is a quantile LSTM(16) reading 52 weeks and forecasting 13, trained for one epoch in ``setup``
(the scores do not matter here, only the forecasting work). ``time_backtest`` scores all 331 origins through
``numlstm.forecasting.backtest``; ``time_predict_per_origin`` forecasts the same origins one ``predict`` at a
time, as a backtest without batching would; ``track_batching_speedup`` is their ratio.
"""

import time

import numpy as np


class Backtest:
    def setup(self):
        import numlstm
        from numlstm.forecasting import Forecaster, backtest

        self.series = numlstm.datasets.load_co2()
        self.forecaster = Forecaster(52, 13, units=(16,), quantiles=(0.1, 0.5, 0.9))
        self.forecaster.fit(self.series, epochs=1, seed=0)
        self.backtest = backtest
        self.origins = self.backtest(self.forecaster).origins
        self.time_backtest()

    def time_backtest(self):
        self.backtest(self.forecaster)

    def time_predict_per_origin(self):
        for origin in self.origins:
            self.forecaster.predict(self.series.values[:origin])

    def track_batching_speedup(self):
        batched, one_by_one = [], []
        for _ in range(3):
            start = time.perf_counter()
            self.time_backtest()
            batched.append(time.perf_counter() - start)
            start = time.perf_counter()
            self.time_predict_per_origin()
            one_by_one.append(time.perf_counter() - start)
        return np.median(one_by_one) / np.median(batched)

    track_batching_speedup.unit = "x"
