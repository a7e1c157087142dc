"""Array operations on one device, for everything above the LSTM kernels.

Layers, losses, optimizers and models compute through the functions of a
backend module, ``cpu`` (numpy) or ``cuda`` (Numba device arrays and the
kernels of ``numlstm.kernels.cuda.ops``), which offer the same functions with
the same meaning. Which one runs follows the data: :func:`array_ops` gives
the backend that holds an array, so a layer handed device arrays computes on
the GPU without knowing it. A model moves its weights and optimizer state to
the device that ``numlstm.dispatch`` names (:func:`for_device`) and leaves
them there, so that only each batch's data crosses to the GPU.
"""

import collections
import functools

import numpy as np

from .. import threads
from . import cpu
from .cpu import is_device_array


# An output's shape and dtype, all that a loss's target check (``Loss.kernel_targets``) reads of it.
OutputSpec = collections.namedtuple("OutputSpec", "shape dtype")

_cuda_backend = None


def _cuda():
    global _cuda_backend
    if _cuda_backend is None:  # imported on first use: CPU-only programs never import numba.cuda
        from . import cuda

        _cuda_backend = cuda
    return _cuda_backend


def array_ops(array):
    """The backend module that holds ``array``: ``cuda`` for device arrays, else ``cpu``."""
    return _cuda() if is_device_array(array) else cpu


def for_device(name):
    """The backend module of a device name from ``numlstm.dispatch`` ("cpu" or "cuda")."""
    return _cuda() if name == "cuda" else cpu


def in_context_of(device_of):
    """Decorator: where ``device_of(*args, **kwargs)`` names "cuda" for the function's arguments, the function
    runs within ``cuda.in_context``, the GPU's context attached to the thread throughout, which makes
    numba-cuda's context lookups inside cheap; on "cpu" it runs with every BLAS on one thread
    (:func:`numlstm.threads.single_threaded_blas`: the work is split over Numba's threads instead, and no
    BLAS pool is left spinning after it)."""

    def decorate(function):
        @functools.wraps(function)
        def run(*args, **kwargs):
            if device_of(*args, **kwargs) == "cuda":
                return _cuda().in_context(function, *args, **kwargs)
            with threads.single_threaded_blas():
                return function(*args, **kwargs)

        return run

    return decorate


def to_host(array):
    """``array`` as a numpy array (itself when it is one; a copy of a device array)."""
    return cpu.local(array)


def host_copy(array):
    """A numpy copy of ``array``, wherever it lives."""
    return array.copy_to_host() if is_device_array(array) else np.array(array, copy=True)


def assign(target, source):
    """Overwrite ``target``'s elements with ``source``'s (same shape; either may live on either device)."""
    array_ops(target).assign(target, source)
