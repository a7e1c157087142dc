"""``numlstm demo``, ``train``, ``forecast`` and ``backtest``: LSTM forecasters of a series and its covariates."""

import pathlib
import sys
import time

import numpy as np

from .. import plotting, saving, utils
from ..forecasting import Forecaster, backtest, check_calendar_varies
from .data import load_data, load_model_file
from .errors import CommandError


def train_and_report(source, options, out):
    """Train a forecaster on ``source`` (SeriesData, or a dict of them for a global model), print its test
    scores beside the baselines, save it."""
    if options.validation + options.test >= 1:
        raise CommandError(f"--validation {options.validation:g} and --test {options.test:g} leave no training "
                           "data: their sum must be below 1")
    try:
        forecaster = Forecaster(options.lookback, options.horizon, options.layers, options.bidirectional,
                                options.cell, quantiles=getattr(options, "quantiles", None),
                                method=getattr(options, "method", None), dropout=getattr(options, "dropout", None),
                                calendar=getattr(options, "calendar", None))
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    sources = source if isinstance(source, dict) else {None: source}
    if forecaster.calendar:
        try:
            check_calendar_varies(forecaster.calendar, next(iter(sources.values())).time)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    counts = np.zeros(3, int)
    for key, data in sources.items():
        counts += _check_split(key, data, options)
    first = next(iter(sources.values()))
    reads = f" from its past and {', '.join(first.names[1:])}" if len(first.names) > 1 else ""
    if forecaster.calendar:
        reads += f"{' and' if reads else ' with'} the calendar ({', '.join(forecaster.calendar)})"
    description = first.description if None in sources else (
        f"{len(sources)} series ({_listed(sources)}), one model for all, each scaled on its own")
    if None not in sources:
        for key in list(sources)[:5]:
            print(f"  {key}: {sources[key].description}")
    print(f"data: {description}\nforecast: {first.names[0]}{reads}; windows of {options.lookback} steps "
          f"forecasting {options.horizon}: {counts[0]} train, {counts[1]} validation, {counts[2]} test")
    if options.verbose:
        forecaster.build_model(len(first.names)).summary()
    started = time.perf_counter()
    try:
        forecaster.fit_data(sources, options.validation, options.test, epochs=options.epochs,
                            batch_size=options.batch_size, learning_rate=options.learning_rate,
                            patience=options.patience, verbose=options.verbose, seed=options.seed)
    except ValueError as exc:  # what the data cannot support (a constant calendar feature, ...)
        raise CommandError(str(exc)) from None
    seconds = time.perf_counter() - started
    result = backtest(forecaster)
    each = "" if result.series is None else f", the mean over the {len(result.series)} series' scores"
    epochs = len(forecaster.history.history["loss"])
    stopped = (f" (stopped early: {options.patience} epochs without a better validation loss; the best "
               "epoch's weights kept)" if epochs < options.epochs else "")
    print(f"\ntrained {epochs} epochs in {seconds:.1f} s{stopped}")
    print(f"test scores over {len(result.origins)} windows x {options.horizon} steps ({_units_note(result)}{each}):")
    print(_indent(result.table()))
    rmse = {name: scores["RMSE"] for name, scores in result.scores.items()}
    best_baseline = min(score for name, score in rmse.items() if name != "LSTM")
    verdict = "beats" if rmse["LSTM"] < best_baseline else "does NOT beat"
    print(f"the LSTM {verdict} every baseline ({rmse['LSTM'] / best_baseline:.2f} x the best one's RMSE)")
    extra = {"column": first.names[0] if first.source.endswith(".csv") or None not in sources else None,
             "time_column": getattr(options, "time_column", None), "fill": getattr(options, "fill", "interpolate"),
             "id_column": getattr(options, "id", None)}
    if None not in sources:
        extra["data"] = options.data
    if str(extra.get("data", first.source)).lower().endswith(".csv"):  # found again from any folder
        extra["data"] = str(pathlib.Path(extra.get("data", first.source)).resolve())
    forecaster.save(pathlib.Path(out), **extra)  # its folder exists: the command checked it before training
    print(f"model saved to {out}")
    return forecaster, result


def _listed(sources, shown=5):
    keys = [str(key) for key in sources]
    return ", ".join(keys[:shown]) + (f" and {len(keys) - shown} more" if len(keys) > shown else "")


def _check_split(key, source, options):
    """(train, validation, test) windows of one series; a CommandError naming it when a part has none."""
    from ..preprocessing import ForecastData

    where = "" if key is None else f"series {key!r}: "
    try:
        data = ForecastData(source.values, options.lookback, options.horizon, validation_fraction=options.validation,
                            test_fraction=options.test)
    except ValueError as exc:
        raise CommandError(f"{where}{exc}") from None
    if len(data.test) == 0 or len(data.validation) == 0:
        raise CommandError(f"{where}the validation and test parts need at least one window each: "
                           "raise --validation/--test or lower --horizon")
    return np.array([len(data.train), len(data.validation), len(data.test)])


