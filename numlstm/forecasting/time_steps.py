"""Frequencies of regular time series: parsing stamps, inferring the frequency, placing stamps on the grid,
the stamps after a series' end, and their seasons.

Only numpy and the standard library. A frequency is a string such as ``"D"``, ``"M"`` or ``"15min"`` (see
:func:`frequency_parts`); stamps are datetime64 arrays (see :func:`parse_times`).
"""

import re

import numpy as np

# A frequency is an optional multiple and one of these units; M, Q and Y step in calendar months.
UNITS = ("s", "min", "h", "D", "W", "M", "Q", "Y")

# Steps per seasonal cycle for the seasonal naive baseline and MASE: a day of hours, a week of days,
# a year of weeks, months or quarters. Multiples of a unit and yearly data have no season.
SEASONS = {"h": 24, "D": 7, "W": 52, "M": 12, "Q": 4}

_FREQUENCY = re.compile(r"(\d*)(s|min|h|D|W|M|Q|Y)")
_FREQUENCY_FORMS = ("a unit s, min, h, D, W, M, Q or Y after an optional positive multiple, "
                    "e.g. 'D', '15min', '2h', '3D'")
_SECONDS = {"W": 604800, "D": 86400, "h": 3600, "min": 60, "s": 1}  # largest first: names use the largest unit
_MONTHS = {"M": 1, "Q": 3, "Y": 12}
_ADJECTIVES = {"h": "hourly", "D": "daily", "W": "weekly", "M": "monthly", "Q": "quarterly", "Y": "yearly"}
_NOUNS = {"s": "second", "min": "minute", "h": "hour", "D": "day", "W": "week", "M": "month", "Q": "quarter",
          "Y": "year"}

_DATE = re.compile(r"(\d{4})([-/])(\d{1,2})\2(\d{1,2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,3})?)?Z?)?")
_YEAR_MONTH = re.compile(r"(\d{4})[-/](\d{1,2})")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_YEAR = re.compile(r"\d{4}")
_ISO_HINT = "write ISO dates YYYY-MM-DD (or YYYY-MM, YYYY, YYYY-MM-DDTHH:MM:SS)"
_DATETIME_UNITS = ("Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns")  # datetime64 units, coarse to fine


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
    if not isinstance(freq, str):
        raise TypeError(f"freq must be a string such as 'D' or '15min', not a {type(freq).__name__}")
    match = _FREQUENCY.fullmatch(freq.strip())
    if not match or (match[1] and int(match[1]) == 0):
        raise ValueError(f"freq={freq!r} is not a frequency; write {_FREQUENCY_FORMS}")
    return int(match[1] or 1), match[2]


def parse_times(cells, name="time"):
    """Parse date and time strings into a datetime64 array.

    Accepted: ``YYYY-MM-DD``; ``YYYY-MM-DDTHH:MM[:SS[.fff]]``, with a space for the T and an optional
    trailing Z (read as is: no time zone conversion); ``YYYY-MM``; ``YYYYMMDD``; ``YYYY``; and the slash
    forms ``YYYY/MM/DD`` and ``YYYY/MM``. The unit is the finest the cells need: Y for years, M for
    year-months, D for dates, s for date-times, ms with fractional seconds.

    Parameters
    ----------
    cells : sequence of str
        The strings; surrounding white space is ignored.
    name : str
        What the cells are, for error messages.

    Returns
    -------
    numpy.ndarray
        datetime64 array of the same length.

    Examples
    --------
    >>> parse_times(["2020/01/31", "2020-02-29"])
    array(['2020-01-31', '2020-02-29'], dtype='datetime64[D]')
    >>> parse_times(["2020-01-01 06:00Z", "20200101"])
    array(['2020-01-01T06:00:00', '2020-01-01T00:00:00'], dtype='datetime64[s]')
    """
    if isinstance(cells, str):
        raise TypeError(f"{name}: cells must be a sequence of strings, e.g. [{cells!r}], not a string")
    stamps = []
    for i, cell in enumerate(cells):
        if not isinstance(cell, str):
            raise TypeError(f"{name}: cells[{i}] is a {type(cell).__name__}, not a string")
        parsed = _parse_cell(cell.strip())
        if parsed is None:
            raise ValueError(f"{name}: cells[{i}] {cell!r} is not a date or time; {_ISO_HINT}")
        stamps.append(parsed[0])
    return _stack(stamps)


