"""The LSTM forecaster: a target series from its own past and past covariates, as points or quantiles."""

from dataclasses import dataclass

import numpy as np

from .. import callbacks, layers, optimizers, saving, utils
from ..losses import QuantileLoss
from ..models import Sequential
from ..preprocessing import ForecastData, scaler_from_config
from .csv_tables import TimeTable, infer_frequency
from .scores import quantile_levels
from .time_steps import future_times, season_of

CELLS = {"lstm": {}, "peephole": {"peephole": True}, "cifg": {"cifg": True}}

# What a saved forecaster's metadata holds; version 1 (before covariates and quantiles) had no "version".
METADATA_VERSION = 2


@dataclass(frozen=True, eq=False)
class SeriesData:
    """A forecaster's view of a series: the target first, then its covariates, on one time axis.

    Attributes
    ----------
    time : numpy.ndarray
        datetime64 stamps, or step numbers when the data have no dates.
    values : numpy.ndarray (steps, 1 + covariates)
        Finite; the target is column 0.
    names : tuple of str
        The target's name, then the covariates'.
    frequency : str or None
        As ``numlstm.forecasting.infer_frequency`` names it; None without dates.
    source : str
        The packaged series' name or the CSV file's path, for the record.
    description : str
        One line for a person.
    """

    time: np.ndarray
    values: np.ndarray
    names: tuple
    frequency: str | None
    source: str
    description: str


def series_data(series, target=None, covariates=None):
    """``series`` as :class:`SeriesData`: a :class:`TimeTable`, a packaged ``TimeSeries`` or an array.

    Parameters
    ----------
    series : TimeTable or numlstm.datasets.TimeSeries or SeriesData or array_like (steps,)
        The data. An array has no dates: its steps are numbered.
    target : str, optional
        The column forecast: needed for a table of several columns. For an
        array, the name given to it ("y" by default).
    covariates : list of str or array_like (steps, k), optional
        Past covariates read beside the target: column names of a table, or
        an array of ``k`` series beside an array target.

    Returns
    -------
    SeriesData

    Examples
    --------
    >>> from numlstm import datasets
    >>> data = series_data(datasets.load_elnino())
    >>> data.names, data.frequency, data.values.shape
    (('elnino',), 'M', (732, 1))
    """
    from ..datasets import TimeSeries

    if isinstance(series, SeriesData):
        wanted = (target or series.names[0], *(series.names[1:] if covariates is None else covariates))
        if wanted != series.names:
            raise ValueError(f"the data hold {', '.join(series.names)}, not {', '.join(wanted)}")
        return series
    if isinstance(series, TimeTable):
        covariates = _names(covariates, "covariates")
        if target is None:
            candidates = [name for name in series.columns if name not in covariates]
            if len(candidates) != 1:
                raise ValueError(f"{series.source}: choose the target among its numeric columns "
                                 f"{', '.join(series.columns)}")
            target = candidates[0]
        if target in covariates:
            raise ValueError(f"the target {target!r} cannot also be a covariate")
        values = series.values([target, *covariates])
        return SeriesData(series.time, values, (target, *covariates), series.frequency, series.source,
                          series.describe())
    if isinstance(series, TimeSeries):
        if covariates:
            raise ValueError(f"the packaged {series.name!r} series has no covariates")
        if target not in (None, series.name):
            raise ValueError(f"the packaged series is {series.name!r}, not {target!r}")
        return SeriesData(series.time, series.values[:, None], (series.name,), infer_frequency(series.time),
                          series.name, f"{series.name} ({series.units}, {len(series)} steps)")
    values = np.asarray(series, np.float64)
    if values.ndim != 1:
        raise ValueError(f"series must be a TimeTable, a TimeSeries or a 1-D array, got shape {values.shape}")
    names = (target or "y",)
    if isinstance(covariates, (list, tuple)) and all(isinstance(name, str) for name in covariates):
        if covariates:
            raise TypeError(f"covariates {covariates} are column names: they need a TimeTable (read_csv), "
                            "not an array")
        covariates = None
    if covariates is not None:
        extra = np.asarray(covariates, np.float64)
        extra = extra[:, None] if extra.ndim == 1 else extra
        if extra.ndim != 2 or len(extra) != len(values):
            raise ValueError(f"covariates must be an array of shape ({len(values)}, k) beside a series of "
                             f"{len(values)} steps, got shape {np.shape(covariates)}")
        values = np.column_stack([values, extra])
        names += tuple(f"covariate_{i + 1}" for i in range(extra.shape[1]))
    else:
        values = values[:, None]
    return SeriesData(np.arange(len(values)), values, names, None, "array", f"an array of {len(values)} steps")