def _units_note(result):
    note = "RMSE and MAE in the series' units, sMAPE in percent"
    if result.interval is not None:
        note += f", coverage of the {result.interval:.0%} interval, CRPS from the quantile levels"
    return note


def _indent(text):
    return "\n".join("  " + line for line in text.splitlines())


def write_plots(forecaster, result, title, units, prefix):
    """Training curves, and forecasts from non-overlapping origins of the test part and after the data's end (with
    their bands), as PNGs."""
    if not plotting.matplotlib_available():
        print('plots skipped: pip install "numlstm[plot]" for them')
        return []
    prefix = pathlib.Path(prefix)
    curves = prefix.with_name(prefix.name + "_training.png")
    plotting.plot_history(forecaster.history, curves, title=f"{title}: training")
    key = None
    if result.series is not None:  # a global model: the first series stands for the others
        key = next(iter(result.series))
        result, title = result.series[key], f"{title}, {key} (the first of {len(result.series)} series)"
    source, data = forecaster.series[key], forecaster.splits[key]
    horizon, stamps = forecaster.horizon, source.time
    chosen = np.arange(0, len(result.origins), horizon)
    steps = result.origins[chosen, None] + np.arange(horizon)
    after = forecaster.predict()
    after = after[key] if isinstance(after, dict) else after
    forecast_stamps = np.vstack([stamps[steps], after.time[None]])  # the test part's origins, then the end
    lines = {"LSTM forecast": (forecast_stamps, np.vstack([result.forecasts["LSTM"][chosen], after.values[None]]))}
    if "seasonal naive" in result.forecasts:
        lines["seasonal naive"] = (stamps[steps], result.forecasts["seasonal naive"][chosen])
    bands = {}
    if result.interval is not None:
        from ..forecasting import central_interval

        low, high, _ = central_interval(result.quantiles)
        quantiles = np.concatenate([result.quantile_forecasts[chosen], after.quantile_values[None]])
        bands[f"LSTM {result.interval:.0%} interval"] = (forecast_stamps, quantiles[..., low], quantiles[..., high])
    span = len(source.values) - data.train_end
    picture = prefix.with_name(prefix.name + "_forecast.png")
    plotting.plot_forecast(stamps, source.values[:, 0], lines, picture, bands=bands,
                           boundaries=[("validation", stamps[data.train_end]), ("test", stamps[data.validation_end])],
                           title=f"{title}: {horizon}-step forecasts from origins in the test part and after the data",
                           units=units, context_start=stamps[max(0, data.train_end - span)])
    for path in (curves, picture):
        print(f"plot written to {path}")
    return [curves, picture]


def _model_data(settings, options):
    """The data a saved forecaster continues: ``--data``, else what it was trained on, read as in training."""
    from .. import datasets

    data = options.data or settings.get("data")
    if data in (None, "array"):
        raise CommandError("give the series to continue with --data")
    target = settings.get("target") if "version" in settings else settings.get("column")
    given = getattr(options, "target", None)
    if given is not None and given != target:
        raise CommandError(f"the model forecasts {target!r}, not {given!r}: train a model for {given!r}")
    if data in datasets.SERIES:
        source = load_data(data)
    else:
        covariates = settings.get("covariates") or ()
        try:
            source = load_data(data, target, covariates, settings.get("time_column"), None,
                               settings.get("fill") or "interpolate", settings.get("id_column"), note_unused=False)
        except CommandError as exc:
            reads = ", ".join(name for name in (target, *covariates) if name)
            hint = "" if options.data else " (the data it was trained on; give other data with --data)"
            raise CommandError(f"the model reads {reads or 'one column'}: {exc}{hint}") from None
    first = next(iter(source.values())) if isinstance(source, dict) else source
    if target is not None and first.names[0] != target:
        raise CommandError(f"the model forecasts {target!r}; {data} holds {first.names[0]!r}")
    if settings.get("frequency") and first.frequency != settings["frequency"]:
        has = f"has frequency {first.frequency}" if first.frequency else "has no dates"
        raise CommandError(f"the model was trained on data of frequency {settings['frequency']}; {data} {has}")
    return source


def load_forecaster(path):
    """The forecaster saved at ``path`` by ``numlstm train`` or ``demo``; a CommandError if it is not one."""
    model, settings = load_model_file(path, "forecaster", "`numlstm train` or `numlstm demo`")
    return Forecaster.from_model(model, settings), settings


def forecast(options):
    """The next ``horizon`` steps after the end of the data, printed or written as CSV."""
    forecaster, settings = load_forecaster(options.model)
    source = _model_data(settings, options)
    utils.set_random_seed(options.seed)  # Monte Carlo dropout draws its passes
    try:
        prediction = forecaster.predict(source)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if isinstance(prediction, dict):  # a global model: one block of rows per series, an id column first
        rows = {key: value.csv_lines() for key, value in prediction.items()}
        header = settings.get("id_column") or "series"
        lines = [f"{header},{next(iter(rows.values()))[0]}"]
        lines += [f"{key},{line}" for key, block in rows.items() for line in block[1:]]
        after = f"the end of each of {len(prediction)} series"
    else:
        lines, after = prediction.csv_lines(), str(source.time[-1])
    if options.out:
        out = pathlib.Path(options.out)
        saving.write_atomically(out, lambda file: file.write(("\n".join(lines) + "\n").encode()))
        print(f"{forecaster.horizon} steps of {forecaster.target} after {after} forecast to {out}")
    else:
        print("\n".join(lines))
    return prediction


