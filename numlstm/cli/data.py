"""Reading a series for the command line: a packaged data set by name, or columns of a CSV file."""

import pathlib
import sys

from .. import datasets, saving
from ..forecasting import collection_data, read_csv, series_data
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


def load_data(data, target=None, covariates=(), time_column=None, freq=None, fill="interpolate", id_column=None,
              note_unused=True):
    """The target (and covariates) of ``data``, a packaged series name or a CSV path, as ``SeriesData``.

    With ``id_column``, a long CSV file of several series: ``{series: SeriesData}``. Notes what a person
    should know, columns left out and skipped, on standard error (standard output may be a forecast piped
    elsewhere); ``note_unused=False`` leaves out the note on numeric columns not read (a saved model
    reads what it was trained on).
    """
    if data in datasets.SERIES:
        if target not in (None, data) or covariates or time_column or freq or id_column:
            raise CommandError(f"--target, --covariates, --time-column, --freq and --id apply to CSV files; the "
                               f"packaged {data!r} series has one column")
        return series_data(datasets.load_series(data))
    path = pathlib.Path(data)
    if path.suffix.lower() != ".csv":
        raise CommandError(f"unknown data {data!r}: give one of {', '.join(datasets.SERIES)} or a path to a .csv file")
    if not path.is_file():
        raise CommandError(f"no such file: {path}")
    if target is not None and target in covariates:
        raise CommandError(f"--covariates lists {target!r}, the target: the target's past is always read; "
                           "list the other columns")
    wanted = [target, *covariates] if target else None
    try:
        tables = read_csv(path, time_column=time_column, freq=freq, fill=fill, columns=wanted, id_column=id_column)
        table = next(iter(tables.values())) if id_column else tables
        if target is None and len(table.columns) > 1:
            raise CommandError(f"{path}: choose the column to forecast with --target (and others to read beside it "
                               f"with --covariates); its numeric columns are {', '.join(table.columns)}")
        if id_column:
            source = collection_data(tables, target, list(covariates))
        else:
            source = series_data(table, target, list(covariates))
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if note_unused and not id_column and table.unread:
        print(f"{path}: not read: {', '.join(table.unread)} (add them with --covariates)", file=sys.stderr)
    if table.ignored:
        print(f"{path}: not numbers, skipped: {', '.join(table.ignored)}", file=sys.stderr)
    return source
