"""An opt-in caching allocator for numba-cuda's device memory (an EMM plugin): a freed block is kept for
the next allocation of its size instead of going back to the driver.

numba-cuda frees device memory in batches, once more than
``NUMBA_CUDA_MAX_PENDING_DEALLOCS_COUNT`` (10) frees are pending, with one
cuMemFree each, and cuMemFree waits for the device to finish its queued
work; every allocation is a cuMemAlloc. A training step drops a few dozen
arrays, so the host waits on the device a few times a step. Here a freed
block goes on a free list of its size (rounded up to 512 bytes) and the next
allocation of that size takes it: after a model's first training step of a
shape its arrays come from the pool, and nothing waits.

Turn it on before the process's first CUDA call, in either way numba-cuda
provides::

    NUMBA_CUDA_MEMORY_MANAGER=numlstm.kernels.gpu_memory python train.py

    numba.cuda.set_memory_manager(numlstm.kernels.gpu_memory.CachingMemoryManager)

A block returns to the pool when numba drops its last reference, maybe
while kernels queued on the device still use it; launches on one stream run
in order, so the block's next user runs after them. numlstm launches on
numba's default stream only; a program that also runs work on other streams
must not use this allocator. Cached blocks go back to the driver when an
allocation runs out of memory, when the context is reset (then they are
gone already), and on :meth:`CachingMemoryManager.release_cached`.
"""

import collections
import weakref

from numba.cuda.cudadrv import driver as _driver

GRANULE = 512  # bytes: sizes round up to a multiple, so that arrays of nearly one size share blocks


def block_size(size):
    """The bytes of the block that serves an allocation of ``size`` bytes."""
    return max(GRANULE, -(-size // GRANULE) * GRANULE)


class CachingMemoryManager(_driver.NumbaCUDAMemoryManager):
    """numba-cuda's own memory manager (pinned host memory, IPC, memory info) but for device allocations,
    which come from a pool of freed blocks when one of their size is there."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._free_blocks = collections.defaultdict(list)  # block size -> device pointers

    @property
    def cached_bytes(self):
        """Bytes held in freed blocks, waiting for their next allocation."""
        return sum(block * len(pointers) for block, pointers in self._free_blocks.items())

    def memalloc(self, size):
        block = block_size(size)
        blocks = self._free_blocks.get(block)
        pointer = blocks.pop() if blocks else self._attempt_allocation(lambda: self._allocate(block))
        memory = _driver.AutoFreePointer(weakref.proxy(self.context), pointer, size,
                                         finalizer=_back_to_pool(self.allocations, self._free_blocks, pointer, block))
        self.allocations[pointer] = memory
        return memory.own()

    def _attempt_allocation(self, allocator):
        try:
            return allocator()
        except _driver.CudaAPIError as exc:
            if exc.code != _driver.binding.CUresult.CUDA_ERROR_OUT_OF_MEMORY:
                raise
            self.release_cached()
            return super()._attempt_allocation(allocator)  # flushes numba's pending frees, tries once more

    def release_cached(self):
        """Give every cached block back to the driver (cuMemFree waits for the device)."""
        for pointers in self._free_blocks.values():
            for pointer in pointers:
                self._free(pointer)
        self._free_blocks.clear()

    def reset(self):
        super().reset()
        self._free_blocks.clear()  # the context's reset has freed them

    def _allocate(self, size):
        return _driver.driver.cuMemAlloc(size)

    def _free(self, pointer):
        _driver.driver.cuMemFree(pointer)


def _back_to_pool(allocations, free_blocks, pointer, block):
    """The finalizer of an allocation: its block goes on the free list (not a reference to the manager)."""

    def core():
        allocations.pop(pointer, None)
        free_blocks[block].append(pointer)

    return core


_numba_memory_manager = CachingMemoryManager  # what NUMBA_CUDA_MEMORY_MANAGER looks up
