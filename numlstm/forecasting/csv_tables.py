"""Dated CSV files of numeric columns, read into a regular time grid with missing values filled and marked.

Only numpy and the standard library: a scientist's CSV file should not need pandas to become training data.
Every problem with the file is a one-line ``ValueError`` that names the file, the line (1-based, the header
being line 1), the column and the cell, and says what was expected. Parsing the stamps, inferring the
frequency and placing the stamps on the grid are :mod:`numlstm.forecasting.time_steps`' part.
"""

import csv
import dataclasses
import os
import re

import numpy as np

from .time_steps import (_ISO_HINT, _frequency_name, _grid_hint, _grid_place, _parse_cell, _plural, _stack,
                         _steps_words, frequency_parts, infer_frequency)

__all__ = ["MISSING_TOKENS", "FILL_STRATEGIES", "TimeTable", "read_csv", "fill_missing"]

MISSING_TOKENS = frozenset({"", "na", "nan", "n/a", "null", "#n/a"})
FILL_STRATEGIES = ("interpolate", "ffill", "refuse")

_TIME_WORDS = frozenset({"date", "time", "timestamp", "datetime", "year", "month", "week", "day", "period", "ds"})
_HOW = {"interpolate": "by linear interpolation", "ffill": "by carrying the last value forward", "refuse": ""}
_MAX_STEPS = 10_000_000  # a too-fine freq would otherwise exhaust memory before saying anything


@dataclasses.dataclass(frozen=True, eq=False)
class TimeTable:
    """Numeric columns on a regular time grid, as :func:`read_csv` returns them; its arrays are read-only.

    Attributes
    ----------
    time : numpy.ndarray
        The grid's datetime64 stamps, or int64 step numbers ``0..steps-1`` when the file has no time column.
    columns : dict
        Column name to float64 array of shape ``(steps,)``, finite everywhere.
    filled : dict
        Column name to bool array of shape ``(steps,)``: True where the value was missing and filled.
    time_column : str or None
        The time column's name.
    frequency : str or None
        The grid's step, e.g. ``"D"``, ``"M"`` or ``"15min"``; None without a time column.
    gaps : tuple
        ``(first missing stamp, number of steps)`` of each run of grid steps absent from the file.
    ignored : tuple
        Names of the text columns skipped.
    source : str
        The file's path, or ``"<file>"`` for a file object.
    fill : str
        The fill strategy used, one of ``FILL_STRATEGIES`` ("interpolate", "ffill", "refuse").
    unread : tuple
        Names of the numeric columns left out because ``columns`` did not list them.

    Examples
    --------
    >>> import io
    >>> table = read_csv(io.StringIO("date,temp\\n2020-01-01,1.5\\n2020-01-02,NA\\n2020-01-03,2.5\\n"))
    >>> len(table), table.frequency, table.columns["temp"].tolist(), table.filled["temp"].tolist()
    (3, 'D', [1.5, 2.0, 2.5], [False, True, False])
    """

    time: np.ndarray
    columns: dict
    filled: dict
    time_column: "str | None"
    frequency: "str | None"
    gaps: tuple
    ignored: tuple
    source: str
    fill: str
    unread: tuple = ()

    def __len__(self):
        """The number of time steps."""
        return len(self.time)

    def __repr__(self):
        return f"TimeTable({self.source}: {len(self)} steps, columns {', '.join(self.columns)})"

    def values(self, names):
        """The named columns side by side, in that order.

        Parameters
        ----------
        names : list of str
            Column names, from ``columns``.

        Returns
        -------
        numpy.ndarray
            float64 array of shape ``(steps, len(names))``.

        Examples
        --------
        >>> import io
        >>> table = read_csv(io.StringIO("a,b\\n1,10\\n2,20\\n"))
        >>> table.values(["b", "a"]).tolist()
        [[10.0, 1.0], [20.0, 2.0]]
        """
        if isinstance(names, str):
            raise TypeError(f"names must be a list of column names, e.g. [{names!r}], not a string")
        names = list(names)
        for name in names:
            if name not in self.columns:
                why = " (a text column, ignored)" if name in self.ignored else ""
                raise ValueError(f"{self.source} has no numeric column {name!r}{why}; "
                                 f"its numeric columns are {', '.join(self.columns)}")
        if not names:
            return np.empty((len(self), 0))
        return np.column_stack([self.columns[name] for name in names])

    def describe(self):
        """One line a person reads: the steps, the missing cells filled, the gaps and the columns ignored.

        Returns
        -------
        str
            e.g. ``"600 daily steps from 2020-01-01 to 2021-08-22; 3 missing cells filled by linear
            interpolation (temp 1, load 2); 1 gap of 2 steps filled"``.

        Examples
        --------
        >>> import io
        >>> text = "date,temp,site\\n2020-01-01,1,a\\n2020-01-02,,b\\n2020-01-04,4,c\\n"
        >>> read_csv(io.StringIO(text)).describe()
        '4 daily steps from 2020-01-01 to 2020-01-04; 1 missing cell filled by linear interpolation (temp 1);
        1 gap of 1 step filled; text column site ignored'
        """
        if self.frequency is None:
            parts = [f"{_plural(len(self), 'step')} (no time column)"]
        else:
            parts = [f"{_steps_words(self.frequency, len(self))} from {self.time[0]} to {self.time[-1]}"]
        inserted = np.zeros(len(self), bool)
        for stamp, count in self.gaps:
            start = int(np.searchsorted(self.time, stamp))
            inserted[start:start + count] = True
        cells = {name: int((mask & ~inserted).sum()) for name, mask in self.filled.items()}
        counts = ", ".join(f"{name} {count}" for name, count in cells.items() if count)
        total = sum(cells.values())
        parts.append(f"{_plural(total, 'missing cell')} filled {_HOW[self.fill]} ({counts})" if total
                     else "no missing cells")
        if self.gaps:
            steps = sum(count for _, count in self.gaps)
            parts.append(f"{_plural(len(self.gaps), 'gap')} of {_plural(steps, 'step')}"
                         f"{' in all' if len(self.gaps) > 1 else ''} filled")
        if self.ignored:
            parts.append(f"text column{'s' if len(self.ignored) > 1 else ''} {', '.join(self.ignored)} ignored")
        return "; ".join(parts)


