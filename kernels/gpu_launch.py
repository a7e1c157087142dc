"""Kernel launches whose arguments are marshalled once, for the time loops' per-step kernels.

A time loop launches the same kernel T times with the same arrays, only the
step numbers changing. numba-cuda turns every argument into its kernel
parameters at every launch, in Python: about 100 us per launch of a kernel
of 17 arguments on an H200 (asv_bench/gpu_session.py's ``profile`` table),
several times the step's own device time. :func:`prepared_launch` does it
once per loop and then hands the same parameters to cuda.core's ``launch``
with the step numbers rewritten in place.

This reaches into numba-cuda's launch (``_Kernel._prepare_args``, the
kernel's cuda.core handle) as of numba-cuda 0.30. Where that is not there,
in the CUDA simulator, for a wrapped kernel (the tests' launch counters) or
a kernel compiled for debugging, the launch goes through numba-cuda's usual
path instead, with the same results.
"""

import ctypes

import numba
import numpy as np


def prepared_launch(kernel, griddim, blockdim, args, sharedmem=0, varying=2):
    """A callable ``launch(*values)`` that launches ``kernel[griddim, blockdim, 0, sharedmem]`` on the default
    stream with ``args``, its first ``varying`` arguments (integers: the step numbers) replaced by the
    ``varying`` values it is given.

    ``args`` must hold device arrays and scalars only: a host array would be
    copied to the device once, not at every launch.
    """
    if any(not isinstance(value, (int, np.integer)) or isinstance(value, bool) for value in args[:varying]):
        raise TypeError(f"the first {varying} arguments of a prepared launch must be integers, got {args[:varying]}")
    fast = _FastLaunch.for_kernel(kernel, griddim, blockdim, tuple(args), sharedmem, varying)
    if fast is not None:
        return fast
    configured = kernel[griddim, blockdim] if sharedmem == 0 else kernel[griddim, blockdim, 0, sharedmem]
    rest = tuple(args[varying:])

    def launch(*values):
        if len(values) != varying:
            raise TypeError(f"a prepared launch takes {varying} arguments, got {len(values)}")
        configured(*values, *rest)

    return launch


class _FastLaunch:
    @classmethod
    def for_kernel(cls, kernel, griddim, blockdim, args, sharedmem, varying):
        if numba.config.ENABLE_CUDASIM:
            return None
        from numba.cuda.dispatcher import CUDADispatcher

        if not isinstance(kernel, CUDADispatcher):
            return None
        try:
            return cls(kernel, griddim, blockdim, args, sharedmem, varying)
        except _Unsupported:
            return None

    def __init__(self, dispatcher, griddim, blockdim, args, sharedmem, varying):
        from cuda.core import LaunchConfig, launch
        from numba.cuda._compat import CUDA_CORE_GE_1_0
        from numba.cuda.cudadrv import driver

        argument_types = tuple(dispatcher.typeof_pyval(value) for value in args)
        compiled = dispatcher.overloads.get(argument_types) or dispatcher.compile(argument_types)
        if not hasattr(compiled, "_prepare_args") or compiled.debug:
            raise _Unsupported
        self._stream = driver._to_core_stream(0)
        written_back = []
        self._parameters = []
        self._varying = []
        for position, (argument_type, value) in enumerate(zip(compiled.argument_types, args)):
            first = len(self._parameters)
            compiled._prepare_args(argument_type, value, self._stream, written_back, self._parameters)
            if position < varying:
                if not isinstance(self._parameters[first], ctypes._SimpleCData):
                    raise _Unsupported
                self._varying.append(self._parameters[first])
        if written_back:  # a host array among the arguments
            raise _Unsupported
        cooperative = {"is_cooperative" if CUDA_CORE_GE_1_0 else "cooperative_launch": compiled.cooperative}
        self._config = LaunchConfig(grid=griddim, block=blockdim, shmem_size=sharedmem, **cooperative)
        self._handle = compiled._codelibrary.get_cufunc().kernel
        self._launch = launch
        self._keep_alive = args  # the parameters hold the arrays' addresses, not references

    def __call__(self, *values):
        if len(values) != len(self._varying):
            raise TypeError(f"a prepared launch takes {len(self._varying)} arguments, got {len(values)}")
        for parameter, value in zip(self._varying, values):
            parameter.value = value
        self._launch(self._stream, self._config, self._handle, *self._parameters)


class _Unsupported(Exception):
    """This numba-cuda or this kernel does not allow a prepared launch."""


def is_prepared(launch):
    """Whether ``launch`` (from :func:`prepared_launch`) skips numba-cuda's argument marshalling."""
    return isinstance(launch, _FastLaunch)
