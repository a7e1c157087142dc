"""Kernel launches in Numba's CUDA simulator that a missing barrier cannot pass.

The simulator runs the threads of a block at once (Python threads under the
GIL, so in practice nearly in turn) and the blocks of a grid one after
another; a cooperative grid runs as one block, its ``grid.sync()`` only a
block barrier. So a kernel that lacks a ``syncthreads()`` or a
``grid.sync()`` still passes there. :class:`SerialisedKernel` stands in for a
simulated kernel and runs it one thread at a time, in an order chosen to
expose a missing barrier:

- a thread runs until it waits at a barrier (or returns), then the next
  thread of its block runs; when all have arrived, the block passes the
  barrier and its threads run again, in the reverse order;
- at ``grid.sync()`` (or at its end) a block hands over to the next block,
  and the order of the blocks reverses at every grid barrier;
- each block has its own shared memory, every byte 0xFF until written
  (NaN in a float), so that a read that comes before its write shows.

So whatever a thread reads that another thread (or block) writes in the
same phase is there only if a barrier separates them, whichever of the two
comes first; ``first="reversed"`` starts with the reverse order, so that a
pair of tests covers both. Threads of a block that wait at different
barriers, and a grid barrier that some blocks never reach, raise: both hang
a GPU. Threads that have returned no longer count at a block barrier, as on
GPUs since Volta.
"""

import sys
import threading

import numpy as np
from numba import types
from numba.cuda.errors import normalize_kernel_dimensions
from numba.cuda.simulator import kernel as simulated
from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray, FakeWithinKernelCUDAArray
from numba.cuda.simulator.kernelapi import Dim3, FakeCUDAModule, swapped_cuda_module
from numba.np import numpy_support

_TIMEOUT_S = 300
_END = "the end of the kernel"
_BLOCK_BARRIER = "syncthreads()"
_GRID_BARRIER = "grid.sync()"


class SerialisedKernel:
    """Wraps a simulated kernel: ``wrapped[grid, block](*args)`` and ``wrapped[grid, block, stream,
    dynamic_shared_bytes](*args)`` run it one thread at a time. ``launches`` records each launch's grid."""

    def __init__(self, kernel, first="natural"):
        if first not in ("natural", "reversed"):
            raise ValueError(f"first must be 'natural' or 'reversed', got {first!r}")
        self.kernel, self.first = kernel, first
        self.launches = []

    def __getitem__(self, configuration):
        grid, block = normalize_kernel_dimensions(*configuration[:2])
        dynamic_shared_bytes = configuration[3] if len(configuration) == 4 else 0

        def launch(*args):
            self.launches.append(tuple(grid))
            _Grid(self.kernel.py_func, tuple(grid), tuple(block), dynamic_shared_bytes,
                  self.first == "reversed").run(args)

        return launch


class _Aborted(Exception):
    """Raised in the threads still waiting when another thread has failed."""


class _Thread(threading.Thread):
    def __init__(self, grid, block, blockIdx, threadIdx, thread_id):
        super().__init__(daemon=True)
        self.grid, self.block = grid, block
        self.blockIdx, self.threadIdx, self.thread_id = Dim3(*blockIdx), Dim3(*threadIdx), thread_id

    def run(self):
        try:
            self.grid.wait_for_turn(self)
            self.grid.function(*self.grid.args)
            self.grid.arrive(self, _END)
        except _Aborted:
            pass
        except BaseException as exc:  # noqa: B036 - handed to the launching thread
            self.grid.fail(exc, f"block {tuple(self.blockIdx)}, thread {tuple(self.threadIdx)}")


class _Block:
    def __init__(self, number, threads):
        self.number = number
        self.threads = threads  # in the order of this phase
        self.position = 0
        self.arrivals = []
        self.started = False
        self.finished = False


