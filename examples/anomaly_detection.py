"""Anomaly detection by forecast error on the weekly Mauna Loa CO2 series, with injected anomalies.

    python examples/anomaly_detection.py          # a few seconds on 2 cores
    python examples/anomaly_detection.py --fast   # a smoke run (CI)

An LSTM learns to forecast next week's CO2 from the past year on the
first 70% of the series (1958-1988). Its errors on the validation part
calibrate a robust noise scale (1.4826 x the median absolute deviation).
Into the test part (1995-2001) we inject spikes of 5 to 8 noise scales at
random weeks; a week is flagged when its forecast error exceeds 4 noise
scales. A spike also spoils the next forecasts (it sits in their input
window), so flags up to 2 weeks after an injected spike belong to it.
Prints precision (flags that belong to an injected spike) and recall
(injected spikes flagged).
"""

import argparse

import numpy as np

import numlstm
from numlstm import callbacks, layers
from numlstm.preprocessing import ForecastData

THRESHOLD = 4.0
AFTERMATH = 2


def inject_spikes(values, first, count, scale, generator):
    """A copy of ``values`` with ``count`` spikes at random steps >= ``first``, at least 10 steps apart."""
    values = values.copy()
    candidates = np.arange(first + 2, len(values) - AFTERMATH)
    while True:
        steps = np.sort(generator.choice(candidates, count, replace=False))
        if np.all(np.diff(steps) >= 10):
            break
    values[steps] += generator.choice([-1, 1], count) * generator.uniform(5, 8, count) * scale
    return values, steps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="one epoch, for a smoke test")
    args = parser.parse_args(argv)

    numlstm.utils.set_random_seed(0)
    series = numlstm.datasets.load_co2()
    clean = ForecastData(series.values, lookback=52, horizon=1, relative=True)
    model = numlstm.Sequential([layers.Input((52, 1)), layers.LSTM(32), layers.Dense(1)])
    model.compile(numlstm.optimizers.Adam(3e-3), "mse")
    model.fit(clean.train.x, clean.train.y, batch_size=32, epochs=1 if args.fast else 40,
              validation_data=(clean.validation.x, clean.validation.y), verbose=0,
              callbacks=[callbacks.EarlyStopping(patience=6, restore_best_weights=True)])

    def errors(data, split):
        return (data.to_units(split, model.predict(split.x, batch_size=256)) - split.y_units)[:, 0]

    validation_errors = errors(clean, clean.validation)
    noise = 1.4826 * np.median(np.abs(validation_errors - np.median(validation_errors)))

    generator = np.random.default_rng(7)
    injected_values, spikes = inject_spikes(series.values, clean.validation_end, 10, noise, generator)
    test = ForecastData(injected_values, lookback=52, horizon=1, relative=True)  # same split, same scaler inputs
    scores = np.abs(errors(test, test.test)) / noise
    flagged = test.test.target_starts[scores > THRESHOLD]

    belongs = np.array([np.any((flag >= spikes) & (flag <= spikes + AFTERMATH)) for flag in flagged], bool)
    detected = np.array([np.any((flagged >= spike) & (flagged <= spike + AFTERMATH)) for spike in spikes], bool)
    precision = belongs.mean() if len(flagged) else 0.0
    recall = detected.mean()
    print(f"forecast-error noise scale on validation: {noise:.3f} ppmv (1-week-ahead RMSE "
          f"{np.sqrt(np.mean(validation_errors ** 2)):.3f})")
    print(f"test part: {len(scores)} weeks, {len(spikes)} injected spikes of 5-8 noise scales, "
          f"{len(flagged)} weeks flagged above {THRESHOLD:g}")
    print(f"precision {precision:.2f}, recall {recall:.2f}")
    for spike, found in zip(spikes, detected):
        print(f"  {series.time[spike]}  {injected_values[spike] - series.values[spike]:+.2f} ppmv  "
              f"{'found' if found else 'missed'}")
    return {"precision": precision, "recall": recall}


if __name__ == "__main__":
    main()
