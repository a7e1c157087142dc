"""Reading a series for the command line: a packaged data set by name, or a column of a CSV file."""

import csv
import pathlib

import numpy as np

from .. import datasets, saving
from .errors import CommandError


def load_model_file(path, kind, written_by):
    """The model at ``path`` and its ``metadata[kind]``; a CommandError when it is missing, damaged or foreign."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise CommandError(f"no such model file: {path}")
    try:
        model = saving.load_model(path)
    except saving.FileFormatError as exc:
        raise CommandError(str(exc)) from None
    settings = model.metadata.get(kind)
    if not isinstance(settings, dict):
        raise CommandError(f"{path} was not written by {written_by}")
    return model, settings


def load_series(data, column=None):
    """(values, time labels, season, description) of ``data``: a packaged series name or a CSV path."""
    if data in datasets.SERIES:
        if column is not None:
            raise CommandError(f"--column applies to CSV files; the packaged {data!r} series has one column")
        series = datasets.load_series(data)
        return series.values, series.time, series.season, f"{data} ({series.units}, {len(series)} steps)"
    path = pathlib.Path(data)
    if path.suffix.lower() != ".csv":
        raise CommandError(f"unknown data {data!r}: give one of {', '.join(datasets.SERIES)} or a path to a .csv file")
    if not path.is_file():
        raise CommandError(f"no such file: {path}")
    values, labels, column = _read_csv_column(path, column)
    return values, labels, None, f"{path} column {column!r} ({len(values)} steps)"


def _read_csv_column(path, column):
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            rows = list(csv.reader(file))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CommandError(f"cannot read {path} as a CSV file ({exc})") from None
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if len(rows) < 2:
        raise CommandError(f"{path} needs a header row and at least one data row")
    header = [name.strip() for name in rows[0]]
    body = rows[1:]
    if column is None:
        numeric = [i for i in range(len(header)) if all(_is_number_or_empty(_cell(row, i)) for row in body)]
        # A leading numeric column (a year, a date as YYYYMMDD) is usually the time axis.
        candidates = numeric[1:] if numeric[:1] == [0] and len(numeric) > 1 else numeric
        if len(candidates) != 1:
            raise CommandError(f"{path}: choose the column to forecast with --column; "
                               f"its columns are {', '.join(header)}")
        index = candidates[0]
    elif column in header:
        index = header.index(column)
    else:
        raise CommandError(f"{path} has no column {column!r}; its columns are {', '.join(header)}")
    values = np.empty(len(body))
    for line, row in enumerate(body, start=2):
        cell = _cell(row, index)
        if cell == "":
            values[line - 2] = np.nan
            continue
        try:
            values[line - 2] = float(cell)
        except ValueError:
            raise CommandError(f"{path}, line {line}, column {header[index]!r}: {cell!r} is not a number") from None
        if not np.isfinite(values[line - 2]):
            raise CommandError(f"{path}, line {line}, column {header[index]!r}: {cell!r} is not a finite number")
    missing = np.isnan(values)
    if missing.all():
        raise CommandError(f"{path}: column {header[index]!r} holds no numbers")
    if missing.any():
        steps = np.arange(len(values))
        values[missing] = np.interp(steps[missing], steps[~missing], values[~missing])
        print(f"{path}: filled {missing.sum()} empty cells of {header[index]!r} by linear interpolation")
    labels = np.array([_cell(row, 0) for row in body]) if index != 0 else np.arange(1, len(body) + 1)
    return values, labels, header[index]


def _cell(row, index):
    return row[index].strip() if index < len(row) else ""


def _is_number_or_empty(cell):
    if cell == "":
        return True
    try:
        float(cell)
    except ValueError:
        return False
    return True
