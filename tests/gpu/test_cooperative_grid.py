"""The simulator's stand-in for cooperative launches of many blocks (cooperative_grid.py) catches what
would hang or race on a GPU."""

import numpy as np
import pytest
from cooperative_grid import CooperativeKernel
from numba import cuda

from numlstm import dispatch

pytestmark = pytest.mark.skipif(not dispatch.simulator_enabled(), reason="runs in Numba's CUDA simulator only")


@cuda.jit
def rotate(values, out, steps):
    """Each step, thread i takes the value of thread i + 1 of the whole grid."""
    grid = cuda.cg.this_grid()
    i = cuda.grid(1)
    n = values.shape[0]
    for _ in range(steps):
        out[i] = values[(i + 1) % n]
        grid.sync()
        values[i] = out[i]
        grid.sync()


@cuda.jit
def rotate_in_shared_memory(values, out):
    """Each block stages its values in its own shared memory."""
    staged = cuda.shared.array(4, np.float64)
    staged[cuda.threadIdx.x] = values[cuda.grid(1)]
    cuda.syncthreads()
    out[cuda.grid(1)] = staged[(cuda.threadIdx.x + 1) % cuda.blockDim.x]


@cuda.jit
def first_block_returns_early(values):
    grid = cuda.cg.this_grid()
    if cuda.blockIdx.x == 0:
        return
    grid.sync()
    values[cuda.grid(1)] = 1.0


@cuda.jit
def threads_disagree(values):
    grid = cuda.cg.this_grid()
    if cuda.threadIdx.x == 0:
        cuda.syncthreads()
    else:
        grid.sync()
    values[cuda.grid(1)] = 1.0


def _launch(kernel, blocks, threads, *args):
    CooperativeKernel(kernel)[blocks, threads, 0, 0](*args)


def test_blocks_see_each_others_writes_after_grid_barrier():
    values = np.arange(12.0)
    device_values, out = cuda.to_device(values), cuda.device_array(12)
    _launch(rotate, 3, 4, device_values, out, 5)
    np.testing.assert_array_equal(device_values.copy_to_host(), np.roll(values, -5))


def test_each_block_has_its_own_shared_memory():
    values = np.arange(12.0)
    out = cuda.device_array(12)
    _launch(rotate_in_shared_memory, 3, 4, cuda.to_device(values), out)
    np.testing.assert_array_equal(out.copy_to_host(), np.roll(values.reshape(3, 4), -1, axis=1).ravel())


def test_a_grid_barrier_that_some_blocks_skip_raises():
    with pytest.raises(RuntimeError, match=r"blocks \[1, 2\] wait at grid.sync\(\) but blocks \[0\] have returned"):
        _launch(first_block_returns_early, 3, 2, cuda.device_array(6))


def test_threads_of_a_block_at_different_barriers_raise():
    with pytest.raises(RuntimeError, match=r"block 0.*different barriers"):
        _launch(threads_disagree, 2, 2, cuda.device_array(4))


def test_an_exception_in_a_thread_names_it():
    with pytest.raises(RuntimeError, match=r"block 1, thread \d: IndexError"):
        _launch(rotate, 2, 2, cuda.device_array(4), cuda.device_array(2), 1)
