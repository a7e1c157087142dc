"""numlstm's device memory: a pool of blocks per context, kept for the next array of their size instead of
freed, for numlstm's own arrays only.

numba-cuda gives every device array a cuMemAlloc and frees them in
batches, once more than ``NUMBA_CUDA_MAX_PENDING_DEALLOCS_COUNT`` (10)
frees are pending, with one cuMemFree each; cuMemFree waits for the device
to finish all its queued work. A training step makes and drops a few dozen
arrays (activations, gradients, temporaries), so without a pool the host
would wait for the device a few times a step, and could never queue one
step while the device runs the one before. Here :func:`device_array` takes
a free block of the size it needs (sizes rounded up, :func:`block_size`)
from the current context's :class:`DevicePool`, and an array's block goes
back to the pool when its last view is dropped; after a model's first
step of a shape, its steps allocate and free nothing on the device.

A block goes back while kernels queued on the device may still use it;
its next user runs after them because numlstm queues everything (kernels,
cuBLAS calls, copies) on the legacy default stream, which runs in order and
also waits for, and is waited for by, numba's other streams. Work that a
program queues on a non-blocking stream (``cudaStreamNonBlocking``, as
PyTorch's streams are) with numlstm's arrays must finish before it drops
them. Under per-thread default streams (``CUDA_PYTHON_CUDA_PER_THREAD_DEFAULT_STREAM``)
threads' streams run unordered, so there numlstm's arrays come from
numba-cuda's allocator, as they do with ``GpuMemoryOptions.memory_pool``
off and in the simulator.

Blocks come from numba-cuda's allocator (so an EMM plugin a program set,
such as RMM's, serves them) and stay allocated until :func:`release_cached`,
an allocation that runs out of device memory (which releases them and
tries again), or the context's end.
"""

import collections
import functools
import math
import os
import weakref

import numba
import numpy as np
from numba import cuda

from .. import options

GRANULE = 512  # bytes
_OCTAVE_STEPS_FROM = 1 << 20  # bytes: from here sizes round to an eighth of their power of two