def _partner(levels, level):
    """The index of the level 1 - ``level`` in ``levels``, or None."""
    for index, other in enumerate(levels):
        if abs(other + level - 1) < 1e-9:
            return index
    return None


def _names(value, argument):
    if value is None:
        return []
    if isinstance(value, str) or not all(isinstance(name, str) for name in value):
        raise TypeError(f"{argument} must be a list of column names, got {value!r}")
    return list(value)


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
                 relative=True, season=None, calibrate=True):
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {cell!r}")
        self.lookback, self.horizon = int(lookback), int(horizon)
        self.units, self.bidirectional, self.cell = tuple(int(u) for u in units), bool(bidirectional), cell
        self.quantiles = None if quantiles is None else quantile_levels(quantiles)
        self.relative, self.season, self.calibrate = bool(relative), season, bool(calibrate)
        self.interval_adjustments = None
        self.model = self.data = self.history = self.scaler = None
        self.names = self.frequency = self.source = self.time = self.values = None
        self.validation_fraction, self.test_fraction = 0.15, 0.15

    def clone(self):
        """An untrained forecaster of the same design (for refitting, as in a backtest)."""
        return type(self)(self.lookback, self.horizon, self.units, self.bidirectional, self.cell, self.quantiles,
                          self.relative, self.season, self.calibrate)

    @property
    def target(self):
        """The name of the series forecast (None before ``fit``)."""
        return self.names[0] if self.names else None

    @property
    def covariates(self):
        """The names of the past covariates read beside the target."""
        return list(self.names[1:]) if self.names else []

    def build_model(self, features):
        """The untrained network for windows of ``features`` series (target first)."""
        model = Sequential([layers.Input((self.lookback, features))], name="forecaster")
        for i, size in enumerate(self.units):
            lstm = layers.LSTM(size, return_sequences=i < len(self.units) - 1, **CELLS[self.cell])
            model.add(layers.Bidirectional(lstm) if self.bidirectional else lstm)
        if self.quantiles is None:
            model.add(layers.Dense(self.horizon))
        else:
            model.add(layers.Dense(self.horizon * len(self.quantiles)))
            model.add(layers.Reshape((self.horizon, len(self.quantiles))))
        return model

    def fit(self, series, target=None, covariates=None, validation_fraction=0.15, test_fraction=0.15, epochs=50,
            batch_size=32, learning_rate=3e-3, patience=5, verbose=0, seed=None):
        """Train on the first part of ``series``, stopping early on the validation part.

        Parameters
        ----------
        series, target, covariates
            As :func:`series_data` takes them.
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
            Itself, trained; ``history`` holds ``fit``'s History and
            ``data`` the :class:`~numlstm.preprocessing.ForecastData`.
        """
        return self.fit_data(series_data(series, target, covariates), validation_fraction, test_fraction, epochs,
                             batch_size, learning_rate, patience, verbose, seed)

    def fit_data(self, source, validation_fraction=0.15, test_fraction=0.15, epochs=50, batch_size=32,
                 learning_rate=3e-3, patience=5, verbose=0, seed=None):
        """:meth:`fit` on a :class:`SeriesData` (what :func:`series_data` returns); returns the forecaster."""
        if seed is not None:
            utils.set_random_seed(seed)
        data = ForecastData(source.values, self.lookback, self.horizon, validation_fraction=validation_fraction,
                            test_fraction=test_fraction, relative=self.relative)
        self.names, self.frequency, self.source = source.names, source.frequency, source.source
        self.validation_fraction, self.test_fraction = validation_fraction, test_fraction
        self.time, self.values, self.data, self.scaler = source.time, source.values, data, data.scaler
        if self.season is None:
            self.season = season_of(self.frequency)
        self.model = self.build_model(source.values.shape[1])
        loss = "mse" if self.quantiles is None else QuantileLoss(self.quantiles)
        self.model.compile(optimizers.Adam(learning_rate), loss)
        validation, stops = None, []
        if len(data.validation):
            validation = (data.validation.x, data.validation.y)
            stops = [callbacks.EarlyStopping(patience=patience, restore_best_weights=True)]
        self.history = self.model.fit(data.train.x, data.train.y, batch_size=batch_size, epochs=epochs,
                                      validation_data=validation, verbose=verbose, callbacks=stops)
        self.interval_adjustments = None
        if self.quantiles is not None and self.calibrate and len(data.validation):
            self.interval_adjustments = self._conformal_adjustments(source.values, data.validation)
        return self

    def _conformal_adjustments(self, values, validation):
        """How far to move each level's forecast, per step ahead, for intervals of nominal coverage.

        Conformalized quantile regression (Romano, Patterson and Candes,
        NeurIPS 2019) on the validation windows: for each pair of levels q
        and 1 - q the conformity score of a window is how far the observed
        value lies outside the interval (negative inside it); the interval
        then widens (or narrows) by the ceil((n + 1)(1 - 2q)) / n quantile of
        the n scores, separately for each step ahead.
        """
        raw = self._quantile_windows(values, validation.target_starts)
        actual = validation.y_units
        adjustments = np.zeros((self.horizon, len(self.quantiles)))
        count = len(actual)
        for low, level in enumerate(self.quantiles):
            high = _partner(self.quantiles, level)
            if high is None or high <= low:
                continue
            scores = np.maximum(raw[..., low] - actual, actual - raw[..., high])
            rank = min(1.0, np.ceil((count + 1) * (1 - 2 * level)) / count)
            widen = np.quantile(scores, rank, axis=0, method="higher")
            adjustments[:, low], adjustments[:, high] = -widen, widen
        return adjustments

    def _require_fit(self):
        if self.model is None:
            raise ValueError("the forecaster is not trained: call fit(series) or Forecaster.load(path) first")

    def predict_windows(self, values, origins):
        """Forecasts from many origins of one series at once, in its units.

        Parameters
        ----------
        values : array (steps, 1 + covariates)
            The target and covariates, as :class:`SeriesData` holds them.
        origins : array of int
            The first forecast step of each window; each reads the
            ``lookback`` steps before it.

        Returns
        -------
        numpy.ndarray
            (windows, horizon) points, or (windows, horizon, levels) quantiles
            sorted along the last axis.
        """
        if self.quantiles is None:
            return self._scaled_windows(values, origins)[0]
        forecasts = self._quantile_windows(values, origins)
        if self.interval_adjustments is not None:
            forecasts = np.sort(forecasts + self.interval_adjustments, axis=-1)
        return forecasts

    def _quantile_windows(self, values, origins):
        """The network's quantile forecasts in units, sorted, before any calibration."""
        output, scale, shift = self._scaled_windows(values, origins)
        return np.sort(output, axis=-1) * scale + shift[:, None, None]

    def _scaled_windows(self, values, origins):
        """Points in units, or (raw quantile output, scale, shift) to map quantiles to units."""
        self._require_fit()
        origins = np.asarray(origins, np.int64)
        if origins.size and (origins.min() < self.lookback or origins.max() > len(values)):
            raise ValueError(f"origins must lie in [{self.lookback}, {len(values)}] for windows of "
                             f"{self.lookback} steps of a series of {len(values)}")
        windows = values[origins[:, None] - self.lookback + np.arange(self.lookback)]
        anchors = windows[:, -1] if self.relative else np.zeros((len(windows), values.shape[1]))
        scaled = self.scaler.transform(windows - anchors[:, None])
        output = np.asarray(self.model.predict(scaled, batch_size=256, verbose=0), np.float64)
        shift = anchors[:, 0] + self.scaler.offset[0]
        if self.quantiles is None:
            return output * self.scaler.scale[0] + shift[:, None], None, None
        return output, self.scaler.scale[0], shift

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
        series : as :func:`series_data` takes it, optional
            Must hold the target and covariates the forecaster was trained
            on (by name for a table), at least ``lookback`` steps.
        target, covariates : optional
            Default to the trained ones.

        Returns
        -------
        Forecast
        """
        self._require_fit()
        if series is None:
            if self.values is None:
                raise ValueError("give the series to continue: a loaded forecaster keeps no data")
            time, values = self.time, self.values
        else:
            data = series_data(series, target or self.target,
                               self.covariates if covariates is None else covariates)
            if data.values.shape[1] != len(self.names):
                raise ValueError(f"the forecaster reads {len(self.names)} series ({', '.join(self.names)}); "
                                 f"the data give {data.values.shape[1]}")
            time, values = data.time, data.values
        if len(values) < self.lookback:
            raise ValueError(f"the forecaster reads {self.lookback} steps; the series has only {len(values)}")
        forecasts = self.predict_windows(values, [len(values)])[0]
        stamps = future_times(time, self.frequency, self.horizon)
        if self.quantiles is None:
            return Forecast(stamps, forecasts, None, None, self.target)
        return Forecast(stamps, self.point(forecasts), self.quantiles, forecasts, self.target)

    def settings(self):
        """What a saved forecaster records beside its weights (JSON values)."""
        self._require_fit()
        return {"version": METADATA_VERSION, "lookback": self.lookback, "horizon": self.horizon,
                "units": list(self.units), "bidirectional": self.bidirectional, "cell": self.cell,
                "quantiles": None if self.quantiles is None else list(self.quantiles), "relative": self.relative,
                "season": self.season, "target": self.target, "covariates": self.covariates,
                "frequency": self.frequency, "data": self.source, "scaler": self.scaler.get_config(),
                "validation_fraction": self.validation_fraction, "test_fraction": self.test_fraction,
                "calibrate": self.calibrate, "interval_adjustments": None if self.interval_adjustments is None
                else self.interval_adjustments.tolist()}

    def save(self, path, **extra):
        """Write the model, its scaler and settings to ``path`` (a ``.numlstm`` file), with ``extra`` settings."""
        self.model.metadata = {"forecaster": {**self.settings(), **extra}}
        saving.save_model(self.model, path)

    @classmethod
    def from_model(cls, model, settings):
        """A trained forecaster from a loaded model and its ``metadata["forecaster"]`` settings."""
        forecaster = cls(settings["lookback"], settings["horizon"], settings.get("units", ()),
                         settings.get("bidirectional", False), settings.get("cell", "lstm"),
                         settings.get("quantiles"), settings["relative"], settings.get("season"))
        forecaster.model, forecaster.scaler = model, scaler_from_config(settings["scaler"])
        target = settings.get("target") or settings.get("column") or settings.get("data")
        forecaster.names = (target, *settings.get("covariates", ()))
        forecaster.frequency, forecaster.source = settings.get("frequency"), settings.get("data")
        forecaster.validation_fraction = settings.get("validation_fraction", 0.15)
        forecaster.test_fraction = settings.get("test_fraction", 0.15)
        forecaster.calibrate = settings.get("calibrate", True)
        if settings.get("interval_adjustments") is not None:
            forecaster.interval_adjustments = np.asarray(settings["interval_adjustments"], np.float64)
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