class _PoisonedShared:
    """``cuda.shared`` of one block, as the simulator's (one array per line of the kernel that allocates
    it, all dynamic arrays on one buffer), but filled with 0xFF bytes instead of left as they come."""

    def __init__(self, dynamic_shared_bytes):
        self._allocations = {}
        self._dynamic = np.full(dynamic_shared_bytes, 0xFF, np.uint8)

    def array(self, shape, dtype, alignment=None):
        if isinstance(dtype, types.Type):
            dtype = numpy_support.as_dtype(dtype)
        dtype = np.dtype(dtype)
        if shape == 0:
            return np.frombuffer(self._dynamic.data, dtype=dtype, count=self._dynamic.size // dtype.itemsize)
        caller = sys._getframe(1)
        key = (caller.f_code.co_filename, caller.f_lineno)
        if key not in self._allocations:
            self._allocations[key] = np.full(np.prod(shape, dtype=np.int64) * dtype.itemsize, 0xFF,
                                             np.uint8).view(dtype).reshape(shape)
        return self._allocations[key]


class _GridGroup:
    def __init__(self, grid):
        self._grid = grid

    def sync(self):
        self._grid.arrive(threading.current_thread(), _GRID_BARRIER)


class _CooperativeGroups:
    def __init__(self, grid):
        self._group = _GridGroup(grid)

    def this_grid(self):
        return self._group


class _Module(FakeCUDAModule):
    """The ``cuda`` module a kernel sees: shared memory per block, barriers through the scheduler."""

    def __init__(self, grid):
        super().__init__(grid.grid_dim, grid.block_dim, grid.dynamic_shared_bytes)
        self._grid = grid
        self._shared_of_block = [_PoisonedShared(grid.dynamic_shared_bytes) for _ in grid.blocks]
        self._groups = _CooperativeGroups(grid)

    @property
    def shared(self):
        return self._shared_of_block[threading.current_thread().block.number]

    @property
    def cg(self):
        return self._groups

    def syncthreads(self):
        self._grid.arrive(threading.current_thread(), _BLOCK_BARRIER)


class _Grid:
    def __init__(self, function, grid_dim, block_dim, dynamic_shared_bytes, reversed_first):
        self.function, self.grid_dim, self.block_dim = function, grid_dim, block_dim
        self.dynamic_shared_bytes = dynamic_shared_bytes
        self.blocks = []
        for number, (z, y, x) in enumerate(np.ndindex(*grid_dim[::-1])):
            block = _Block(number, [])
            block.threads = [_Thread(self, block, (x, y, z), (tx, ty, tz),
                                     tx + block_dim[0] * (ty + block_dim[1] * tz))
                             for tz, ty, tx in np.ndindex(*block_dim[::-1])]
            if reversed_first:
                block.threads.reverse()
            self.blocks.append(block)
        self._order = self.blocks[::-1] if reversed_first else list(self.blocks)
        self._position = 0
        self._condition = threading.Condition()
        self._running = None
        self._error = None
        self._done = False
        self._started_threads = []
        self.args = ()

    def run(self, args):
        self.args = [FakeWithinKernelCUDAArray(a) if isinstance(a, FakeCUDAArray) else a for a in args]
        module = _Module(self)
        with simulated._push_kernel_context(module), swapped_cuda_module(self.function, module):
            with self._condition:
                self._resume(self._order[0])
                if not self._condition.wait_for(lambda: self._done or self._error, _TIMEOUT_S):
                    self._error = (TimeoutError(f"no progress in {_TIMEOUT_S} s"), "the launch")
                self._condition.notify_all()
            for thread in self._started_threads:
                thread.join(_TIMEOUT_S)
        if self._error:
            exc, where = self._error
            raise RuntimeError(f"launch of {len(self.blocks)} blocks failed in {where}: {exc!r}") from exc

    def wait_for_turn(self, thread):
        with self._condition:
            self._condition.wait_for(lambda: self._error or self._running is thread)
            if self._error:
                raise _Aborted

    def fail(self, exc, where):
        with self._condition:
            if self._error is None:
                self._error = (exc, where)
            self._condition.notify_all()

    def arrive(self, thread, barrier):
        """``thread`` waits at ``barrier`` (or has returned); the next thread, or block, runs."""
        with self._condition:
            block = thread.block
            block.arrivals.append(barrier)
            block.position += 1
            if block.position < len(block.threads):
                self._running = block.threads[block.position]
            else:
                self._pass_barrier(block)
            self._condition.notify_all()
        if barrier != _END:
            self.wait_for_turn(thread)

    def _pass_barrier(self, block):
        """Every live thread of ``block`` has arrived somewhere: on through a block barrier, or hand over."""
        waiting = [t for t, arrival in zip(block.threads, block.arrivals) if arrival != _END]
        barriers = {arrival for arrival in block.arrivals if arrival != _END}
        block.threads, block.arrivals, block.position = waiting[::-1], [], 0
        if len(barriers) > 1:
            self._error = (RuntimeError(f"its threads wait at different barriers: {sorted(barriers)}"),
                           f"block {tuple(block.threads[0].blockIdx)}")
        elif barriers == {_BLOCK_BARRIER}:
            self._running = block.threads[0]
        else:
            block.finished = not barriers
            self._next_block()

    def _next_block(self):
        self._position += 1
        if self._position == len(self._order):
            waiting = [b for b in reversed(self._order) if not b.finished]
            if waiting and len(waiting) < len(self._order):
                returned = sorted(b.number for b in self._order if b.finished)
                self._error = (RuntimeError(f"blocks {sorted(b.number for b in waiting)} wait at grid.sync() but "
                                            f"blocks {returned} have returned"), "the grid")
                return
            if not waiting:
                self._done = True
                return
            self._order, self._position = waiting, 0
        self._resume(self._order[self._position])

    def _resume(self, block):
        self._running = block.threads[0]
        if not block.started:
            block.started = True
            self._started_threads += block.threads
            for thread in block.threads:
                thread.start()
