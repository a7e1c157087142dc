"""Forecast a year of El Nino sea-surface temperature with a stacked LSTM, against two baselines.

    python examples/forecasting.py            # a few seconds on 2 cores
    python examples/forecasting.py --fast     # a smoke run (CI)

The monthly Nino 1+2 series (NOAA ERSST, 1950-2010) is cut into windows of
36 months forecasting the next 12; the last 15% of months are the test
part, the 15% before them validation. The model learns changes relative
to each window's last month (``relative=True``). Prints test RMSE for the
LSTM, the naive forecast (last month repeated) and the seasonal naive one
(the same month a year before), and writes a plot when matplotlib is
installed.
"""

import argparse

import numpy as np

import numlstm
from numlstm import callbacks, layers
from numlstm.preprocessing import ForecastData, rmse


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="one epoch, for a smoke test")
    parser.add_argument("--plot", default="elnino_forecast.png", help="where the plot goes (needs matplotlib)")
    args = parser.parse_args(argv)

    numlstm.utils.set_random_seed(1)
    series = numlstm.datasets.load_elnino()
    data = ForecastData(series.values, lookback=36, horizon=12, relative=True)
    model = numlstm.Sequential([
        layers.Input((36, 1)),
        layers.LSTM(48, return_sequences=True),
        layers.LSTM(24),
        layers.Dense(12),
    ])
    model.compile(numlstm.optimizers.Adam(3e-3), "mse")
    history = model.fit(data.train.x, data.train.y, batch_size=32, epochs=1 if args.fast else 80,
                        validation_data=(data.validation.x, data.validation.y), verbose=2 if args.fast else 0,
                        callbacks=[callbacks.EarlyStopping(patience=10, restore_best_weights=True)])

    forecast = data.to_units(data.test, model.predict(data.test.x))
    actual = data.test.y_units
    scores = {"LSTM": rmse(forecast, actual),
              "naive": rmse(data.naive_forecast(data.test), actual),
              "seasonal naive": rmse(data.seasonal_naive_forecast(data.test, 12), actual)}
    print(f"{series.name}: {len(data.train)} training windows, {len(history.history['loss'])} epochs")
    print(f"test RMSE ({series.units}) over {len(data.test)} windows x 12 months:")
    for name, score in scores.items():
        print(f"  {name:<15} {score:.3f}")

    if numlstm.plotting.matplotlib_available():
        origins = np.arange(0, len(data.test), 12)
        stamps = series.time[data.test.target_starts[origins, None] + np.arange(12)]
        values = data.to_units(data.test, model.predict(data.test.x[origins]), origins)
        numlstm.plotting.plot_forecast(
            series.time, series.values, {"LSTM, 12 months ahead": (stamps, values)},
            args.plot, boundaries=[("validation", series.time[data.train_end]), ("test", series.time[data.validation_end])],
            title="Nino 1+2 sea-surface temperature: forecasts from successive origins", units=series.units,
            context_start=series.time[data.train_end - 120])
        print(f"plot written to {args.plot}")
    return scores


if __name__ == "__main__":
    main()
