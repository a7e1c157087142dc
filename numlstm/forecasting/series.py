"""The data a forecaster reads: a target and its covariates on one time axis, one series or many."""

from dataclasses import dataclass

import numpy as np

from .csv_tables import TimeTable
from .time_steps import infer_frequency


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


def _names(value, argument):
    if value is None:
        return []
    if isinstance(value, str) or not all(isinstance(name, str) for name in value):
        raise TypeError(f"{argument} must be a list of column names, got {value!r}")
    return list(value)


def is_collection(series):
    """True for several series (a dict, or a list or tuple of series) rather than one (an array of numbers).

    Parameters
    ----------
    series : object
        What a forecaster was given.

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np
    >>> is_collection([1.0, 2.0]), is_collection([np.ones(3), np.ones(4)]), is_collection({"a": np.ones(3)})
    (False, True, True)
    """
    if isinstance(series, dict):
        return True
    if isinstance(series, (list, tuple)) and len(series):
        return not np.isscalar(series[0])
    return False


def collection_data(series, target=None, covariates=None):
    """Several series as ``{key: SeriesData}``: a dict keeps its keys (as text), a list is numbered "0", "1", ...

    Every series must hold the same target and covariates, at the same
    frequency.

    Parameters
    ----------
    series : dict or list
        Each value as :func:`series_data` takes it.
    target, covariates
        As :func:`series_data` takes them, for every series.

    Returns
    -------
    dict of str to SeriesData

    Examples
    --------
    >>> import numpy as np
    >>> data = collection_data({"north": np.arange(30.0), "south": np.ones(40)})
    >>> {key: len(value.values) for key, value in data.items()}
    {'north': 30, 'south': 40}
    """
    items = series.items() if isinstance(series, dict) else enumerate(series)
    sources = {str(key): series_data(value, target, covariates) for key, value in items}
    if not sources:
        raise ValueError("series is an empty collection: give at least one series")
    first_key, first = next(iter(sources.items()))
    for key, source in sources.items():
        if source.names != first.names:
            raise ValueError(f"series {key!r} holds {', '.join(source.names)} but series {first_key!r} holds "
                             f"{', '.join(first.names)}: every series needs the same target and covariates")
        if source.frequency != first.frequency:
            raise ValueError(f"series {key!r} has frequency {source.frequency} but series {first_key!r} has "
                             f"{first.frequency}: one model forecasts series of one frequency")
    return sources


def keyed_series(series, target=None, covariates=None):
    """One series or many as ``{key: SeriesData}``.

    A collection is keyed as :func:`collection_data` keys it; one series
    goes under the key None.

    Parameters
    ----------
    series : one series, or a dict or list of them
        Each as :func:`series_data` takes it.
    target, covariates
        As :func:`series_data` takes them.

    Returns
    -------
    dict

    Examples
    --------
    >>> import numpy as np
    >>> list(keyed_series(np.arange(30.0))), list(keyed_series([np.arange(30.0), np.ones(40)]))
    ([None], ['0', '1'])
    """
    if is_collection(series):
        return collection_data(series, target, covariates)
    return {None: series_data(series, target, covariates)}
