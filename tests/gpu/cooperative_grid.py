"""Cooperative launches of many blocks in Numba's CUDA simulator, for the persistent kernels' tests.

The simulator runs a grid's blocks one after another and a cooperative grid
as one block, so its ``grid.sync()`` is a block barrier and nothing checks
that the blocks of a persistent kernel meet where they must: removing a grid
barrier still passes there. :class:`CooperativeKernel` stands in for a
simulated kernel and launches it on ``blocks`` blocks, each with its own
shared memory, that run in turn between grid barriers: a block runs until
all its threads wait at ``grid.sync()`` (or return), then the next one runs,
and the order reverses at every barrier. So whatever a block reads that
another block wrote in the previous phase is there only if a grid barrier
separates the two, whichever comes first in the order. Threads of a block
that wait at different barriers (``syncthreads``, ``grid.sync()``, the end),
and a grid barrier that some blocks never reach, raise: both hang a GPU.
"""

import threading

from numba.cuda.simulator import kernel as simulated
from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray, FakeWithinKernelCUDAArray
from numba.cuda.simulator.kernelapi import Dim3, FakeCUDAModule, FakeCUDAShared, swapped_cuda_module

_TIMEOUT_S = 300


class CooperativeKernel:
    """Wraps a simulated kernel; ``wrapped[blocks, threads, stream, dynamic_shared_bytes](*args)``
    runs it as a cooperative launch of ``blocks`` one-dimensional blocks."""

    def __init__(self, kernel):
        self.kernel = kernel
        self.launches = []

    def __getitem__(self, configuration):
        blocks, threads, _stream, dynamic_shared_bytes = configuration

        def launch(*args):
            self.launches.append(blocks)
            _Grid(self.kernel.py_func, blocks, threads, dynamic_shared_bytes).run(args)

        return launch


class _Aborted(Exception):
    """Raised in the threads still waiting when another thread has failed."""


class _Thread(threading.Thread):
    def __init__(self, grid, block, thread, args):
        super().__init__(daemon=True)
        self.grid, self.args = grid, args
        self.blockIdx, self.threadIdx = Dim3(block, 0, 0), Dim3(thread, 0, 0)
        self.thread_id = thread

    def run(self):
        try:
            self.grid.function(*self.args)
            self.grid.arrive(self, "the end of the kernel")
        except _Aborted:
            pass
        except BaseException as exc:  # noqa: B036 - handed to the launching thread
            self.grid.fail(exc, f"block {self.blockIdx.x}, thread {self.threadIdx.x}")


class _GridGroup:
    def __init__(self, grid):
        self._grid = grid

    def sync(self):
        self._grid.arrive(threading.current_thread(), "grid.sync()")


class _CooperativeGroups:
    def __init__(self, grid):
        self._group = _GridGroup(grid)

    def this_grid(self):
        return self._group


class _Module(FakeCUDAModule):
    """The ``cuda`` module a kernel sees: shared memory per block, barriers through the grid."""

    def __init__(self, grid):
        super().__init__((grid.blocks, 1, 1), (grid.threads, 1, 1), grid.dynamic_shared_bytes)
        self._grid = grid
        self._shared_of_block = [FakeCUDAShared(grid.dynamic_shared_bytes) for _ in range(grid.blocks)]
        self._groups = _CooperativeGroups(grid)

    @property
    def shared(self):
        return self._shared_of_block[threading.current_thread().blockIdx.x]

    @property
    def cg(self):
        return self._groups

    def syncthreads(self):
        self._grid.arrive(threading.current_thread(), "syncthreads()")


class _Grid:
    def __init__(self, function, blocks, threads, dynamic_shared_bytes):
        self.function, self.blocks, self.threads = function, blocks, threads
        self.dynamic_shared_bytes = dynamic_shared_bytes
        self._condition = threading.Condition()
        self._arrivals = [[] for _ in range(blocks)]
        self._generation = [0] * blocks  # bumped when a block's threads may go on
        self._finished = [False] * blocks
        self._order = list(range(blocks))
        self._position = 0
        self._threads = []
        self._started = set()
        self._error = None
        self._done = False

    def run(self, args):
        args = [FakeWithinKernelCUDAArray(a) if isinstance(a, FakeCUDAArray) else a for a in args]
        module = _Module(self)
        with simulated._push_kernel_context(module), swapped_cuda_module(self.function, module):
            with self._condition:
                self._start(0, args)
                if not self._condition.wait_for(lambda: self._done or self._error, _TIMEOUT_S):
                    self._error = (TimeoutError(f"no progress in {_TIMEOUT_S} s"), "the launch")
                self._condition.notify_all()
            for thread in self._threads:
                thread.join(_TIMEOUT_S)
        if self._error:
            exc, where = self._error
            raise RuntimeError(f"cooperative launch of {self.blocks} blocks failed in {where}: {exc!r}") from exc

    def _start(self, block, args):
        self._started.add(block)
        threads = [_Thread(self, block, thread, args) for thread in range(self.threads)]
        self._threads += threads
        for thread in threads:
            thread.start()

    def fail(self, exc, where):
        with self._condition:
            if self._error is None:
                self._error = (exc, where)
            self._condition.notify_all()

    def arrive(self, thread, barrier):
        """A thread waits at ``barrier`` until its block, or the grid, may go on."""
        block = thread.blockIdx.x
        with self._condition:
            arrivals = self._arrivals[block]
            arrivals.append(barrier)
            generation = self._generation[block]
            if len(arrivals) == self.threads:
                self._arrivals[block] = []
                if len(set(arrivals)) > 1:
                    self._error = (RuntimeError(f"its threads wait at different barriers: {sorted(set(arrivals))}"),
                                   f"block {block}")
                elif barrier == "syncthreads()":
                    self._generation[block] += 1
                else:
                    self._finished[block] = barrier == "the end of the kernel"
                    self._next_block(thread.args)
                self._condition.notify_all()
            if barrier == "the end of the kernel":
                return
            self._condition.wait_for(lambda: self._error or self._generation[block] != generation)
            if self._error:
                raise _Aborted

    def _next_block(self, args):
        self._position += 1
        if self._position == len(self._order):
            waiting = [b for b in reversed(self._order) if not self._finished[b]]
            if waiting and len(waiting) < len(self._order):
                finished = sorted(set(self._order) - set(waiting))
                self._error = (RuntimeError(f"blocks {sorted(waiting)} wait at grid.sync() but blocks {finished} "
                                            "have returned"), "the grid")
                return
            if not waiting:
                self._done = True
                return
            self._order, self._position = waiting, 0
        block = self._order[self._position]
        if block in self._started:
            self._generation[block] += 1
        else:
            self._start(block, args)
