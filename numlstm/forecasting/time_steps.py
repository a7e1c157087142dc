"""Frequencies of regular time series: their names, the stamps after a series' end, their seasons."""

import re

import numpy as np

# A frequency is an optional multiple and one of these units; M, Q and Y step in calendar months.
UNITS = ("s", "min", "h", "D", "W", "M", "Q", "Y")

# Steps per seasonal cycle for the seasonal naive baseline and MASE: a day of hours, a week of days,
# a year of weeks, months or quarters. Multiples of a unit and yearly data have no season.
SEASONS = {"h": 24, "D": 7, "W": 52, "M": 12, "Q": 4}

_FREQUENCY = re.compile(r"^\s*(\d*)\s*(s|min|h|D|W|M|Q|Y)\s*$")


def frequency_parts(freq):
    """The multiple and unit of a frequency such as ``"D"``, ``"15min"`` or ``"3M"``.

    Parameters
    ----------
    freq : str
        An optional positive multiple followed by one of ``UNITS``.

    Returns
    -------
    (int, str)

    Examples
    --------
    >>> frequency_parts("15min"), frequency_parts("M")
    ((15, 'min'), (1, 'M'))
    """
    match = _FREQUENCY.match(str(freq))
    if not match or (match.group(1) and int(match.group(1)) == 0):
        raise ValueError(f"freq must be a unit of {', '.join(UNITS)} with an optional positive multiple "
                         f"(for example D, W, M, 15min, 2h), got {freq!r}")
    return int(match.group(1) or 1), match.group(2)


def season_of(freq):
    """Steps per seasonal cycle of a series of frequency ``freq``, or None (see ``SEASONS``).

    Parameters
    ----------
    freq : str or None

    Returns
    -------
    int or None

    Examples
    --------
    >>> season_of("M"), season_of("W"), season_of("Y"), season_of("15min")
    (12, 52, None, None)
    """
    if freq is None:
        return None
    multiple, unit = frequency_parts(freq)
    return SEASONS.get(unit) if multiple == 1 else None


def future_times(time, freq, count):
    """The ``count`` stamps after the last of ``time``, one ``freq`` apart.

    Monthly, quarterly and yearly steps move in calendar months and keep the
    day of month (or stay on month ends when the last stamp is one).

    Parameters
    ----------
    time : array of datetime64 or of step numbers
        The series' stamps; for step numbers (no dates) the next numbers.
    freq : str or None
        The series' frequency; None for step numbers.
    count : int

    Returns
    -------
    numpy.ndarray
        Of ``time``'s dtype.

    Examples
    --------
    >>> import numpy as np
    >>> future_times(np.array(["2020-11-30", "2020-12-31"], "datetime64[D]"), "M", 2).tolist()
    [datetime.date(2021, 1, 31), datetime.date(2021, 2, 28)]
    >>> future_times(np.arange(5), None, 2).tolist()
    [5, 6]
    """
    time = np.asarray(time)
    ahead = np.arange(1, count + 1)
    if not np.issubdtype(time.dtype, np.datetime64):
        return time[-1] + ahead
    multiple, unit = frequency_parts(freq)
    last = time[-1]
    if unit not in ("M", "Q", "Y"):
        step = np.timedelta64(multiple, "m" if unit == "min" else unit)
        return (last + step * ahead).astype(time.dtype)
    months = multiple * {"M": 1, "Q": 3, "Y": 12}[unit] * ahead
    resolution = np.datetime_data(time.dtype)[0]
    if resolution in ("Y", "M"):
        return (last.astype("datetime64[M]") + months).astype(time.dtype)
    month = last.astype("datetime64[M]")
    day = last.astype("datetime64[D]")
    starts = (month + months).astype("datetime64[D]")
    lengths = (month + months + 1).astype("datetime64[D]") - starts
    offset = day - month.astype("datetime64[D]")
    if day + 1 == (month + 1).astype("datetime64[D]"):  # a month end: stay on month ends
        offset = lengths - 1
    return (starts + np.minimum(offset, lengths - 1)).astype(time.dtype) + (last - day)