def read_csv(source, time_column=None, freq=None, fill="interpolate", columns=None, id_column=None):
    """Read a CSV file of numeric columns into a regular time grid, filling and marking missing values.

    The time column, unless named, is the first whose cells all parse as dates (see :func:`parse_times`);
    4- and 8-digit numbers count as years and YYYYMMDD dates only under a time-like header (date, year,
    ...) or in a first column that strictly increases. Steps absent from the file are inserted as missing.

    Parameters
    ----------
    source : str, os.PathLike or text file object
        The CSV file, with a header row.
    time_column : str, optional
        The time column's name; None: detect it (the file may have none: steps are then numbered).
    freq : str, optional
        The grid's step, e.g. ``"D"``, ``"W"``, ``"M"``, ``"Q"``, ``"Y"``, ``"h"``, ``"15min"``, ``"3D"``;
        None: the most common step between the times. A grid on which more than half of the steps would
        have no row is refused: its values would be mostly made up.
    fill : {"interpolate", "ffill", "refuse"}
        How to fill missing values (see :func:`fill_missing`); "refuse" raises if any is missing.
    columns : list of str, optional
        The numeric columns to keep, in that order; None: all numeric columns in file order.
    id_column : str, optional
        For a file of several series in long format (one row per series and time): the column naming
        the series. Each series' rows become a table of their own, with its own grid, gaps and filling.

    Returns
    -------
    TimeTable, or dict of str to TimeTable
        A dict (keyed by the id column's values, in the order they first appear) with ``id_column``.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "flows.csv")
    >>> with open(path, "w") as file:
    ...     _ = file.write("month,flow,site\\n2020-01,5,a\\n2020-02,n/a,a\\n2020-04,8,a\\n")
    >>> table = read_csv(path, fill="ffill")
    >>> table.time.tolist() == list(np.arange("2020-01", "2020-05", dtype="datetime64[M]"))
    True
    >>> table.columns["flow"].tolist(), [(str(stamp), steps) for stamp, steps in table.gaps], table.ignored
    ([5.0, 5.0, 5.0, 8.0], [('2020-03', 1)], ('site',))
    """
    _check_strategy(fill, "fill")
    if freq is not None:
        freq = _frequency_name(*frequency_parts(freq))
    wanted = _check_names(columns)
    src, header, lines, table = _read_table(source)
    if id_column is None:
        return _time_table(src, header, lines, table, time_column, freq, fill, wanted)
    if id_column not in header:
        raise ValueError(f"{src} has no column {id_column!r}; its columns are {', '.join(header)}")
    if id_column in (wanted or ()) or id_column == time_column:
        raise ValueError(f"{src}: column {id_column!r} is the id column; it cannot also be a data or time column")
    index = header.index(id_column)
    groups = {}
    for row, (line, key) in enumerate(zip(lines, table[index])):
        if key.lower() in MISSING_TOKENS:
            raise ValueError(f"{src} line {line}: the id column {id_column!r} is empty; every row needs its series")
        groups.setdefault(key, []).append(row)
    rest = [name for name in header if name != id_column]
    cells = [column for i, column in enumerate(table) if i != index]
    return {key: _time_table(f"{src} ({id_column} {key})", rest, [lines[row] for row in rows],
                             [[column[row] for row in rows] for column in cells], time_column, freq, fill, wanted)
            for key, rows in groups.items()}


