"""``numlstm demo``, ``numlstm train`` and ``numlstm forecast``: LSTM forecasters of one series."""

import pathlib
import time

import numpy as np

from .. import callbacks, layers, optimizers, plotting, saving, utils
from ..models import Sequential
from ..preprocessing import ForecastData, rmse, scaler_from_config
from .data import load_model_file, load_series
from .errors import CommandError

CELLS = {"lstm": {}, "peephole": {"peephole": True}, "cifg": {"cifg": True}}


def build_forecaster(lookback, horizon, units, bidirectional=True, cell="lstm", features=1):
    """Stacked (bidirectional) LSTMs reading ``lookback`` steps, a Dense head forecasting ``horizon``."""
    model = Sequential([layers.Input((lookback, features))], name="forecaster")
    for i, size in enumerate(units):
        lstm = layers.LSTM(size, return_sequences=i < len(units) - 1, **CELLS[cell])
        model.add(layers.Bidirectional(lstm) if bidirectional else lstm)
    model.add(layers.Dense(horizon))
    return model


def train_and_report(values, stamps, season, description, options, out):
    """Train a forecaster on ``values``, print test RMSE beside the baselines, save it at ``out``."""
    utils.set_random_seed(options.seed)
    if options.validation + options.test >= 1:
        raise CommandError(f"--validation {options.validation:g} and --test {options.test:g} leave no training "
                           "data: their sum must be below 1")
    try:
        data = ForecastData(values, lookback=options.lookback, horizon=options.horizon,
                            validation_fraction=options.validation, test_fraction=options.test, relative=True)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if len(data.test) == 0 or len(data.validation) == 0:
        raise CommandError("the validation and test parts need at least one window each: "
                           "raise --validation/--test or lower --horizon")
    print(f"data: {description}; windows of {options.lookback} steps forecasting {options.horizon}: "
          f"{len(data.train)} train, {len(data.validation)} validation, {len(data.test)} test")
    model = build_forecaster(options.lookback, options.horizon, options.layers, options.bidirectional, options.cell)
    model.compile(optimizers.Adam(options.learning_rate), "mse")
    if options.verbose:
        model.summary()
    started = time.perf_counter()
    history = model.fit(data.train.x, data.train.y, batch_size=options.batch_size, epochs=options.epochs,
                        validation_data=(data.validation.x, data.validation.y), verbose=options.verbose,
                        callbacks=[callbacks.EarlyStopping(patience=options.patience, restore_best_weights=True)])
    seconds = time.perf_counter() - started
    forecast = data.to_units(data.test, model.predict(data.test.x, batch_size=256))
    scores = {"LSTM": rmse(forecast, data.test.y_units),
              "naive (last value)": rmse(data.naive_forecast(data.test), data.test.y_units)}
    if season:
        scores[f"seasonal naive ({season} steps back)"] = rmse(data.seasonal_naive_forecast(data.test, season),
                                                              data.test.y_units)
    print(f"\ntrained {len(history.history['loss'])} epochs in {seconds:.1f} s; "
          f"test RMSE over {len(data.test)} windows x {options.horizon} steps:")
    for name, score in scores.items():
        print(f"  {name:<32} {score:10.4g}")
    best_baseline = min(score for name, score in scores.items() if name != "LSTM")
    verdict = "beats" if scores["LSTM"] < best_baseline else "does NOT beat"
    print(f"the LSTM {verdict} every baseline ({scores['LSTM'] / best_baseline:.2f} x the best one's RMSE)")
    model.metadata = {"forecaster": {
        "data": options.data, "column": getattr(options, "column", None), "lookback": options.lookback,
        "horizon": options.horizon, "relative": True, "scaler": data.scaler.get_config(), "season": season}}
    out = pathlib.Path(out)
    saving.save_model(model, out)  # its folder exists: the command checked it before training
    print(f"model saved to {out}")
    return model, data, history, scores


def write_plots(data, model, history, stamps, season, title, units, prefix):
    """Training curves and forecasts from non-overlapping origins in the test part, as PNGs."""
    if not plotting.matplotlib_available():
        print('plots skipped: pip install "numlstm[plot]" for them')
        return []
    prefix = pathlib.Path(prefix)
    curves = prefix.with_name(prefix.name + "_training.png")
    plotting.plot_history(history, curves, title=f"{title}: training")
    origins = np.arange(0, len(data.test), data.horizon)
    forecast = data.to_units(data.test, model.predict(data.test.x[origins]), origins)
    steps = data.test.target_starts[origins, None] + np.arange(data.horizon)
    lines = {"LSTM forecast": (stamps[steps], forecast)}
    if season:
        lines["seasonal naive"] = (stamps[steps], data.seasonal_naive_forecast(data.test, season)[origins])
    span = data.values.shape[0] - data.train_end
    picture = prefix.with_name(prefix.name + "_forecast.png")
    plotting.plot_forecast(stamps, data.values[:, 0], lines, picture,
                           boundaries=[("validation", stamps[data.train_end]), ("test", stamps[data.validation_end])],
                           title=f"{title}: {data.horizon}-step forecasts from successive origins in the test part",
                           units=units, context_start=stamps[max(0, data.train_end - span)])
    for path in (curves, picture):
        print(f"plot written to {path}")
    return [curves, picture]


def forecast(model_path, data, column, out):
    """The next ``horizon`` steps after the end of ``data``, from a model written by ``numlstm train``."""
    model, spec = load_model_file(model_path, "forecaster", "`numlstm train` or `numlstm demo`")
    values, stamps, _, description = load_series(data or spec["data"], column if data else spec.get("column"))
    lookback, horizon = spec["lookback"], spec["horizon"]
    if len(values) < lookback:
        raise CommandError(f"the model reads {lookback} steps; {description} has only {len(values)}")
    scaler = scaler_from_config(spec["scaler"])
    window = values[-lookback:]
    anchor = window[-1] if spec["relative"] else 0.0
    scaled = scaler.transform((window - anchor)[:, None])[None]
    prediction = model.predict(scaled)[0] * scaler.scale[0] + scaler.offset[0] + anchor
    labels = _future_labels(stamps, horizon)
    lines = ["step,time,forecast"] + [f"{i + 1},{label},{value:.6g}" for i, (label, value)
                                      in enumerate(zip(labels, prediction))]
    if out:
        out = pathlib.Path(out)
        saving.write_atomically(out, lambda file: file.write(("\n".join(lines) + "\n").encode()))
        print(f"{horizon} steps forecast after {description} written to {out}")
    else:
        print("\n".join(lines))
    return prediction


def _future_labels(stamps, horizon):
    """Time stamps after the last one, when the series is evenly spaced datetime64; else blanks."""
    stamps = np.asarray(stamps)
    if np.issubdtype(stamps.dtype, np.datetime64) and len(stamps) > 1:
        step = stamps[-1] - stamps[-2]
        return [str(stamps[-1] + step * (i + 1)) for i in range(horizon)]
    return [""] * horizon
