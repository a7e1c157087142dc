"""Checks of the callbacks' constructor arguments: a wrong type fails at construction, naming the argument.

Keras stores these arguments unchecked, so that a mistake surfaces epochs later inside the callback as an
AttributeError or a comparison of a string with a number.
"""

import numbers
import os

import numpy as np

from ..utils import _real_argument


def _owner(callback):
    return type(callback).__name__


def check_count(callback, name, value):
    """``value`` as an int >= 0 (patience, cooldown, epochs, verbose); bools are not counts."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{_owner(callback)}: {name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"{_owner(callback)}: {name} must be >= 0, got {value}")
    return int(value)


def check_number(callback, name, value, optional=False):
    """``value`` as a finite-or-infinite real number (None allowed where ``optional``)."""
    return _real_argument(value, f"{_owner(callback)}: {name}", optional)


def check_flag(callback, name, value):
    """``value`` as a bool (numpy bools and the ints 0 and 1 included): a string such as "no" would be true."""
    if not isinstance(value, (bool, np.bool_, numbers.Integral)) or value not in (0, 1):
        raise TypeError(f"{_owner(callback)}: {name} must be True or False, got {value!r}")
    return bool(value)


def check_name(callback, name, value):
    """``value`` as a non-empty string (the name of a logged quantity, a separator)."""
    if not isinstance(value, str) or not value:
        raise TypeError(f"{_owner(callback)}: {name} must be a non-empty string, got {value!r}")
    return value


def check_path(callback, name, value):
    """``value`` as a file path (str or os.PathLike)."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{_owner(callback)}: {name} must be a file path (str or os.PathLike), got {value!r}")
    return os.fspath(value)