def infer_frequency(time):
    """The grid step of sorted, unique datetime64 stamps: their most common step, in the largest unit.

    Steps of 28 to 31 days between stamps on the same day of the month (or all on month ends) are
    monthly, "M"; likewise 89 to 92 days "Q" and 365 or 366 days "Y".

    Parameters
    ----------
    time : numpy.ndarray
        datetime64 stamps, strictly increasing, at least two.

    Returns
    -------
    str
        e.g. ``"D"``, ``"W"``, ``"M"``, ``"Q"``, ``"Y"``, ``"h"``, ``"15min"``, ``"3D"``.

    Examples
    --------
    >>> infer_frequency(parse_times(["2020-01-31", "2020-02-29", "2020-03-31", "2020-05-31"]))
    'M'
    >>> infer_frequency(parse_times(["2020-01-01T00:00", "2020-01-01T00:15", "2020-01-01T01:00"]))
    '15min'
    """
    time = np.asarray(time)
    if time.dtype.kind != "M" or time.ndim != 1:
        raise TypeError(f"time must be a one-dimensional datetime64 array (see parse_times), not {time.dtype}")
    if len(time) < 2:
        raise ValueError("a frequency cannot be inferred from fewer than two stamps; give freq")
    steps = np.diff(time)
    if not (steps > np.timedelta64(0)).all():
        raise ValueError(f"stamp {time[1:][~(steps > np.timedelta64(0))][0]} does not come after the one before; "
                         "the stamps must strictly increase")
    if _unit(time) in ("Y", "M"):
        return _months_name(_mode(np.diff(time.astype("M8[M]").astype(np.int64))))
    step = np.timedelta64(_mode(steps.astype(np.int64)), _unit(time))
    days = step / np.timedelta64(1, "D")
    months = round(days / 30.436875)
    if months >= 1 and abs(days - months * 30.436875) <= 3.5 and _calendar_place(time, months)[2] is None:
        return _months_name(months)
    seconds = step / np.timedelta64(1, "s")
    if seconds != int(seconds):
        raise ValueError(f"the most common step is {step}, finer than a second: the finest freq is 's'")
    return _seconds_name(int(seconds))


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
    if unit not in _MONTHS:
        step = np.timedelta64(multiple, "m" if unit == "min" else unit)
        return (last + step * ahead).astype(time.dtype)
    months = multiple * _MONTHS[unit] * ahead
    resolution = _unit(time)
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


# Parsing stamps


def _parse_cell(cell):
    """(datetime64 stamp, whether it looks like a number) of a stripped cell, or None if it is not a date."""
    if match := _DATE.fullmatch(cell):
        year, _, month, day, hour, minute, second, fraction = match.groups()
        iso, unit = f"{year}-{int(month):02d}-{int(day):02d}", "D"
        if hour is not None:  # a trailing Z is left out: numpy warns about time zones
            iso, unit = f"{iso}T{hour}:{minute}:{second or '00'}{fraction or ''}", "ms" if fraction else "s"
        numeric = False
    elif match := _YEAR_MONTH.fullmatch(cell):
        iso, unit, numeric = f"{match[1]}-{int(match[2]):02d}", "M", False
    elif match := _COMPACT.fullmatch(cell):
        iso, unit, numeric = f"{match[1]}-{match[2]}-{match[3]}", "D", True
    elif _YEAR.fullmatch(cell):
        iso, unit, numeric = cell, "Y", True
    else:
        return None
    try:
        return np.datetime64(iso, unit), numeric
    except ValueError:  # a month, day or hour out of range
        return None


def _stack(stamps):
    """datetime64 array of the stamps, in the finest unit among them."""
    unit = max((_unit(stamp) for stamp in stamps), key=_DATETIME_UNITS.index, default="D")
    return np.array(stamps, dtype=f"datetime64[{unit}]")


def _unit(time):
    return np.datetime_data(time.dtype)[0]


# The grid


