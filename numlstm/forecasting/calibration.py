"""Calibrating quantile forecasts on held-out windows: conformalized quantile regression."""

import numpy as np

from .scores import central_intervals


def conformal_adjustments(forecaster, key, source, validation):
    """How far to move each quantile level's forecast, per step ahead, for intervals of nominal coverage.

    Conformalized quantile regression (Romano, Patterson and Candes,
    NeurIPS 2019) on the validation windows: for each pair of levels q
    and 1 - q the conformity score of a window is how far the observed
    value lies outside the interval (negative inside it); the interval
    then widens (or narrows) by the ceil((n + 1)(1 - 2q)) / n quantile of
    the n scores, separately for each step ahead.

    Parameters
    ----------
    forecaster : Forecaster
        Trained, with quantiles.
    key : str or None
        The series (None for a forecaster of one series).
    source : SeriesData
        The series.
    validation : numlstm.preprocessing.Split
        Its validation windows.

    Returns
    -------
    numpy.ndarray (horizon, levels)
        Added to the sorted quantile forecasts in the series' units.
    """
    raw = forecaster.raw_quantile_windows(source, validation.target_starts, key)
    actual = validation.y_units
    levels = forecaster.quantiles
    adjustments = np.zeros((forecaster.horizon, len(levels)))
    count = len(actual)
    for low, high, coverage in central_intervals(levels):
        scores = np.maximum(raw[..., low] - actual, actual - raw[..., high])
        rank = min(1.0, np.ceil((count + 1) * coverage) / count)
        widen = np.quantile(scores, rank, axis=0, method="higher")
        adjustments[:, low], adjustments[:, high] = -widen, widen
    return adjustments
