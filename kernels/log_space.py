"""Arithmetic on log probabilities, written once for the CPU kernels (``njit``) and the CUDA kernels
(``cuda.jit(device=True)``): the CTC recursions add probabilities as ``log(exp(a) + exp(b) + ...)``."""

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


def log_add3(a, b, c):
    """``log(exp(a) + exp(b) + exp(c))``: two exponentials and one logarithm, the largest term factored out."""
    if a >= b and a >= c:
        top, x, y = a, b, c
    elif b >= c:
        top, x, y = b, a, c
    else:
        top, x, y = c, a, b
    if top == -math.inf:
        return top
    return top + math.log1p(math.exp(x - top) + math.exp(y - top))
