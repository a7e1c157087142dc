"""The LSTM forecaster: a target series from its own past and past covariates, as points or quantiles."""

from dataclasses import dataclass

import numpy as np

from .. import callbacks, layers, optimizers, saving, utils
from ..models import Model
from ..preprocessing import ForecastData, scaler_from_config
from .series import SeriesData, keyed_series, series_data
from .calendar import calendar_features, check_calendar, check_calendar_varies
from .calibration import conformal_adjustments
from .heads import METHODS, make_head
from .scores import quantile_levels
from .time_steps import future_times, season_of

CELLS = {"lstm": {}, "peephole": {"peephole": True}, "cifg": {"cifg": True}}

# What a saved forecaster's metadata holds; version 1 (before covariates and quantiles) had no "version".
METADATA_VERSION = 2


@dataclass(frozen=True, eq=False)
class Forecast:
    """The steps after a series' end, forecast in its units.

    Attributes
    ----------
    time : numpy.ndarray (horizon,)
        The forecast steps' stamps.
    values : numpy.ndarray (horizon,)
        The point forecast: the median with quantiles that hold 0.5, else
        the mean of the quantile forecasts.
    quantiles : tuple of float or None
        The levels forecast, None for a point forecaster.
    quantile_values : numpy.ndarray (horizon, levels) or None
        One column per level, non-decreasing along each row.
    target : str
    """

    time: np.ndarray
    values: np.ndarray
    quantiles: tuple | None
    quantile_values: np.ndarray | None
    target: str

    def __repr__(self):
        levels = f", quantiles {', '.join(f'{q:g}' for q in self.quantiles)}" if self.quantiles else ""
        return f"Forecast({self.target}: {len(self.time)} steps from {self.time[0]}{levels})"

    def csv_lines(self):
        """The forecast as CSV lines: ``step,time,forecast`` and one ``q<level>`` column per quantile level."""
        levels = self.quantiles or ()
        header = ["step", "time", "forecast"] + [f"q{level:g}" for level in levels]
        lines = [",".join(header)]
        for i, stamp in enumerate(self.time):
            cells = [str(i + 1), str(stamp), f"{self.values[i]:.6g}"]
            cells += [f"{value:.6g}" for value in (self.quantile_values[i] if levels else ())]
            lines.append(",".join(cells))
        return lines


