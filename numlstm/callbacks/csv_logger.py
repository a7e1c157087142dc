"""``CSVLogger``: write the epoch logs to a CSV file."""

import collections
import csv
import os

import numpy as np

from . import arguments
from .callback import Callback


class CSVLogger(Callback):
    """Write each epoch's logs as a row of a CSV file, as Keras does.

    The columns are ``epoch`` and the log keys in sorted order, fixed by the
    first epoch; when that epoch has no ``val_`` keys, ``val_`` columns are
    added for every key (Keras' provision for validation that starts
    later). A missing value is written ``NA``.

    Parameters
    ----------
    filename : str or path
    separator : str
        The field delimiter.
    append : bool
        Append to an existing file (its header is kept, and written only
        if the file is empty) instead of overwriting it.

    Examples
    --------
    >>> import numlstm
    >>> logger = numlstm.callbacks.CSVLogger("training.csv", append=True)
    >>> model.fit(x, y, epochs=10, callbacks=[logger])  # doctest: +SKIP
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = arguments.check_name(self, "separator", separator)
        self.filename = arguments.check_path(self, "filename", filename)
        self.append = arguments.check_flag(self, "append", append)
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = None
        self.writer = None
        self.keys = None
        if not self.writes_files:
            return
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename) as existing:
                    self.append_header = not bool(len(existing.readline()))
            mode = "a"
        else:
            mode = "w"
        self.csv_file = open(self.filename, mode, newline="")

    def on_epoch_end(self, epoch, logs=None):
        if self.csv_file is None:
            return
        logs = logs or {}

        def handle_value(value):
            if isinstance(value, str):
                return value
            if isinstance(value, collections.abc.Iterable) and not (isinstance(value, np.ndarray) and value.ndim == 0):
                return f'"[{", ".join(map(str, value))}]"'
            return value

        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys.extend([f"val_{key}" for key in self.keys])
        if not self.writer:
            class Dialect(csv.excel):
                delimiter = self.sep

            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + (self.keys or []), dialect=Dialect)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, handle_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None