def block_size(size):
    """The bytes of the block that serves an array of ``size`` bytes: a multiple of 512 below 1 MiB, above
    it one of 8 sizes per power of two (at most 12.5% spare), so that arrays of nearly one size share
    blocks."""
    if size < _OCTAVE_STEPS_FROM:
        return max(GRANULE, -(-size // GRANULE) * GRANULE)
    step = 1 << (size.bit_length() - 4)
    return -(-size // step) * step


class DevicePool:
    """Free device blocks of one context by size, and the sizes of the blocks in use by address."""

    def __init__(self, context):
        self._context = weakref.proxy(context)
        self._free = collections.defaultdict(list)  # block size -> (numba-cuda allocation, its address)
        self._in_use = {}  # address -> bytes asked for

    @property
    def cached_bytes(self):
        """Bytes in free blocks, waiting for their next array."""
        return sum(block * len(blocks) for block, blocks in list(self._free.items()))

    def memalloc(self, size):
        """Device memory of at least ``size`` bytes for a ``DeviceNDArray``'s ``gpu_data``: a pointer whose
        block comes back to this pool once it and every view of it are gone (views hold their parent)."""
        block = block_size(size)
        free = self._free.get(block)
        if free:
            allocation, address = free.pop()
        else:
            allocation = self._allocate(block)
            address = allocation.device_pointer
        self._in_use[int(address)] = size
        return _driver().MemoryPointer(self._context, address, size,
                                       finalizer=_back_to_pool(self._in_use, self._free, block, allocation, address))

    def release_cached(self):
        """Give every free block back to numba-cuda, which frees it now (cuMemFree waits for the device)."""
        self._free.clear()
        pending = getattr(self._context.memory_manager, "deallocations", None)  # an EMM plugin may have none
        if pending is not None:
            pending.clear()

    def _allocate(self, block):
        driver = _driver()
        try:
            return self._context.memalloc(block)
        except driver.CudaAPIError as exc:
            if exc.code != driver.binding.CUresult.CUDA_ERROR_OUT_OF_MEMORY:
                raise
        cached = self.cached_bytes
        self._free.clear()  # numba-cuda's allocator frees its pending blocks when it too runs out, then retries
        try:
            return self._context.memalloc(block)
        except driver.CudaAPIError as exc:
            if exc.code != driver.binding.CUresult.CUDA_ERROR_OUT_OF_MEMORY:
                raise
            live = sum(list(self._in_use.values()))
            raise MemoryError(
                f"the GPU is out of memory: numlstm asked for {_mib(block)} more, with {_mib(live)} held by its "
                f"live arrays (its {_mib(cached)} of free blocks already given back); use a smaller batch_size, "
                f"shorter sequences or a smaller model, or free other programs' memory on this GPU") from exc


@functools.lru_cache(maxsize=1)
def _driver():
    from numba.cuda.cudadrv import driver

    return driver


def _mib(size):
    return f"{size / 2**20:.1f} MiB"


def _back_to_pool(in_use, free, block, allocation, address):
    """A pointer's finalizer: its block is free again (no reference to the pool, which goes with its
    context)."""

    def finalize():
        in_use.pop(int(address), None)
        free[block].append((allocation, address))

    return finalize


def pool():
    """The current context's :class:`DevicePool` (kept in the context's ``extras``, so it goes with the
    context), or None where numlstm's arrays come from numba-cuda's allocator: in the simulator, with
    ``GpuMemoryOptions.memory_pool`` off, in a context made under per-thread default streams."""
    if numba.config.ENABLE_CUDASIM or not options.gpu_options().memory.memory_pool:
        return None
    context = cuda.current_context()
    extras = context.extras
    if "numlstm.device_pool" not in extras:  # the streams' kind is fixed once CUDA is initialised
        extras["numlstm.device_pool"] = None if _per_thread_default_streams() else DevicePool(context)
    return extras["numlstm.device_pool"]


def _per_thread_default_streams():
    return (os.environ.get("CUDA_PYTHON_CUDA_PER_THREAD_DEFAULT_STREAM", "0") not in ("", "0")
            or bool(numba.config.CUDA_PER_THREAD_DEFAULT_STREAM))


def device_array(shape, dtype):
    """An uninitialised C-contiguous device array, its memory from the current context's pool
    (:func:`pool`; numba-cuda's ``cuda.device_array`` where there is none)."""
    found = pool()
    shape = shape_tuple(shape)
    if found is None:
        return cuda.device_array(shape, dtype)
    key = (shape, dtype)
    layout = _layouts.get(key)
    if layout is None:
        layout = _layouts[key] = _layout(shape, dtype)
    if layout is _EMPTY:
        return cuda.device_array(shape, dtype)
    array_class = _device_array_class()
    array = array_class.__new__(array_class)
    array.__dict__.update(layout)
    array.gpu_data = found.memalloc(layout["alloc_size"])
    return array


_layouts = {}  # (shape, dtype) -> a new DeviceNDArray's attributes but its memory
_LAYOUTS_KEPT = 256  # then forgotten all at once: batch shapes vary little
_EMPTY = object()


def _layout(shape, dtype):
    """The attributes numba-cuda's ``DeviceNDArray.__init__`` gives a C-contiguous array of ``shape`` and
    ``dtype`` (its memory, ``gpu_data``, aside), made once per shape and dtype: building them costs
    several times what copying them does, and a training step makes dozens of arrays of a few shapes."""
    from numba.cuda.api_util import prepare_shape_strides_dtype

    if len(_layouts) >= _LAYOUTS_KEPT:
        _layouts.clear()
    dtype = np.dtype(dtype)
    if math.prod(shape) * dtype.itemsize == 0:
        return _EMPTY
    shape, strides, dtype = prepare_shape_strides_dtype(shape, None, dtype, "C")
    # given any gpu_data, __init__ only keeps it: a placeholder, dropped with the attribute
    described = _device_array_class()(shape, strides, dtype, gpu_data=object())
    layout = dict(described.__dict__)
    del layout["gpu_data"]
    return layout


@functools.lru_cache(maxsize=1)
def _device_array_class():
    from numba.cuda.cudadrv.devicearray import DeviceNDArray

    return DeviceNDArray


def shape_tuple(shape):
    """An array shape given as an integer or a sequence of them (numpy's included) as a tuple of ints."""
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(map(int, shape))


def to_device(array):
    """A device copy of the host ``array`` (an ordinary copy), in memory from the pool."""
    array = np.ascontiguousarray(array)
    out = device_array(array.shape, array.dtype)
    out.copy_to_device(array)
    return out


def release_cached():
    """Give the current context's free blocks back to the driver, for memory other programs need: numlstm
    then allocates anew."""
    found = pool()
    if found is not None:
        found.release_cached()
