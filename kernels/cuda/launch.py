"""Kernel launches whose parameters numba-cuda does not marshal at every launch.

numba-cuda turns every argument into kernel parameters at every launch, in
Python: about 100 us per launch of a kernel of 17 arguments on an H200
(asv_bench/tools/gpu_session.py's ``profile`` table), several times the device
time of a time step, and of most of the small kernels around the loop.

- :func:`prepared_launch`: a time loop launches the same kernel T times with
  the same arrays, only the step numbers changing; it marshals once and
  hands the same parameters to cuda.core's ``launch`` with the step numbers
  rewritten in place.
- :func:`launch`: a one-off launch (``kernel[grid, block](*args)``) through
  a parameter template kept per kernel, launch shape and argument layout
  (each array's dtype, shape and strides, each scalar's type): it writes the
  arrays' addresses and the scalars' values into a copy of the template.
  Passes of one shape repeat the same layouts, so after a pass's first
  launch of a kernel none is marshalled by numba-cuda. It also skips
  numba-cuda's low-occupancy warning, which our deliberately small grids
  would raise.

This reaches into numba-cuda's launch (``_Kernel._prepare_args``, the
kernel's cuda.core handle) as of numba-cuda 0.30. Where that is not there,
in the CUDA simulator, for a wrapped kernel (the tests' launch counters) or
a kernel compiled for debugging, the launch goes through numba-cuda's usual
path instead, with the same results.
"""

import ctypes
import functools
import weakref

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


def launch(kernel, griddim, blockdim, args, sharedmem=0):
    """``kernel[griddim, blockdim, 0, sharedmem](*args)`` on the default stream, through a parameter
    template kept per kernel, launch shape and argument layout (see the module's docstring)."""
    if numba.config.ENABLE_CUDASIM:
        template = None
    else:
        array = _device_array_class()
        key = (griddim, blockdim, sharedmem,
               tuple((value.dtype, value.shape, value.strides) if isinstance(value, array) else type(value)
                     for value in args))  # what fixes each argument's parameters but its address or value
        templates = _templates.get(kernel)
        if templates is None:
            templates = _templates[kernel] = {}
        template = templates.get(key, _MISSING)
        if template is _MISSING:
            if len(templates) >= _TEMPLATES_PER_KERNEL:
                templates.clear()
            template = templates[key] = _FastLaunch.for_kernel(kernel, griddim, blockdim, tuple(args), sharedmem,
                                                               0, keep_alive=False)
    if template is None or not template.relaunchable:
        configured = kernel[griddim, blockdim] if sharedmem == 0 else kernel[griddim, blockdim, 0, sharedmem]
        configured(*args)
    else:
        template.relaunch(args)


_MISSING = object()
_TEMPLATES_PER_KERNEL = 64  # launch shapes and argument layouts kept per kernel, then forgotten all at once
_templates = weakref.WeakKeyDictionary()


@functools.lru_cache(maxsize=1)
def _device_array_class():
    from numba.cuda.cudadrv.devicearray import DeviceNDArrayBase

    return DeviceNDArrayBase


# How launch() rewrites an argument's parameters in a template.
_ADDRESS, _CTYPES_VALUE, _VALUE, _FIXED = range(4)


def _slot_kind(argument_type, parameters):
    if isinstance(argument_type, numba.types.Array):
        return _ADDRESS  # meminfo, parent, size, itemsize, address, shape..., strides...
    if len(parameters) == 1 and isinstance(parameters[0], ctypes._SimpleCData):
        return _CTYPES_VALUE  # integers and floats
    if argument_type == numba.types.boolean:
        return _VALUE
    return _FIXED


class _FastLaunch:
    @classmethod
    def for_kernel(cls, kernel, griddim, blockdim, args, sharedmem, varying, keep_alive=True):
        if numba.config.ENABLE_CUDASIM:
            return None
        from numba.cuda.dispatcher import CUDADispatcher

        if not isinstance(kernel, CUDADispatcher):
            return None
        try:
            return cls(kernel, griddim, blockdim, args, sharedmem, varying, keep_alive)
        except _Unsupported:
            return None

    def __init__(self, dispatcher, griddim, blockdim, args, sharedmem, varying, keep_alive):
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
        self._slots = []
        for position, (argument_type, value) in enumerate(zip(compiled.argument_types, args)):
            first = len(self._parameters)
            compiled._prepare_args(argument_type, value, self._stream, written_back, self._parameters)
            self._slots.append((first, _slot_kind(argument_type, self._parameters[first:])))
            if position < varying:
                if not isinstance(self._parameters[first], ctypes._SimpleCData):
                    raise _Unsupported
                self._varying.append(self._parameters[first])
        if written_back:  # a host array among the arguments
            raise _Unsupported
        self.relaunchable = all(kind != _FIXED for _, kind in self._slots)
        cooperative = {"is_cooperative" if CUDA_CORE_GE_1_0 else "cooperative_launch": compiled.cooperative}
        self._config = LaunchConfig(grid=griddim, block=blockdim, shmem_size=sharedmem, **cooperative)
        self._handle = compiled._codelibrary.get_cufunc().kernel
        self._launch = launch
        # The parameters hold the arrays' addresses, not references: a prepared launch keeps its arrays; a
        # template must not (it outlives the call that made it), and gets its arrays at every relaunch.
        self._keep_alive = args if keep_alive else None

    def __call__(self, *values):
        if len(values) != len(self._varying):
            raise TypeError(f"a prepared launch takes {len(self._varying)} arguments, got {len(values)}")
        for parameter, value in zip(self._varying, values):
            parameter.value = value
        self._launch(self._stream, self._config, self._handle, *self._parameters)

    def relaunch(self, args):
        """Launch with ``args``, laid out as the arguments this template was made from."""
        parameters = list(self._parameters)  # a copy: relaunches from several threads must not meet
        for (first, kind), value in zip(self._slots, args):
            if kind == _ADDRESS:
                parameters[first + 4] = value.device_ctypes_pointer.value
            elif kind == _CTYPES_VALUE:
                parameters[first] = type(parameters[first])(value)
            else:
                parameters[first] = value
        self._launch(self._stream, self._config, self._handle, *parameters)


class _Unsupported(Exception):
    """This numba-cuda or this kernel does not allow a prepared launch."""


def is_prepared(launch):
    """Whether ``launch`` (from :func:`prepared_launch`) skips numba-cuda's argument marshalling."""
    return isinstance(launch, _FastLaunch)