def _time_table(src, header, lines, table, time_column, freq, fill, wanted):
    """The TimeTable of a file's rows (all of them, or one series' of a long file)."""
    time_column = _choose_time_column(src, header, table, time_column, wanted)
    if time_column is None:
        if freq is not None:
            raise ValueError(f"{src} has no time column that freq could apply to; name it with time_column")
        steps = np.arange(len(lines), dtype=np.int64)
        time, positions, frequency, gaps = steps, steps, None, ()
    else:
        cells = table[header.index(time_column)]
        time, positions, frequency, gaps = _time_axis(src, time_column, cells, lines, freq)
    data, ignored, unread = _data_columns(src, header, table, lines, time_column, wanted)
    values, filled = _fill_columns(src, data, time, positions, lines, fill)
    for array in [time, *values.values(), *filled.values()]:
        array.setflags(write=False)
    return TimeTable(time, values, filled, time_column, frequency, gaps, ignored, src, fill, unread)


def fill_missing(values, strategy, name="values"):
    """Fill the missing (NaN) values of a series.

    Parameters
    ----------
    values : array_like
        One-dimensional numbers, NaN where missing, at least one not.
    strategy : {"interpolate", "ffill", "refuse"}
        "interpolate": linearly between the neighbouring observed values, runs at either end taking the
        nearest observed value; "ffill": the last observed value, a leading run taking the first;
        "refuse": ValueError if any value is missing.
    name : str
        What the values are, for error messages.

    Returns
    -------
    filled : numpy.ndarray
        float64 copy with the missing values filled.
    was_missing : numpy.ndarray
        bool array, True where the value was missing.

    Examples
    --------
    >>> fill_missing([np.nan, 1.0, np.nan, 3.0, np.nan], "interpolate")[0].tolist()
    [1.0, 1.0, 2.0, 3.0, 3.0]
    >>> filled, was_missing = fill_missing([np.nan, 1.0, np.nan, 3.0, np.nan], "ffill")
    >>> filled.tolist(), was_missing.tolist()
    ([1.0, 1.0, 1.0, 3.0, 3.0], [True, False, True, False, True])
    """
    _check_strategy(strategy, "strategy")
    try:
        values = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be numbers (NaN where missing)") from None
    if values.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, not of shape {values.shape}")
    if np.isinf(values).any():
        raise ValueError(f"{name}[{int(np.argmax(np.isinf(values)))}] is infinite; values must be finite or NaN")
    missing = np.isnan(values)
    if not missing.any():
        return values, missing
    first = int(np.argmax(missing))
    if strategy == "refuse":
        raise ValueError(f"{name} has {_plural(int(missing.sum()), 'missing value')} (first at index {first}); "
                         "fill them or choose 'interpolate' or 'ffill'")
    observed = np.flatnonzero(~missing)
    if observed.size == 0:
        raise ValueError(f"{name} has no value to fill from: all {len(values)} are missing")
    steps = np.arange(len(values))
    if strategy == "interpolate":
        values[missing] = np.interp(steps[missing], observed, values[observed])
        return values, missing
    last = np.maximum.accumulate(np.where(missing, -1, steps))
    return values[np.maximum(last, observed[0])], missing


# Reading the file


def _read_table(source):
    """(source name, header, data rows' line numbers, cells of each column) of a CSV file; blank rows skipped."""
    if isinstance(source, (str, os.PathLike)):
        src = os.fspath(source)
    elif hasattr(source, "read"):
        src = "<file>"
    else:
        raise TypeError(f"source must be a path or a text file object, not a {type(source).__name__}")
    try:
        if src == "<file>":
            rows = _rows(csv.reader(source))
        else:
            with open(source, encoding="utf-8-sig", newline="") as file:
                rows = _rows(csv.reader(file))
    except (UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"cannot read {src} as a CSV file ({error})") from None
    if len(rows) < 2:
        why = "it has a header but no data rows" if rows else "it is empty"
        raise ValueError(f"cannot read {src} as a CSV file ({why})")
    (_, header), data = rows[0], rows[1:]
    header[0] = header[0].lstrip("\ufeff")  # a file object opened as utf-8 keeps the byte order mark
    for i, name in enumerate(header):
        if name in header[:i]:
            raise ValueError(f"{src}: the header names column {name!r} twice; give each column its own name")
    for line, row in data:
        if any(row[len(header):]):
            raise ValueError(f"{src} line {line} has {len(row)} cells, but the header has {len(header)} columns")
    table = [[row[i] if i < len(row) else "" for _, row in data] for i in range(len(header))]
    return src, header, [line for line, _ in data], table