class Forecaster:
    """Stacked LSTMs forecasting ``horizon`` steps of a target from ``lookback`` steps of it and its covariates.

    The model reads windows of the target and its past covariates (series
    known up to the forecast origin), each expressed relative to its last
    observed values and scaled with statistics of the training part only
    (:class:`numlstm.preprocessing.ForecastData`), and forecasts the next
    ``horizon`` target steps: points trained on the mean squared error, or
    quantiles trained on the pinball loss (:class:`numlstm.losses.QuantileLoss`).

    Several series (a dict or list of them) train one global model: the
    windows of all series are pooled, each series scaled by statistics of
    its own training part, so that one network learns from every series
    and forecasts each (as the global models of darts and neuralforecast).

    Quantile forecasts never cross: the levels are sorted at each step
    (the monotone rearrangement of Chernozhukov, Fernandez-Val and Galichon,
    Econometrica 2010, which can only bring each level's forecast closer
    to the truth). Their intervals are calibrated on the validation part
    by conformalized quantile regression (Romano, Patterson and Candes,
    2019): a network trained on a short series is overconfident, and each
    pair of levels q and 1 - q is moved apart (or together), per step
    ahead, until it holds 1 - 2q of the validation values.

    Parameters
    ----------
    lookback : int
        Steps each window reads.
    horizon : int, default 1
        Steps forecast from each origin.
    units : sequence of int, default (64, 32)
        LSTM sizes from the input up.
    bidirectional : bool, default False
        Bidirectional LSTM layers.
    cell : {"lstm", "peephole", "cifg"}, default "lstm"
    quantiles : sequence of float or str, optional
        Levels in (0, 1), increasing, e.g. ``(0.1, 0.5, 0.9)`` or
        ``"0.1,0.5,0.9"``, for a probabilistic forecaster; None for points.
    relative : bool, default True
        Windows relative to their last observed values (the network learns
        changes, so trending series stay in the range it saw).
    season : int, optional
        Steps per seasonal cycle for the seasonal baselines; by default the
        data's frequency decides (12 for monthly, 52 for weekly, ...).
    calibrate : bool, default True
        Calibrate the quantile intervals on the validation part (above);
        False keeps the network's own quantiles.
    method : {"point", "quantile", "normal", "mc_dropout"}, optional
        How the forecast is probabilistic: not at all (``"point"``, the
        default without ``quantiles``), quantile regression on the pinball
        loss (``"quantile"``, the default with them), a Gaussian likelihood
        head trained on :class:`numlstm.losses.GaussianNLL` whose quantiles
        are those of the Gaussian (``"normal"``), or Monte Carlo dropout
        (``"mc_dropout"``: an MSE network with dropout, its quantiles those
        of ``samples`` forecasts made with dropout on). The last two
        report ``quantiles`` (0.1, 0.5 and 0.9 by default) and can
        :meth:`sample`.
    dropout : float, optional
        The dropout rate of ``"mc_dropout"`` (0.2 by default): on the
        LSTMs' recurrent connections and on their output.
    samples : int, default 200
        Forecasts per window that ``"mc_dropout"`` draws for its quantiles.
    calendar : sequence of str, optional
        Calendar features (of ``CALENDAR_FEATURES``: ``"hour"``,
        ``"dayofweek"``, ``"dayofmonth"``, ``"dayofyear"``, ``"month"``)
        as known-future covariates: the network reads their sine and cosine
        at every step of the window and at every step it forecasts. Needs
        dated data.

    Examples
    --------
    >>> from numlstm import datasets
    >>> from numlstm.forecasting import Forecaster
    >>> forecaster = Forecaster(lookback=24, horizon=3, units=(8,), quantiles=(0.1, 0.5, 0.9))
    >>> forecaster = forecaster.fit(datasets.load_elnino(), epochs=1, seed=0)
    >>> forecast = forecaster.predict()
    >>> str(forecast.time[0]), forecast.quantile_values.shape
    ('2011-01', (3, 3))
    """

    def __init__(self, lookback, horizon=1, units=(64, 32), bidirectional=False, cell="lstm", quantiles=None,
                 relative=True, season=None, calibrate=True, method=None, dropout=None, samples=200, calendar=None):
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {cell!r}")
        self.lookback, self.horizon = int(lookback), int(horizon)
        self.units, self.bidirectional, self.cell = tuple(int(u) for u in units), bool(bidirectional), cell
        self.method = method or ("point" if quantiles is None else "quantile")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        if self.method == "point" and quantiles is not None:
            raise ValueError("quantiles need a probabilistic method: 'quantile', 'normal' or 'mc_dropout'")
        if self.method != "point" and quantiles is None:
            quantiles = (0.1, 0.5, 0.9)
        if dropout is not None and self.method != "mc_dropout":
            raise ValueError("dropout applies to method='mc_dropout'")
        self.dropout = 0.2 if dropout is None and self.method == "mc_dropout" else dropout
        if self.dropout is not None and not 0 < self.dropout < 1:
            raise ValueError(f"dropout must lie in (0, 1), got {dropout!r}")
        if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 2:
            raise ValueError(f"samples must be an integer of at least 2, got {samples!r}")
        self.samples = int(samples)
        self.calendar = None if calendar is None else check_calendar(calendar)
        self.quantiles = None if quantiles is None else quantile_levels(quantiles)
        self.head = make_head(self.method, self.horizon, self.quantiles, self.dropout, self.samples)
        self.relative, self.season, self.calibrate = bool(relative), season, bool(calibrate)
        self.model = self.history = self.names = self.frequency = self.source = None
        self.validation_fraction, self.test_fraction = 0.15, 0.15
        # Per series, keyed by None for one series and by text for a collection (a global model):
        self.series = {}       # the SeriesData fit saw (empty after load)
        self.splits = {}       # their ForecastData
        self.scalers = {}      # each series' scaler, fitted on its own training part
        self.adjustments = {}  # each series' interval calibration (horizon, levels), when calibrated

    def clone(self):
        """An untrained forecaster of the same design (for refitting, as in a backtest)."""
        return type(self)(self.lookback, self.horizon, self.units, self.bidirectional, self.cell, self.quantiles,
                          self.relative, self.season, self.calibrate, self.method, self.dropout, self.samples,
                          self.calendar)

    @property
    def target(self):
        """The name of the series forecast (None before ``fit``)."""
        return self.names[0] if self.names else None

    @property
    def covariates(self):
        """The names of the past covariates read beside the target."""
        return list(self.names[1:]) if self.names else []

    @property
    def is_global(self):
        """True when trained on a collection of series (one model, per-series scaling)."""
        return bool(self.scalers) and None not in self.scalers

    def _single(self, what):
        if self.is_global:
            raise ValueError(f"a forecaster trained on several series has no single {what}: "
                             f"read forecaster.series[key] or forecaster.splits[key]")
        return None

    @property
    def data(self):
        """The :class:`~numlstm.preprocessing.ForecastData` of the one series trained on."""
        return self.splits.get(self._single("data"))

    @property
    def time(self):
        """The stamps of the one series trained on (None after load)."""
        source = self.series.get(self._single("time"))
        return None if source is None else source.time

    @property
    def values(self):
        """The target and covariates of the one series trained on, (steps, 1 + covariates); None after load."""
        source = self.series.get(self._single("values"))
        return None if source is None else source.values

    def build_model(self, features):
        """The untrained network for windows of ``features`` series (target first).

        With calendar features, a functional model of two inputs: the
        window (its series and the calendar of its steps) and the calendar
        of the steps forecast, joined to the LSTMs' output before the head.
        """
        extra = 2 * len(self.calendar) if self.calendar else 0
        window = layers.Input((self.lookback, features + extra), name="window")
        output = window
        dropout = {"recurrent_dropout": self.dropout} if self.dropout else {}
        for i, size in enumerate(self.units):
            lstm = layers.LSTM(size, return_sequences=i < len(self.units) - 1, **CELLS[self.cell], **dropout)
            output = (layers.Bidirectional(lstm) if self.bidirectional else lstm)(output)
        inputs = window
        if self.calendar:
            future = layers.Input((self.horizon * extra,), name="calendar")
            output, inputs = layers.Concatenate()([output, future]), [window, future]
        for layer in self.head.output_layers():
            output = layer(output)
        return Model(inputs, output, name="forecaster")

    def _model_inputs(self, source, scaled, origins):
        """What the network reads for windows ending before ``origins``: the scaled windows, with calendars."""
        if not self.calendar:
            return scaled
        time = np.concatenate([source.time, future_times(source.time, self.frequency, self.horizon)])
        past = origins[:, None] - self.lookback + np.arange(self.lookback)
        ahead = origins[:, None] + np.arange(self.horizon)
        width = 2 * len(self.calendar)
        past_calendar = calendar_features(time[past.ravel()], self.calendar).reshape(len(origins), self.lookback,
                                                                                       width)
        future_calendar = calendar_features(time[ahead.ravel()], self.calendar).reshape(len(origins), -1)
        return [np.concatenate([scaled, past_calendar], axis=-1), future_calendar]

    def fit(self, series, target=None, covariates=None, validation_fraction=0.15, test_fraction=0.15, epochs=50,
            batch_size=32, learning_rate=3e-3, patience=5, verbose=0, seed=None):
        """Train on the first part of ``series``, stopping early on the validation part.

        Parameters
        ----------
        series : one series, or a dict or list of them
            Each as :func:`series_data` takes it. Several series train one
            global model: their windows are pooled, each series scaled by
            its own training statistics and split in time by the same
            fractions; a dict's keys name them.
        target, covariates
            As :func:`series_data` takes them (the same for every series).
        validation_fraction, test_fraction : float
            Shares of the steps kept for validation and test (time-ordered,
            see :func:`numlstm.preprocessing.time_split`).
        epochs, batch_size, learning_rate, patience : int, int, float, int
            At most ``epochs`` of Adam, stopping after ``patience`` epochs
            without a better validation loss (the best weights kept).
        verbose : {0, 1, 2, "auto"}
            As ``fit``'s.
        seed : int, optional
            Seeds the weights and the shuffling.

        Returns
        -------
        Forecaster
            Itself, trained; ``history`` holds ``fit``'s History.
        """
        return self.fit_data(keyed_series(series, target, covariates), validation_fraction, test_fraction, epochs, batch_size, learning_rate,
                             patience, verbose, seed)

    def fit_data(self, sources, validation_fraction=0.15, test_fraction=0.15, epochs=50, batch_size=32,
                 learning_rate=3e-3, patience=5, verbose=0, seed=None):
        """:meth:`fit` on a :class:`SeriesData`, or a dict of them (what :func:`keyed_series` returns)."""
        if isinstance(sources, SeriesData):
            sources = {None: sources}
        if self.calendar:
            check_calendar_varies(self.calendar, next(iter(sources.values())).time)
        if seed is not None:
            utils.set_random_seed(seed)
        splits = {key: self._split(key, source, validation_fraction, test_fraction)
                  for key, source in sources.items()}
        first = next(iter(sources.values()))
        self.names, self.frequency = first.names, first.frequency
        self.source = first.source if len(sources) == 1 and None in sources else "collection"
        self.validation_fraction, self.test_fraction = validation_fraction, test_fraction
        self.series, self.splits = dict(sources), splits
        self.scalers = {key: split.scaler for key, split in splits.items()}
        if self.season is None:
            self.season = season_of(self.frequency)
        self.model = self.build_model(len(self.names))
        self.model.compile(optimizers.Adam(learning_rate), self.head.loss())
        train_x, train_y = self._pooled(sources, splits, "train")
        validation, stops = None, []
        if any(len(split.validation) for split in splits.values()):
            validation = self._pooled(sources, splits, "validation")
            stops = [callbacks.EarlyStopping(patience=patience, restore_best_weights=True)]
        self.history = self.model.fit(train_x, train_y, batch_size=batch_size, epochs=epochs,
                                      validation_data=validation, verbose=verbose, callbacks=stops)
        self.adjustments = {}
        if self.quantiles is not None and self.calibrate:
            self.adjustments = {key: conformal_adjustments(self, key, self.series[key], split.validation)
                                for key, split in splits.items() if len(split.validation)}
        return self

    def _pooled(self, sources, splits, part):
        """The model inputs and targets of one part (train or validation) of every series, stacked."""
        chosen = [(sources[key], getattr(split, part)) for key, split in splits.items() if len(getattr(split, part))]
        inputs = [self._model_inputs(source, windows.x, windows.target_starts) for source, windows in chosen]
        targets = np.concatenate([windows.y for _, windows in chosen])
        if self.calendar:
            return [np.concatenate([item[i] for item in inputs]) for i in range(2)], targets
        return np.concatenate(inputs), targets

    def _split(self, key, source, validation_fraction, test_fraction):
        try:
            return ForecastData(source.values, self.lookback, self.horizon, validation_fraction=validation_fraction,
                                test_fraction=test_fraction, relative=self.relative)
        except ValueError as exc:
            raise ValueError(f"series {key!r}: {exc}" if key is not None else str(exc)) from None

    def _require_fit(self):
        if self.model is None:
            raise ValueError("the forecaster is not trained: call fit(series) or Forecaster.load(path) first")

    def _key(self, key):
        if key not in self.scalers:
            if key is None:
                raise ValueError(f"the forecaster was trained on several series ({', '.join(self.scalers)}): "
                                 "name one (key=...)")
            known = ", ".join(str(k) for k in self.scalers if k is not None) or "one unnamed series"
            raise ValueError(f"the forecaster has no series {key!r}: it was trained on {known}")
        return key

    def predict_windows(self, source, origins, key=None):
        """Forecasts from many origins of one series at once, in its units.

        Parameters
        ----------
        source : SeriesData
            The series (its target and covariates, and its stamps).
        origins : array of int
            The first forecast step of each window; each reads the
            ``lookback`` steps before it.
        key : str, optional
            Which series of a global forecaster (its scaler and calibration).

        Returns
        -------
        numpy.ndarray
            (windows, horizon) points, or (windows, horizon, levels) quantiles
            sorted along the last axis.
        """
        if self.quantiles is None:
            output, scale, shift = self._network_windows(source, origins, key)
            return output * scale + shift[:, None]
        forecasts = self.raw_quantile_windows(source, origins, key)
        if key in self.adjustments:
            forecasts = np.sort(forecasts + self.adjustments[key], axis=-1)
        return forecasts

    def raw_quantile_windows(self, source, origins, key=None):
        """The quantile forecasts in units, sorted, before calibration (arguments as :meth:`predict_windows`)."""
        if self.method == "mc_dropout":
            samples, scale, shift = self._network_windows(source, origins, key, self.samples)
            quantiles = self.head.quantiles_of_samples(samples)
        else:
            output, scale, shift = self._network_windows(source, origins, key)
            quantiles = self.head.quantiles(output)
        return np.sort(quantiles, axis=-1) * scale + shift[:, None, None]

    def sample(self, series=None, count=100, key=None):
        """``count`` draws of the ``horizon`` steps after the end of ``series``, in its units.

        A Gaussian head draws from its distributions; Monte Carlo dropout
        runs the network ``count`` times with dropout on. Calibration does
        not apply to samples.

        Parameters
        ----------
        series : optional
            One series as :func:`series_data` takes it; by default the one
            ``fit`` saw (or, for a global forecaster, ``key``'s).
        count : int, default 100
        key : str, optional
            The series of a global forecaster.

        Returns
        -------
        numpy.ndarray (count, horizon)
        """
        if self.method not in ("normal", "mc_dropout"):
            raise ValueError(f"sampling needs method='normal' or 'mc_dropout'; this forecaster's is {self.method!r}")
        if series is None:
            if key not in self.series:
                raise ValueError("give the series to continue: a loaded forecaster keeps no data")
            source = self.series[key]
        else:
            source = series_data(series, self.target, self.covariates)
        origin = [len(source.values)]
        if self.method == "mc_dropout":
            draws, scale, shift = self._network_windows(source, origin, key, count)
        else:
            output, scale, shift = self._network_windows(source, origin, key)
            draws = self.head.samples(output, count, utils.global_generator())
        return draws[:, 0] * scale + shift[0]

    def _network_windows(self, source, origins, key, passes=None):
        """The network's scaled output for each window, and the scale and shifts that map it to units.

        With ``passes``, that many outputs per window with dropout on: (passes, windows, ...).
        """
        self._require_fit()
        scaler = self.scalers[self._key(key)]
        values = source.values
        origins = np.asarray(origins, np.int64)
        if origins.size and (origins.min() < self.lookback or origins.max() > len(values)):
            raise ValueError(f"origins must lie in [{self.lookback}, {len(values)}] for windows of "
                             f"{self.lookback} steps of a series of {len(values)}")
        windows = values[origins[:, None] - self.lookback + np.arange(self.lookback)]
        anchors = windows[:, -1] if self.relative else np.zeros((len(windows), values.shape[1]))
        inputs = self._model_inputs(source, scaler.transform(windows - anchors[:, None]), origins)
        shift = anchors[:, 0] + scaler.offset[0]
        if passes is None:
            return np.asarray(self.model.predict(inputs, batch_size=256, verbose=0), np.float64), scaler.scale[0], shift
        return _dropout_passes(self.model, inputs, passes), scaler.scale[0], shift

    def point(self, forecasts):
        """The point forecast of quantile forecasts (..., levels): the median level, else their mean."""
        if self.quantiles is None:
            return forecasts
        if 0.5 in self.quantiles:
            return forecasts[..., self.quantiles.index(0.5)]
        return forecasts.mean(axis=-1)

    def predict(self, series=None, target=None, covariates=None):
        """The ``horizon`` steps after the end of ``series`` (by default the series ``fit`` saw).

        Parameters
        ----------
        series : optional
            One series as :func:`series_data` takes it, or for a global
            forecaster a dict of them keyed as in training. Must hold the
            target and covariates the forecaster was trained on (by name for
            a table), at least ``lookback`` steps.
        target, covariates : optional
            Default to the trained ones.

        Returns
        -------
        Forecast, or dict of str to Forecast
            A dict for a global forecaster, keyed by series.
        """
        self._require_fit()
        target = target or self.target
        covariates = self.covariates if covariates is None else covariates
        if series is None:
            if not self.series:
                raise ValueError("give the series to continue, predict(series): a loaded forecaster keeps no data "
                                 "(read it again, e.g. with read_csv)")
            sources = self.series
        else:
            sources = keyed_series(series, target, covariates)
        forecasts = {key: self._forecast_after(key, source) for key, source in sources.items()}
        return forecasts if self.is_global else forecasts[None]

    def _forecast_after(self, key, source):
        if source.values.shape[1] != len(self.names):
            raise ValueError(f"the forecaster reads {len(self.names)} series ({', '.join(self.names)}); "
                             f"the data give {source.values.shape[1]}")
        if len(source.values) < self.lookback:
            raise ValueError(f"the forecaster reads {self.lookback} steps; the series has only {len(source.values)}")
        forecasts = self.predict_windows(source, [len(source.values)], key)[0]
        stamps = future_times(source.time, self.frequency, self.horizon)
        if self.quantiles is None:
            return Forecast(stamps, forecasts, None, None, self.target)
        return Forecast(stamps, self.point(forecasts), self.quantiles, forecasts, self.target)

    def settings(self):
        """What a saved forecaster records beside its weights (JSON values)."""
        self._require_fit()
        adjustments = {str(key): value.tolist() for key, value in self.adjustments.items()}
        return {"version": METADATA_VERSION, "lookback": self.lookback, "horizon": self.horizon,
                "units": list(self.units), "bidirectional": self.bidirectional, "cell": self.cell,
                "quantiles": None if self.quantiles is None else list(self.quantiles), "relative": self.relative,
                "season": self.season, "target": self.target, "covariates": self.covariates,
                "frequency": self.frequency, "data": self.source,
                "validation_fraction": self.validation_fraction, "test_fraction": self.test_fraction,
                "calibrate": self.calibrate, "global": self.is_global, "method": self.method,
                "dropout": self.dropout, "samples": self.samples,
                "calendar": None if self.calendar is None else list(self.calendar),
                "scalers": {str(key): scaler.get_config() for key, scaler in self.scalers.items()},
                "interval_adjustments": adjustments}

    def save(self, path, **extra):
        """Write the model, its scalers and settings to ``path`` (a ``.numlstm`` file), with ``extra`` settings."""
        self.model.metadata = {"forecaster": {**self.settings(), **extra}}
        saving.save_model(self.model, path)

    @classmethod
    def from_model(cls, model, settings):
        """A trained forecaster from a loaded model and its ``metadata["forecaster"]`` settings."""
        forecaster = cls(settings["lookback"], settings["horizon"], settings.get("units", ()),
                         settings.get("bidirectional", False), settings.get("cell", "lstm"),
                         settings.get("quantiles"), settings["relative"], settings.get("season"),
                         settings.get("calibrate", True), settings.get("method"), settings.get("dropout"),
                         settings.get("samples", 200), settings.get("calendar"))
        forecaster.model = model
        target = settings.get("target") or settings.get("column") or settings.get("data")
        forecaster.names = (target, *settings.get("covariates", ()))
        forecaster.frequency, forecaster.source = settings.get("frequency"), settings.get("data")
        forecaster.validation_fraction = settings.get("validation_fraction", 0.15)
        forecaster.test_fraction = settings.get("test_fraction", 0.15)
        if "scalers" in settings:  # version 2
            keyed = (lambda key: key) if settings.get("global") else (lambda key: None)
            forecaster.scalers = {keyed(key): scaler_from_config(config)
                                  for key, config in settings["scalers"].items()}
            forecaster.adjustments = {keyed(key): np.asarray(value, np.float64)
                                      for key, value in settings.get("interval_adjustments", {}).items()}
        else:  # version 1: one series, one scaler
            forecaster.scalers = {None: scaler_from_config(settings["scaler"])}
        return forecaster

    @classmethod
    def load(cls, path):
        """The forecaster :meth:`save` wrote to ``path``."""
        model = saving.load_model(path)
        settings = model.metadata.get("forecaster")
        if not isinstance(settings, dict):
            raise ValueError(f"{path} holds a model but no forecaster settings: it was not written by "
                             "Forecaster.save or `numlstm train`")
        return cls.from_model(model, settings)


def _dropout_passes(model, inputs, passes, rows=4096):
    """(passes, windows, ...) outputs of ``model`` with dropout on: the inputs tiled into batches of ``rows``."""
    arrays = inputs if isinstance(inputs, list) else [inputs]
    tiled = [np.tile(array, (passes,) + (1,) * (array.ndim - 1)) for array in arrays]
    outputs = []
    for i in range(0, len(tiled[0]), rows):
        batch = [array[i:i + rows] for array in tiled]
        outputs.append(np.asarray(model(batch if isinstance(inputs, list) else batch[0], training=True), np.float64))
    return np.concatenate(outputs).reshape((passes, len(arrays[0])) + outputs[0].shape[1:])


