"""Scores of forecasts against the values that came: point errors, intervals and quantile forecasts.

Plain numpy functions. Every array argument is array_like; point forecasts
and actual values share one shape (e.g. ``(windows, horizon)``), and quantile
forecasts have one more, last axis holding the ``Q`` levels.
"""

import numbers

import numpy as np

from ..losses.quantile import _check_quantiles

__all__ = ["rmse", "mae", "mase", "smape", "interval_coverage", "pinball_loss", "crps_from_quantiles",
           "quantile_levels", "central_intervals", "central_interval"]

_TOLERANCE = 1e-9  # how close q and 1 - q must be to pair up as a central interval


def _values(array, what):
    """``array`` as a float64 array, checked to hold numbers."""
    values = np.asarray(array)
    if values.dtype.kind not in "biuf":
        raise TypeError(f"{what} must hold real numbers, got an array of dtype {values.dtype}")
    return values.astype(np.float64, copy=False)


def _same_shape(**arrays):
    """The arrays as float64, checked to share one non-empty shape (keyword order kept)."""
    values = {what: _values(array, what) for what, array in arrays.items()}
    shapes = {what: value.shape for what, value in values.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{what} {shape}" for what, shape in shapes.items())
        raise ValueError(f"the arrays must have one shape, got {listed}")
    if next(iter(values.values())).size == 0:
        raise ValueError(f"{', '.join(values)} must not be empty")
    return tuple(values.values())


def _quantile_arrays(quantile_forecast, actual, quantiles):
    """The forecast, the actual values and the levels, checked: the forecast is ``actual.shape + (Q,)``."""
    levels = np.asarray(quantile_levels(quantiles))
    forecast, actual = _values(quantile_forecast, "quantile_forecast"), _values(actual, "actual")
    if forecast.shape != actual.shape + (len(levels),):
        raise ValueError(f"quantile_forecast has shape {forecast.shape} and actual {actual.shape}; with Q = "
                         f"{len(levels)} quantiles the forecast must be actual's shape plus a last axis of "
                         f"{len(levels)}")
    if actual.size == 0:
        raise ValueError("quantile_forecast, actual must not be empty")
    return forecast, actual, levels


def rmse(forecast, actual):
    """The root mean squared error of a forecast.

    Parameters
    ----------
    forecast, actual : array_like
        The forecast and the actual values, of one shape.

    Returns
    -------
    float
        ``sqrt(mean((forecast - actual) ** 2))``.

    Examples
    --------
    >>> rmse([1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 2.0, 2.0])  # sqrt((1 + 0 + 1 + 4) / 4)
    1.224744871391589
    """
    forecast, actual = _same_shape(forecast=forecast, actual=actual)
    return float(np.sqrt(np.mean((forecast - actual) ** 2)))


def mae(forecast, actual):
    """The mean absolute error of a forecast.

    Parameters
    ----------
    forecast, actual : array_like
        The forecast and the actual values, of one shape.

    Returns
    -------
    float
        ``mean(abs(forecast - actual))``.

    Examples
    --------
    >>> mae([[1.0, 2.0], [3.0, 4.0]], [[2.0, 2.0], [2.0, 2.0]])  # (1 + 0 + 1 + 2) / 4
    1.0
    """
    forecast, actual = _same_shape(forecast=forecast, actual=actual)
    return float(np.mean(np.abs(forecast - actual)))


def mase(forecast, actual, history, season=1):
    """The mean absolute scaled error (Hyndman & Koehler, 2006).

    The forecast's MAE divided by the in-sample MAE of the seasonal naive
    forecast on the training series, ``mean(abs(history[t] - history[t -
    season]))`` over ``t >= season``. Below 1 the forecast beats, on
    average, the naive forecast's one-step errors in the training data.

    Parameters
    ----------
    forecast, actual : array_like
        The forecast and the actual values, of one shape.
    history : array_like
        The 1-D training series, at least ``season + 1`` values long.
    season : int, optional
        The seasonal period of the naive forecast; 1 (the default) is the
        random-walk forecast.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For mismatched shapes, a history that is not 1-D or shorter than
        ``season + 1``, or a scale of 0 (a history that repeats itself
        exactly every ``season`` steps).

    References
    ----------
    R. J. Hyndman and A. B. Koehler, "Another look at measures of forecast
    accuracy", International Journal of Forecasting 22(4), 679-688 (2006).

    Examples
    --------
    >>> mase([3.0, 5.0], [4.0, 4.0], history=[1.0, 2.0, 4.0])  # MAE 1; scale (1 + 2) / 2
    0.6666666666666666
    """
    forecast, actual = _same_shape(forecast=forecast, actual=actual)
    season = _season(season)
    history = _values(history, "history")
    if history.ndim != 1:
        raise ValueError(f"history must be a 1-D series, got shape {history.shape}")
    if len(history) < season + 1:
        raise ValueError(f"history must hold at least season + 1 = {season + 1} values, got {len(history)}")
    scale = np.mean(np.abs(history[season:] - history[:-season]))
    if scale == 0:
        raise ValueError(f"the scale of mase is 0: history repeats itself exactly with period season = {season}")
    return float(np.mean(np.abs(forecast - actual)) / scale)


def _season(season):
    if isinstance(season, bool) or not isinstance(season, numbers.Integral):
        raise TypeError(f"season must be an int, got {type(season).__name__}")
    if season < 1:
        raise ValueError(f"season must be at least 1, got {season}")
    return int(season)


def smape(forecast, actual):
    """The symmetric mean absolute percentage error, in percent (0 to 200).

    ``200 * mean(abs(F - A) / (abs(A) + abs(F)))``. A term whose forecast
    and actual value are both 0 is a perfect forecast and counts as 0 (its
    fraction would be 0 / 0).

    Parameters
    ----------
    forecast, actual : array_like
        The forecast and the actual values, of one shape.

    Returns
    -------
    float

    Examples
    --------
    >>> smape([1.0, 0.0, 3.0], [3.0, 0.0, 3.0])  # 200 * (2 / 4 + 0 + 0) / 3
    33.33333333333333
    """
    forecast, actual = _same_shape(forecast=forecast, actual=actual)
    denominator = np.abs(actual) + np.abs(forecast)
    both_zero = denominator == 0
    fractions = np.abs(forecast - actual) / np.where(both_zero, 1.0, denominator)
    return float(200.0 * np.mean(np.where(both_zero, 0.0, fractions)))


def interval_coverage(lower, upper, actual):
    """The share of actual values inside their forecast interval, bounds included.

    Parameters
    ----------
    lower, upper : array_like
        The interval's bounds, of ``actual``'s shape. Where ``lower >
        upper`` (crossed quantile forecasts) the interval holds nothing.
    actual : array_like
        The actual values.

    Returns
    -------
    float
        The fraction of points with ``lower <= actual <= upper``.

    Examples
    --------
    >>> interval_coverage([0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], [0.5, 1.0, 2.0, -1.0])
    0.5
    """
    lower, upper, actual = _same_shape(lower=lower, upper=upper, actual=actual)
    return float(np.mean((lower <= actual) & (actual <= upper)))


def pinball_loss(quantile_forecast, actual, quantiles):
    """The pinball (quantile) loss of a quantile forecast, the mean over levels and points.

    For the level ``q`` and ``u = actual - forecast`` the term is
    ``max(q * u, (q - 1) * u)``, as in :class:`numlstm.losses.QuantileLoss`.

    Parameters
    ----------
    quantile_forecast : array_like
        The forecast, of shape ``actual.shape + (Q,)``: one value per level.
    actual : array_like
        The actual values.
    quantiles : sequence of float or str
        The ``Q`` levels, as :func:`quantile_levels` reads them.

    Returns
    -------
    float

    Examples
    --------
    >>> pinball_loss([[1.0, 2.0, 4.0]], [2.0], [0.25, 0.5, 0.75])  # (0.25 * 1 + 0 + 0.25 * 2) / 3
    0.25
    """
    forecast, actual, levels = _quantile_arrays(quantile_forecast, actual, quantiles)
    error = actual[..., None] - forecast
    return float(np.mean(np.maximum(levels * error, (levels - 1) * error)))


def crps_from_quantiles(quantile_forecast, actual, quantiles):
    """The continuous ranked probability score approximated from a quantile forecast.

    The CRPS of a forecast distribution with quantile function ``F^-1`` is
    ``2 * integral over q in (0, 1) of rho_q(y - F^-1(q)) dq``, ``rho_q``
    being the pinball loss; this is ``2 * pinball_loss(...)``, the integral
    replaced by the mean over the given levels. It is exact in the limit of
    dense, evenly spaced levels; with a few levels (e.g. 0.1, 0.5, 0.9) it is
    a coarse approximation, best used to compare forecasts made with the
    same levels. GluonTS's "mean weighted quantile loss" is the same quantity
    normalised by ``sum(abs(actual))``.

    Parameters
    ----------
    quantile_forecast : array_like
        The forecast, of shape ``actual.shape + (Q,)``: one value per level.
    actual : array_like
        The actual values.
    quantiles : sequence of float or str
        The ``Q`` levels, as :func:`quantile_levels` reads them.

    Returns
    -------
    float
        The mean over points of the approximate CRPS, in the data's units.

    Examples
    --------
    >>> crps_from_quantiles([[1.0, 2.0, 4.0]], [2.0], [0.25, 0.5, 0.75])  # 2 * 0.25
    0.5
    """
    return 2.0 * pinball_loss(quantile_forecast, actual, quantiles)


def quantile_levels(text_or_sequence):
    """Quantile levels from text such as ``"0.1,0.5,0.9"`` or from a sequence, checked.

    Parameters
    ----------
    text_or_sequence : str or sequence of float
        Comma-separated numbers (spaces allowed), or the numbers themselves.

    Returns
    -------
    tuple of float
        The levels, strictly increasing, each strictly between 0 and 1.

    Raises
    ------
    ValueError
        For text that is not a list of numbers, or levels that are empty,
        not increasing or outside (0, 1).

    Examples
    --------
    >>> quantile_levels("0.1, 0.5,0.9")
    (0.1, 0.5, 0.9)
    """
    if isinstance(text_or_sequence, str):
        pieces = [piece.strip() for piece in text_or_sequence.split(",")]
        try:
            text_or_sequence = [float(piece) for piece in pieces] if text_or_sequence.strip() else []
        except ValueError:
            raise ValueError(f"quantiles must be comma-separated numbers such as '0.1,0.5,0.9', "
                             f"got {text_or_sequence!r}") from None
    return _check_quantiles(text_or_sequence)


def central_intervals(quantiles):
    """Every central interval a set of quantile levels holds, widest first.

    A central interval is a pair of levels ``q`` and ``1 - q`` (matched to
    within 1e-9), with nominal coverage ``1 - 2 q``; the level 0.5 pairs
    with nothing.

    Parameters
    ----------
    quantiles : sequence of float or str
        The levels, as :func:`quantile_levels` reads them.

    Returns
    -------
    list of (int, int, float)
        For each pair, the indices of ``q`` and ``1 - q`` in ``quantiles``
        and the nominal coverage; empty when no level pairs with another.

    Examples
    --------
    >>> central_intervals([0.1, 0.25, 0.5, 0.75, 0.9])
    [(0, 4, 0.8), (1, 3, 0.5)]
    """
    levels = quantile_levels(quantiles)
    return [(low, high, 1.0 - 2.0 * levels[low]) for low in range(len(levels)) for high in range(len(levels))
            if levels[low] < 0.5 and abs(levels[low] + levels[high] - 1.0) <= _TOLERANCE]


def central_interval(quantiles, coverage=None):
    """The widest (or the requested) central interval a set of quantile levels holds.

    A central interval is a pair of levels ``q`` and ``1 - q`` (matched to
    within 1e-9), with nominal coverage ``1 - 2 q``.

    Parameters
    ----------
    quantiles : sequence of float or str
        The levels, as :func:`quantile_levels` reads them.
    coverage : float, optional
        The nominal coverage wanted (e.g. 0.8 for the levels 0.1 and 0.9);
        by default the widest pair.

    Returns
    -------
    low, high : int
        The indices of ``q`` and ``1 - q`` in ``quantiles``.
    coverage : float
        The nominal coverage ``1 - 2 q``.

    Raises
    ------
    ValueError
        If no level pairs with another, or none gives ``coverage``.

    Examples
    --------
    >>> central_interval([0.05, 0.1, 0.5, 0.9, 0.95])
    (0, 4, 0.9)
    >>> central_interval("0.05,0.1,0.5,0.9,0.95", coverage=0.8)
    (1, 3, 0.8)
    """
    levels = quantile_levels(quantiles)
    pairs = central_intervals(levels)
    if not pairs:
        raise ValueError(f"quantiles {list(levels)} hold no symmetric pair of levels q and 1 - q")
    if coverage is None:
        return pairs[0]  # the smallest q: the widest interval
    if isinstance(coverage, bool) or not isinstance(coverage, numbers.Real) or not 0 < coverage < 1:
        raise ValueError(f"coverage must be a number strictly between 0 and 1, got {coverage!r}")
    for pair in pairs:
        if abs(pair[2] - coverage) <= 2 * _TOLERANCE:
            return pair
    raise ValueError(f"quantiles {list(levels)} hold no central interval of coverage {coverage}; they hold "
                     f"{', '.join(f'{pair[2]:g}' for pair in pairs)}")