def _rows(reader):
    """(line number, stripped cells) of the reader's rows that are not entirely blank."""
    rows = []
    for row in reader:
        cells = [cell.strip() for cell in row]
        if any(cells):
            rows.append((reader.line_num, cells))
    return rows


def _check_names(columns):
    """``columns`` as a list of names, or None."""
    if columns is None:
        return None
    if isinstance(columns, str) or not all(isinstance(name, str) for name in columns):
        raise TypeError(f"columns must be a list of column names, not {columns!r}")
    columns = list(columns)
    if not columns:
        raise ValueError("columns is empty; name at least one column, or give None for all numeric columns")
    for i, name in enumerate(columns):
        if name in columns[:i]:
            raise ValueError(f"columns lists {name!r} twice; list each column once")
    return columns


def _choose_time_column(src, header, table, time_column, wanted):
    """The time column's name: ``time_column`` checked, or the one detected among the columns not ``wanted``."""
    for name in ([] if time_column is None else [time_column]) + (wanted or []):
        if name not in header:
            raise ValueError(f"{src} has no column {name!r}; its columns are {', '.join(header)}")
    if time_column is None:
        found = _detect_time_column(header, table, set(wanted or ()))
        if found is None:
            _refuse_unread_dates(src, header, table, set(wanted or ()))
        return found
    if time_column in (wanted or ()):
        raise ValueError(f"{src}: column {time_column!r} is the time column; leave it out of columns")
    return time_column


def _fill_columns(src, data, time, positions, lines, fill):
    """({name: filled values}, {name: was missing}) of the columns spread over the grid's steps."""
    step_lines = np.zeros(len(time), np.int64)  # 0 marks the steps inserted for gaps
    step_lines[positions] = lines
    values, filled = {}, {}
    for name, column in data.items():
        spread = np.full(len(time), np.nan)
        spread[positions] = column
        if fill == "refuse":
            _refuse(src, name, spread, step_lines, time)
        values[name], filled[name] = fill_missing(spread, fill, name)
    return values, filled


def _data_columns(src, header, table, lines, time_column, wanted):
    """({name: float64 values, NaN where missing} of the numeric columns kept, names of the text columns, names
    of the numeric columns not wanted)."""
    data, ignored, unread = {}, [], []
    for name, cells in zip(header, table):
        if name == time_column:
            continue
        if wanted is not None and name in wanted:
            data[name] = _numbers(src, name, cells, lines)
        elif _is_text(cells):
            ignored.append(name)
        elif wanted is None:
            data[name] = _numbers(src, name, cells, lines)
        else:
            unread.append(name)
    if not data:
        raise ValueError(f"{src} has no numeric column: every column but the time column holds text "
                         f"({', '.join(ignored) or 'none'})")
    return ({name: data[name] for name in wanted} if wanted else data), tuple(ignored), tuple(unread)


def _is_text(cells):
    """Whether a cell of the column is neither a number nor missing."""
    for cell in cells:
        if cell.lower() not in MISSING_TOKENS:
            try:
                float(cell)
            except ValueError:
                return True
    return False


def _numbers(src, name, cells, lines):
    """float64 values of a numeric column's cells, NaN where missing."""
    values = np.empty(len(cells))
    for i, cell in enumerate(cells):
        if cell.lower() in MISSING_TOKENS:
            values[i] = np.nan
            continue
        try:
            values[i] = float(cell)
        except ValueError:
            raise ValueError(f"{src} line {lines[i]}, column {name!r}: {cell!r} is not a number") from None
    if np.isinf(values).any():
        i = int(np.argmax(np.isinf(values)))
        raise ValueError(f"{src} line {lines[i]}, column {name!r}: {cells[i]!r} is infinite; "
                         "write a finite number, or leave the cell empty for a missing value")
    if np.isnan(values).all():
        raise ValueError(f"{src}: column {name!r} has no numbers, every cell is missing; leave it out with columns")
    return values


def _refuse(src, name, spread, step_lines, time):
    """Raise the ValueError of fill="refuse" if a value of the column is missing."""
    missing = np.isnan(spread)
    if missing.any():
        i = int(np.argmax(missing))
        where = f"line {step_lines[i]}" if step_lines[i] else f"{time[i]}, a step absent from the file"
        raise ValueError(f"{src}: column {name!r} has {_plural(int(missing.sum()), 'missing value')} "
                         f"(first at {where}); fill them or choose fill='interpolate' or 'ffill'")


