"""Input checks that run at kernel speed, with no temporary arrays."""

import math

from numba import njit

from .options import JIT_KWARGS


@njit(**{**JIT_KWARGS, "fastmath": False})  # fastmath may assume finiteness away
def first_non_finite(arrays):
    """(position in the tuple, flat index) of the first NaN or infinity in a tuple of 1-D arrays, or (-1, -1).

    One call checks every argument of a pass: a call per array cost a
    microsecond of dispatch each, a tenth of the smallest forward pass.
    """
    for which in range(len(arrays)):
        flat = arrays[which]
        for i in range(flat.shape[0]):
            if not math.isfinite(flat[i]):
                return which, i
    return -1, -1
