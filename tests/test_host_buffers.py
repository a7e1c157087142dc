"""The host buffers of the CPU passes (numlstm.host_buffers): the pool that keeps workspaces between passes."""

import threading
import time

import numpy as np
import pytest

import numlstm
from helpers.cases import random_lstm_args
from numlstm import host_buffers
from numlstm.host_buffers import BufferPool


SHAPES = ((3, 5), (7,), (2, 2, 2))


def test_carved_arrays_are_aligned_contiguous_views_of_the_buffer_that_never_overlap():
    from numlstm.kernels.cpu.alignment import CACHE_LINE_BYTES

    for dtype in (np.float32, np.float64):
        carved = BufferPool().take(dtype, SHAPES)
        assert [a.shape for a in carved.arrays] == [shape for shape in SHAPES]
        spans = []
        for array in carved.arrays:
            assert array.dtype == dtype and array.flags.c_contiguous and array.base is not None
            assert np.shares_memory(array, carved.buffer)
            start = array.__array_interface__["data"][0]
            assert start % CACHE_LINE_BYTES == 0
            spans.append((start, start + array.nbytes))
        spans.sort()
        assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:]))


def test_a_buffer_given_back_serves_the_next_take_of_its_shapes_and_dtype():
    pool = BufferPool(max_bytes=1 << 20)
    first = pool.take(np.float32, SHAPES)
    pool.give(first)
    assert pool.nbytes == first.buffer.nbytes > 0
    assert pool.take(np.float64, SHAPES) is not first
    assert pool.take(np.float32, SHAPES[:2]) is not first
    assert pool.take(np.dtype(np.float32), SHAPES) is first  # a dtype object and a scalar type alike
    assert pool.take(np.float32, SHAPES) is not first  # taken: never handed out twice
    assert pool.nbytes == 0


def test_the_oldest_buffers_go_past_either_cap():
    sizes = [((n,),) for n in (100, 101, 102)]
    pool = BufferPool(max_bytes=2000)
    a, b, c = (pool.take(np.float64, shapes) for shapes in sizes)  # 800 bytes and more each
    for carved in (a, b, c):
        pool.give(carved)
    assert pool.nbytes == b.buffer.nbytes + c.buffer.nbytes
    assert pool.take(np.float64, sizes[0]) is not a
    assert pool.take(np.float64, sizes[1]) is b
    pool.clear()
    assert pool.nbytes == 0 and pool.take(np.float64, sizes[2]) is not c

    pool = BufferPool(max_buffers=2)
    a, b, c = (pool.take(np.float64, shapes) for shapes in sizes)
    for carved in (a, b, c):
        pool.give(carved)
    assert pool.take(np.float64, sizes[0]) is not a
    assert pool.take(np.float64, sizes[1]) is b and pool.take(np.float64, sizes[2]) is c

    pool = BufferPool(max_bytes=100)
    pool.give(pool.take(np.float64, sizes[0]))  # larger than the cap: not kept
    assert pool.nbytes == 0


def test_threads_never_take_the_same_buffer():
    pool = BufferPool()
    pool.give(pool.take(np.float32, ((1000,),)))
    overwritten = []

    def take_and_give(mark):
        for _ in range(300):
            carved = pool.take(np.float32, ((1000,),))
            carved.arrays[0][:] = mark
            time.sleep(0)  # the other threads run while this one holds the buffer
            if not (carved.arrays[0] == mark).all():
                overwritten.append(mark)
            pool.give(carved)

    workers = [threading.Thread(target=take_and_give, args=(mark,)) for mark in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not overwritten
    held = pool.nbytes
    assert held == pool.take(np.float32, ((1000,),)).buffer.nbytes


@pytest.fixture
def empty_pool():
    """The module's pool, emptied before and after."""
    host_buffers.POOL.clear()
    yield host_buffers.POOL
    host_buffers.POOL.clear()


def test_training_steps_reuse_the_workspaces_and_compute_the_same_numbers(rng, empty_pool):
    args = random_lstm_args(rng, B=3, T=6, F=2, H=5, dtype=np.float64, peephole=True)
    d_outputs = rng.standard_normal((3, 6, 5))
    outputs, _, _, workspace = numlstm.lstm_forward(**args)
    grads = numlstm.lstm_backward(workspace, d_outputs)
    held = empty_pool.nbytes
    assert held > 0  # the forward and backward buffers

    # Two forward passes alive at once, the second's buffer new: then both backward passes.
    first_outputs, _, _, first = numlstm.lstm_forward(**args)
    assert empty_pool.nbytes < held
    second_outputs, _, _, second = numlstm.lstm_forward(**args)
    for again in (numlstm.lstm_backward(first, d_outputs), numlstm.lstm_backward(second, d_outputs)):
        for name, value in grads._asdict().items():
            np.testing.assert_array_equal(getattr(again, name), value, err_msg=name)
    np.testing.assert_array_equal(first_outputs, outputs)
    np.testing.assert_array_equal(second_outputs, outputs)


def test_a_workspace_dropped_without_a_backward_pass_gives_its_buffer_back(rng, empty_pool):
    args = random_lstm_args(rng, dtype=np.float32)
    outputs, _, _, workspace = numlstm.lstm_forward(**args)
    assert empty_pool.nbytes == 0
    del workspace
    held = empty_pool.nbytes
    assert held > 0
    again, _, _, workspace = numlstm.lstm_forward(**args)
    assert empty_pool.nbytes == 0
    np.testing.assert_array_equal(again, outputs)