def _check_strategy(strategy, name):
    if not isinstance(strategy, str) or strategy not in FILL_STRATEGIES:
        raise ValueError(f"{name}={strategy!r} is not a fill strategy; choose one of {', '.join(FILL_STRATEGIES)}")


# The time column


def _detect_time_column(header, table, skip):
    """The first column whose every non-missing cell is a date, the numeric-looking only where plausible."""
    for i, (name, cells) in enumerate(zip(header, table)):
        parsed = [] if name in skip else _dates_or_none(cells)
        if not parsed:
            continue
        # 4-digit flows or counts would otherwise pass for years.
        if any(numeric for _, numeric in parsed):
            stamps = _stack([stamp for stamp, _ in parsed])
            time_like = bool(_TIME_WORDS & set(re.split(r"[^a-z]+", name.lower())))
            if not (time_like or (i == 0 and (stamps[1:] > stamps[:-1]).all())):
                continue
        return name
    return None


def _refuse_unread_dates(src, header, table, skip):
    """Raise when a column named like time holds text that is not a date: the series must not lose its dates."""
    for name, cells in zip(header, table):
        if name in skip or not _TIME_WORDS & set(re.split(r"[^a-z]+", name.lower())) or not _is_text(cells):
            continue
        cell = next((cell for cell in cells if cell.lower() not in MISSING_TOKENS and _parse_cell(cell) is None), None)
        if cell is not None:
            raise ValueError(f"{src}: column {name!r} looks like the time column, but {cell!r} is not a date "
                             f"numlstm reads; {_ISO_HINT}")


def _dates_or_none(cells):
    """The parsed non-missing cells, or None as soon as one is not a date."""
    parsed = []
    for cell in cells:
        if cell.lower() not in MISSING_TOKENS:
            parsed.append(_parse_cell(cell))
            if parsed[-1] is None:
                return None
    return parsed


def _read_times(src, name, cells, lines):
    """datetime64 array of the time column, checked to have no missing cell and to strictly increase."""
    stamps = []
    for cell, line in zip(cells, lines):
        if cell.lower() in MISSING_TOKENS:
            raise ValueError(f"{src} line {line}, column {name!r}: the time is missing; every row needs one")
        parsed = _parse_cell(cell)
        if parsed is None:
            raise ValueError(f"{src} line {line}, column {name!r}: {cell!r} is not a date or time; {_ISO_HINT}")
        stamps.append(parsed[0])
    time = _stack(stamps)
    later = time[1:] > time[:-1]
    if not later.all():
        i = int(np.argmin(later))
        raise ValueError(f"{src}: line {lines[i + 1]} ({cells[i + 1]}) does not come after line {lines[i]} "
                         f"({cells[i]}): sort the file by time, one row per time (for several series in one "
                         "file, give the column naming them as id_column)")
    return time


def _time_axis(src, name, cells, lines, freq):
    """(grid stamps, positions of the rows on it, frequency, gaps) of the time column's cells."""
    stamps = _read_times(src, name, cells, lines)
    if freq is None:
        if len(stamps) < 2:
            raise ValueError(f"{src} has one row: its frequency cannot be inferred; give freq, e.g. freq='D'")
        try:
            freq = infer_frequency(stamps)
        except ValueError as error:
            raise ValueError(f"{src}: {error}") from None
    positions, build, bad = _grid_place(stamps, freq)
    if bad is not None:
        raise ValueError(f"{src}: line {lines[bad]} ({cells[bad]}) is not on the grid of "
                         f"{_steps_words(freq)} from line {lines[0]} ({cells[0]}); {_grid_hint(stamps, freq)}")
    steps = int(positions[-1]) + 1
    if steps > _MAX_STEPS:
        raise ValueError(f"{src}: freq={freq!r} makes {steps} steps of {len(stamps)} rows; choose a coarser freq")
    if steps > 2 * len(stamps):
        own = _steps_words(infer_frequency(stamps)) if len(stamps) > 1 else "unknown"
        raise ValueError(f"{src}: on a grid of {_steps_words(freq)} the {len(stamps)} rows leave "
                         f"{steps - len(stamps)} of {steps} steps without data; choose the data's own frequency "
                         f"(its most common step: {own})")
    time = build(steps)
    absent = np.ones(steps, bool)
    absent[positions] = False
    edges = np.diff(np.concatenate(([0], absent.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return time, positions, freq, tuple((time[s], int(e - s)) for s, e in zip(starts, ends))
