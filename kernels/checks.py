"""Input checks that run at kernel speed, with no temporary arrays."""

import math

from numba import njit

from .config import JIT_OPTIONS


@njit(**{**JIT_OPTIONS, "fastmath": False})  # fastmath may assume finiteness away
def first_non_finite(flat):
    """Index of the first NaN or infinity in a 1-D array, or -1."""
    for i in range(flat.shape[0]):
        if not math.isfinite(flat[i]):
            return i
    return -1
