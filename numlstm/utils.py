"""Reproducibility helpers."""

import numpy as np

_generator = np.random.default_rng()


def set_random_seed(seed):
    """Seed every random draw numlstm makes (initializers, shuffling, dropout).

    With the same seed and thread count, CPU training is bit-reproducible.
    """
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed must be a non-negative int, got {seed!r}")
    _generator = np.random.default_rng(int(seed))


def global_generator():
    """The generator behind draws that were given no seed of their own."""
    return _generator


def set_global_generator(generator):
    """Replace the generator behind unseeded draws (``MPIStrategy`` gives each rank its own)."""
    global _generator
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"generator must be a numpy.random.Generator, got {type(generator).__name__}")
    _generator = generator
