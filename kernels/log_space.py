"""Arithmetic on log probabilities, written once for the CPU kernels (``njit``) and the CUDA kernels
(``cuda.jit(device=True)``): the CTC recursions add probabilities as ``log(exp(a) + exp(b))``."""

import math


def log_add(a, b):
    """``log(exp(a) + exp(b))`` without overflow; ``-inf`` (probability 0) on either side is exact."""
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    if a > b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))
