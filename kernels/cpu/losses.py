"""Losses of a training step at kernel speed on the CPU: one pass, no temporaries.

numpy's five operations for the mean squared error (difference, square, sum, two scalings) cost a tiny
model's training step 28 us on Zen 3, a tenth of it: each call comes back to code evicted from the
caches by the pass before. The loop here does the same in one call.
"""

import numpy as np

from ..disk_cache import njit
from ..options import JIT_KWARGS


# Without "arcp": the gradient divides by n, as numpy does, to the same bits.
@njit(**{**JIT_KWARGS, "fastmath": JIT_KWARGS["fastmath"] - {"arcp"}})
def squared_error(y_pred, y_true, gradient):
    """The sum of ``(y_pred - y_true) ** 2``, summed in float64; ``gradient`` gets ``2 (y_pred - y_true) / n``.

    ``y_pred``, ``y_true`` and ``gradient`` are 1-D arrays of n >= 1 elements of one float dtype. The gradient
    is numpy's ``(2 * error) / n`` to the bit: a float32 quotient computed in float64 rounds to the same float32.
    """
    count = y_pred.shape[0]
    total = 0.0
    for i in range(count):
        error = y_pred[i] - y_true[i]
        wide = np.float64(error)
        total += wide * wide
        gradient[i] = (error + error) / count
    return total