def run_backtest(options):
    """``numlstm backtest``: rolling-origin scores of a saved forecaster on its data, as a table and a CSV."""
    if not options.refit and (options.train_steps or options.window != "expanding"):
        raise CommandError("--window and --train-steps choose what refits train on: give --refit K with them")
    if str(options.model).lower().endswith(".json"):
        forecaster, settings = _forecaster_from_config(options)
    else:
        forecaster, settings = load_forecaster(options.model)
    source = _model_data(settings, options)
    utils.set_random_seed(options.seed)
    try:
        result = backtest(forecaster, source, start=_start(options.start, source), stride=options.stride,
                          refit=options.refit, window=options.window, train_steps=options.train_steps,
                          horizon=options.horizon,
                          epochs=options.epochs, verbose=0, seed=options.seed)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    refits = (f", {result.refits} refit{'s' if result.refits > 1 else ''} ({options.window} window)"
              if result.refits else "")
    if result.series is None:
        span = f"{len(result.origins)} origins from {result.time[0]} to {result.time[-1]}"
    else:
        span = f"{len(result.origins)} origins in {len(result.series)} series (the mean of their scores)"
    target = forecaster.target or (next(iter(source.values())) if isinstance(source, dict) else source).names[0]
    print(f"backtest of {target}: {span}, {options.stride} apart, {result.actual.shape[1]} steps "
          f"each{refits} ({_units_note(result)}):")
    print(_indent(result.table()))
    first = result.origins.min()
    if isinstance(options.start, str) and options.start.lstrip("-").isdigit() and first > int(options.start):
        print(f"note: origins start at step {first}: a window reads {forecaster.lookback} steps and MASE's scale "
              "needs one more", file=sys.stderr)
    if not options.refit and options.data in (None, settings.get("data")) and _before_test(forecaster, source, result):
        print("note: origins before the test part forecast data the model was trained, stopped early or "
              "calibrated on: their scores are optimistic", file=sys.stderr)
    if options.out:
        out = pathlib.Path(options.out)
        saving.write_atomically(out, lambda file: file.write(("\n".join(result.csv_lines()) + "\n").encode()))
        print(f"scores written to {out}")
    return result


# What a backtest config may hold besides Forecaster's arguments: how to read the data and split it.
CONFIG_DATA_KEYS = ("target", "covariates", "time_column", "fill", "validation_fraction", "test_fraction")


def _forecaster_from_config(options):
    """An untrained forecaster and its settings from a JSON config of Forecaster's arguments, for refits."""
    import inspect
    import json

    path = pathlib.Path(options.model)
    if not path.is_file():
        raise CommandError(f"no such config file: {path}")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandError(f"cannot read {path} as JSON ({exc})") from None
    arguments = set(inspect.signature(Forecaster).parameters)
    if not isinstance(config, dict) or set(config) - arguments - set(CONFIG_DATA_KEYS):
        unknown = sorted(set(config) - arguments - set(CONFIG_DATA_KEYS)) if isinstance(config, dict) else config
        raise CommandError(f"{path}: unknown keys {unknown}; a config holds Forecaster's arguments "
                           f"({', '.join(sorted(arguments))}) and {', '.join(CONFIG_DATA_KEYS)}")
    if not options.refit or not options.data:
        raise CommandError(f"{path} is a config, not a trained model: give --data and --refit K (the model is "
                           "trained on the data before every K-th origin)")
    try:
        forecaster = Forecaster(**{key: value for key, value in config.items() if key in arguments})
    except (TypeError, ValueError) as exc:
        raise CommandError(f"{path}: {exc}") from None
    forecaster.validation_fraction = config.get("validation_fraction", 0.15)
    forecaster.test_fraction = config.get("test_fraction", 0.15)
    settings = {"version": 2, "data": options.data, **{key: config.get(key) for key in CONFIG_DATA_KEYS}}
    return forecaster, settings


def _before_test(forecaster, source, result):
    """Whether an origin lies before the test part of the series as the forecaster split it in training."""
    from ..preprocessing import time_split

    parts = {None: result} if result.series is None else result.series
    sources = source if isinstance(source, dict) else {None: source}
    for key, part in parts.items():
        test_start = time_split(len(sources[key].values), forecaster.validation_fraction, forecaster.test_fraction)[1]
        if part.origins[0] < test_start:
            return True
    return False


def _start(text, source):
    """``--start``: a step index, or a date (each series' first origin at or after it)."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    first = next(iter(source.values())) if isinstance(source, dict) else source
    if not np.issubdtype(first.time.dtype, np.datetime64):
        raise CommandError(f"--start {text!r}: the data have no dates; give a step number")
    try:
        return np.datetime64(text)
    except ValueError:
        raise CommandError(f"--start {text!r} is neither a step number nor a date such as 2005-01-01") from None
