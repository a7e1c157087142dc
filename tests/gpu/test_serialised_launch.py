"""The simulator's stand-in that runs a kernel one thread at a time (serialised_launch.py) catches a
missing barrier, and what would hang or fail on a GPU."""

import numpy as np
import pytest
from numba import cuda

from helpers.serialised_launch import SerialisedKernel

pytestmark = pytest.mark.simulator

ORDERS = ["natural", "reversed"]


@cuda.jit
def rotate(values, out, steps, synchronised):
    """Each step, thread i takes the value of thread i + 1 of the whole grid."""
    grid = cuda.cg.this_grid()
    i = cuda.grid(1)
    n = values.shape[0]
    for _ in range(steps):
        out[i] = values[(i + 1) % n]
        if synchronised:
            grid.sync()
        values[i] = out[i]
        if synchronised:
            grid.sync()


@cuda.jit
def rotate_in_shared_memory(values, out, offset, synchronised):
    """Thread i of each block takes the value of thread i + offset of its block, through shared memory."""
    staged = cuda.shared.array(4, np.float64)
    staged[cuda.threadIdx.x] = values[cuda.grid(1)]
    if synchronised:
        cuda.syncthreads()
    out[cuda.grid(1)] = staged[(cuda.threadIdx.x + cuda.blockDim.x + offset) % cuda.blockDim.x]


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


@cuda.jit
def some_threads_return_before_the_barrier(values, out):
    staged = cuda.shared.array(4, np.float64)
    if cuda.threadIdx.x >= 3:
        return
    staged[cuda.threadIdx.x] = values[cuda.grid(1)]
    cuda.syncthreads()
    out[cuda.grid(1)] = staged[(cuda.threadIdx.x + 1) % 3]


@pytest.mark.parametrize("first", ORDERS)
def test_blocks_see_each_others_writes_after_a_grid_barrier(first):
    values = np.arange(12.0)
    device_values, out = cuda.to_device(values), cuda.device_array(12)
    SerialisedKernel(rotate, first)[3, 4, 0, 0](device_values, out, 5, True)
    np.testing.assert_array_equal(device_values.copy_to_host(), np.roll(values, -5))


def test_a_missing_grid_barrier_is_caught():
    values = np.arange(12.0)
    device_values, out = cuda.to_device(values), cuda.device_array(12)
    SerialisedKernel(rotate)[3, 4, 0, 0](device_values, out, 5, False)
    assert not np.array_equal(device_values.copy_to_host(), np.roll(values, -5))


@pytest.mark.parametrize("offset", [1, -1])
@pytest.mark.parametrize("first", ORDERS)
def test_each_block_has_its_own_shared_memory(offset, first):
    values = np.arange(12.0)
    out = cuda.device_array(12)
    SerialisedKernel(rotate_in_shared_memory, first)[3, 4](cuda.to_device(values), out, offset, True)
    np.testing.assert_array_equal(out.copy_to_host(), np.roll(values.reshape(3, 4), -offset, axis=1).ravel())


@pytest.mark.parametrize("offset,caught_in", [(1, "natural"), (-1, "reversed")])
def test_a_missing_block_barrier_is_caught_in_one_of_the_two_orders(offset, caught_in):
    """Thread i reading thread i + 1's slot comes before that thread's write in the natural order; reading
    thread i - 1's, in the reversed order. The unwritten slot reads NaN."""
    values = np.arange(8.0)
    out = cuda.to_device(np.full(8, -1.0))
    SerialisedKernel(rotate_in_shared_memory, caught_in)[2, 4](cuda.to_device(values), out, offset, False)
    assert np.isnan(out.copy_to_host()).any()


def test_returned_threads_no_longer_count_at_a_block_barrier():
    values = np.arange(8.0)
    out = cuda.to_device(np.full(8, -1.0))
    SerialisedKernel(some_threads_return_before_the_barrier)[2, 4](cuda.to_device(values), out)
    got = out.copy_to_host().reshape(2, 4)
    np.testing.assert_array_equal(got[:, :3], np.roll(values.reshape(2, 4)[:, :3], -1, axis=1))
    np.testing.assert_array_equal(got[:, 3], -1.0)


def test_a_grid_barrier_that_some_blocks_skip_raises():
    with pytest.raises(RuntimeError, match=r"blocks \[1, 2\] wait at grid.sync\(\) but blocks \[0\] have returned"):
        SerialisedKernel(first_block_returns_early)[3, 2, 0, 0](cuda.device_array(6))


def test_threads_of_a_block_at_different_barriers_raise():
    with pytest.raises(RuntimeError, match=r"block \(0, 0, 0\).*different barriers"):
        SerialisedKernel(threads_disagree)[2, 2, 0, 0](cuda.device_array(4))


def test_an_exception_in_a_thread_names_it():
    with pytest.raises(RuntimeError, match=r"block \(1, 0, 0\), thread \(\d, 0, 0\): IndexError"):
        SerialisedKernel(rotate)[2, 2, 0, 0](cuda.device_array(4), cuda.device_array(2), 1, True)


def test_two_dimensional_grids_and_blocks():
    @cuda.jit
    def coordinates(out):
        x, y = cuda.grid(2)
        out[y, x] = 10 * y + x

    out = cuda.device_array((4, 6))
    SerialisedKernel(coordinates)[(3, 2), (2, 2)](out)
    np.testing.assert_array_equal(out.copy_to_host(), 10 * np.arange(4)[:, None] + np.arange(6))
