"""Calendar features of time stamps: known-future covariates such as the day of the week or the month."""

import numpy as np

# Each feature's cycle: its value counts from 0 and the sine and cosine of 2 pi value / period encode it,
# so that December sits next to January and Sunday next to Monday.
CALENDAR_FEATURES = {"hour": 24, "dayofweek": 7, "dayofmonth": 31, "dayofyear": 366, "month": 12}


def check_calendar(names):
    """``names`` as a tuple of known calendar features; ValueError naming the unknown ones.

    Parameters
    ----------
    names : sequence of str or str
        Features of ``CALENDAR_FEATURES``, e.g. ``("dayofweek", "month")`` or ``"dayofweek,month"``.

    Returns
    -------
    tuple of str

    Examples
    --------
    >>> check_calendar("dayofweek,month")
    ('dayofweek', 'month')
    """
    if isinstance(names, str):
        names = [name.strip() for name in names.split(",") if name.strip()]
    names = tuple(names)
    unknown = [name for name in names if name not in CALENDAR_FEATURES]
    if unknown or not names:
        raise ValueError(f"calendar features must be among {', '.join(CALENDAR_FEATURES)}, got "
                         f"{', '.join(map(repr, unknown)) or 'none'}")
    return names


def check_calendar_varies(names, time):
    """ValueError for a calendar feature that is the same at every stamp (the hour of daily data): it tells nothing.

    Parameters
    ----------
    names : sequence of str
        Features of ``CALENDAR_FEATURES``.
    time : array of datetime64
        The data's stamps.

    Examples
    --------
    >>> import numpy as np
    >>> check_calendar_varies(["hour"], np.arange("2024-01-01", "2024-01-03", dtype="datetime64[D]"))
    Traceback (most recent call last):
    ...
    ValueError: the calendar feature 'hour' is the same at every step of these data; leave it out
    """
    features = calendar_features(time, names)
    for i, name in enumerate(names):
        if np.ptp(features[:, 2 * i:2 * i + 2], axis=0).max() < 1e-9:
            raise ValueError(f"the calendar feature {name!r} is the same at every step of these data; leave it out")


def calendar_features(time, names):
    """The sine and cosine of each calendar feature of each stamp.

    Parameters
    ----------
    time : array of datetime64
    names : sequence of str
        Features of ``CALENDAR_FEATURES``.

    Returns
    -------
    numpy.ndarray (stamps, 2 * features), float64
        For each feature, its sine, then its cosine.

    Examples
    --------
    >>> import numpy as np
    >>> monday = np.array(["2024-01-01"], "datetime64[D]")  # a Monday in January
    >>> calendar_features(monday, ["dayofweek", "month"]).round(3).tolist()
    [[0.0, 1.0, 0.0, 1.0]]
    """
    time = np.asarray(time)
    if not np.issubdtype(time.dtype, np.datetime64):
        raise ValueError("calendar features need dates: the series has numbered steps, not time stamps")
    columns = []
    for name in check_calendar(names):
        angle = 2 * np.pi * _values(time, name) / CALENDAR_FEATURES[name]
        columns += [np.sin(angle), np.cos(angle)]
    return np.column_stack(columns)


def _values(time, name):
    """Each stamp's ``name``, counted from 0 (Monday is day 0 of the week, January month 0)."""
    days = time.astype("datetime64[D]")
    if name == "hour":
        return (time.astype("datetime64[h]") - days).astype(np.int64)
    if name == "dayofweek":
        return (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday, day 3
    if name == "dayofmonth":
        return (days - time.astype("datetime64[M]")).astype(np.int64)
    if name == "dayofyear":
        return (days - time.astype("datetime64[Y]")).astype(np.int64)
    return time.astype("datetime64[M]").astype(np.int64) % 12