def _grid_place(stamps, freq):
    """(positions, grid builder, None) of sorted stamps on the grid of ``freq`` from the first; else (None, None,
    index of the first stamp off)."""
    count, unit = frequency_parts(freq)
    if unit in _MONTHS:
        return _calendar_place(stamps, count * _MONTHS[unit])
    return _fixed_place(stamps, count * _SECONDS[unit], "D" if unit in ("D", "W") else "s")


def _calendar_place(stamps, months):
    """(positions, grid builder, None) of stamps ``months`` calendar months apart, on the same day of the
    month or all at the same distance from month ends; else (None, None, index of the first stamp off)."""
    unit = _unit(stamps)
    out = max(unit, "Y" if months % 12 == 0 else "M", key=_DATETIME_UNITS.index)
    month = stamps.astype("M8[M]")
    k = (month - month[0]).astype(np.int64)
    if unit in ("Y", "M"):
        after_start = before_end = np.zeros(len(stamps), np.int64)
    else:
        after_start = (stamps - month.astype(stamps.dtype)).astype(np.int64)
        before_end = ((month + 1).astype(stamps.dtype) - stamps).astype(np.int64)
    bad_start = _first_false((k % months == 0) & (after_start == after_start[0]))
    bad_end = _first_false((k % months == 0) & (before_end == before_end[0]))

    def build(steps):
        grid = month[0] + np.arange(steps) * months
        if bad_start is None:
            return grid.astype(f"M8[{out}]") + np.timedelta64(int(after_start[0]), unit)
        return (grid + 1).astype(f"M8[{out}]") - np.timedelta64(int(before_end[0]), unit)

    if bad_start is not None and bad_end is not None:
        return None, None, max(bad_start, bad_end)  # the anchor that holds longer is the one meant
    return k // months, build, None


def _fixed_place(stamps, seconds, base):
    """(positions, grid builder, None) of stamps a multiple of ``seconds`` after the first; else (None, None,
    index of the first stamp off)."""
    out = max(_unit(stamps), base, key=_DATETIME_UNITS.index)
    ticks = stamps.astype(f"M8[{out}]").astype(np.int64)
    step = int(np.timedelta64(seconds, "s").astype(f"m8[{out}]").astype(np.int64))
    offsets = ticks - ticks[0]
    bad = _first_false(offsets % step == 0)
    if bad is not None:
        return None, None, bad
    first = stamps[0].astype(f"M8[{out}]")
    return offsets // step, lambda steps: first + np.arange(steps) * np.timedelta64(step, out), None


def _grid_hint(stamps, freq):
    """What to do about a stamp off the grid of ``freq``."""
    if frequency_parts(freq)[1] in _MONTHS:
        return "monthly stamps must fall on the same day of the month, or all on month ends; fix it or give freq"
    offsets = (stamps - stamps[0]) / np.timedelta64(1, "s")
    if (offsets != np.round(offsets)).any():
        return "give freq, or fix the time"
    finest = _seconds_name(int(np.gcd.reduce(offsets.astype(np.int64))))
    return f"give freq='{finest}' if the steps are that fine, or fix the time"


def _first_false(ok):
    return None if ok.all() else int(np.argmin(ok))


def _mode(steps):
    """The most common step; the smallest of those as common, so that a gap does not make the grid coarse."""
    unique, counts = np.unique(steps, return_counts=True)
    return int(unique[np.argmax(counts)])


# Frequency names


def _frequency_name(count, unit):
    return unit if count == 1 else f"{count}{unit}"


def _months_name(months):
    if months % 12 == 0:
        return _frequency_name(months // 12, "Y")
    return "Q" if months == 3 else _frequency_name(months, "M")


def _seconds_name(seconds):
    unit = next(unit for unit, size in _SECONDS.items() if seconds % size == 0)
    return _frequency_name(seconds // _SECONDS[unit], unit)


def _steps_words(freq, steps=None):
    """e.g. "daily steps", "600 daily steps", "steps of 15 minutes"."""
    count, unit = frequency_parts(freq)
    number = "" if steps is None else f"{steps} "
    noun = "step" if steps == 1 else "steps"
    if count == 1 and unit in _ADJECTIVES:
        return f"{number}{_ADJECTIVES[unit]} {noun}"
    return f"{number}{noun} of {_plural(count, _NOUNS[unit])}"


def _plural(count, noun):
    return f"{count} {noun}{'' if count == 1 else 's'}"
