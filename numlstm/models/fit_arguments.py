"""The checks of ``fit``, ``evaluate`` and ``predict``'s arguments, and how their progress is shown."""

import os
import sys

import numpy as np

from ..distributed import LOCAL, LocalStrategy


def _batch_size_argument(batch_size):
    """``batch_size`` checked: a positive integer; None means 32, Keras' default."""
    if batch_size is None:
        return 32
    return _integer_argument(batch_size, "batch_size", 1, "a positive integer (or None for 32)")


def _count_argument(value, name):
    """``value`` checked: an integer >= 0 (``epochs``, ``initial_epoch``)."""
    return _integer_argument(value, name, 0, "an integer >= 0")


def _integer_argument(value, name, minimum, expected):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return int(value)


def _per_step(seconds):
    """A step's time as Keras' progress bar writes it: 2s/step, 35ms/step, 800us/step."""
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    return f"{seconds * 1e3:.0f}ms/step" if seconds >= 1e-3 else f"{seconds * 1e6:.0f}us/step"


def _bar_size():
    """tqdm's size: the terminal's as it changes, except where the terminal reports zero columns or rows (some
    containers, `script`, a pty whose size nobody set), where tqdm would draw nothing: then 80 by 24."""
    try:
        columns, rows = os.get_terminal_size(sys.stdout.fileno())
    except (AttributeError, ValueError, OSError):
        return {"dynamic_ncols": True}
    if columns and rows:
        return {"dynamic_ncols": True}
    return {"ncols": columns or 80, "nrows": rows or 24}


def _auto_verbosity():
    """What ``verbose="auto"`` means: 1 (a progress bar) when standard output is a terminal or a notebook, 2 (one
    line per epoch) otherwise: a bar redrawn into a log file or a pipe fills it with partial lines."""
    if "ipykernel" in sys.modules:  # a Jupyter kernel: tqdm.auto draws a widget
        return 1
    try:
        return 1 if sys.stdout is not None and sys.stdout.isatty() else 2
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return 2


def _strategy(distribute):
    if distribute is None:
        return LOCAL
    if not isinstance(distribute, LocalStrategy):
        raise TypeError(f"distribute must be a numlstm.distributed.MPIStrategy, got {type(distribute).__name__}")
    return distribute
