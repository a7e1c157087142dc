"""The host buffers of the CPU passes (numlstm.host_buffers): the pool that keeps workspaces between passes."""

import threading
import time

import numpy as np
import pytest

import numlstm
from helpers.cases import random_lstm_args
from numlstm import host_buffers
from numlstm.host_buffers import BufferPool


def test_a_buffer_given_back_serves_the_next_take_of_its_size_and_dtype():
    pool = BufferPool(min_bytes=0, max_bytes=1 << 20)
    first = pool.take(100, np.float32)
    pool.give(first)
    assert pool.nbytes == 400
    assert pool.take(100, np.float64) is not first
    assert pool.take(99, np.float32) is not first
    assert pool.take(100, np.float32) is first
    assert pool.take(100, np.float32) is not first  # taken: never handed out twice
    assert pool.nbytes == 0


def test_small_buffers_are_not_kept_and_the_oldest_go_past_the_cap():
    pool = BufferPool(min_bytes=800, max_bytes=2000)
    small = pool.take(100, np.float32)  # 400 bytes
    pool.give(small)
    assert pool.nbytes == 0 and pool.take(100, np.float32) is not small
    a, b, c = (pool.take(n, np.float64) for n in (100, 101, 102))  # 800, 808, 816 bytes
    for buffer in (a, b, c):
        pool.give(buffer)
    assert pool.nbytes == 808 + 816
    assert pool.take(100, np.float64) is not a
    assert pool.take(101, np.float64) is b
    pool.clear()
    assert pool.nbytes == 0 and pool.take(102, np.float64) is not c


def test_threads_never_take_the_same_buffer():
    pool = BufferPool(min_bytes=0, max_bytes=1 << 30)
    pool.give(np.empty(1000, np.float32))
    overwritten = []

    def take_and_give(mark):
        for _ in range(300):
            buffer = pool.take(1000, np.float32)
            buffer[:] = mark
            time.sleep(0)  # the other threads run while this one holds the buffer
            if not (buffer == mark).all():
                overwritten.append(mark)
            pool.give(buffer)

    workers = [threading.Thread(target=take_and_give, args=(mark,)) for mark in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not overwritten
    assert pool.nbytes == 4000


@pytest.fixture
def pool_for_every_size(monkeypatch):
    """The module's pool, keeping buffers of any size, emptied before and after."""
    monkeypatch.setattr(host_buffers.POOL, "min_bytes", 0)
    host_buffers.POOL.clear()
    yield host_buffers.POOL
    host_buffers.POOL.clear()


def test_training_steps_reuse_the_workspaces_and_compute_the_same_numbers(rng, pool_for_every_size):
    args = random_lstm_args(rng, B=3, T=6, F=2, H=5, dtype=np.float64, peephole=True)
    d_outputs = rng.standard_normal((3, 6, 5))
    outputs, _, _, workspace = numlstm.lstm_forward(**args)
    grads = numlstm.lstm_backward(workspace, d_outputs)
    held = pool_for_every_size.nbytes
    assert held > 0  # the forward and backward buffers

    # Two forward passes alive at once, the second's buffer new: then both backward passes.
    first_outputs, _, _, first = numlstm.lstm_forward(**args)
    assert pool_for_every_size.nbytes < held
    second_outputs, _, _, second = numlstm.lstm_forward(**args)
    for again in (numlstm.lstm_backward(first, d_outputs), numlstm.lstm_backward(second, d_outputs)):
        for name, value in grads._asdict().items():
            np.testing.assert_array_equal(getattr(again, name), value, err_msg=name)
    np.testing.assert_array_equal(first_outputs, outputs)
    np.testing.assert_array_equal(second_outputs, outputs)


def test_a_workspace_dropped_without_a_backward_pass_gives_its_buffer_back(rng, pool_for_every_size):
    args = random_lstm_args(rng, dtype=np.float32)
    outputs, _, _, workspace = numlstm.lstm_forward(**args)
    assert pool_for_every_size.nbytes == 0
    del workspace
    held = pool_for_every_size.nbytes
    assert held > 0
    again, _, _, workspace = numlstm.lstm_forward(**args)
    assert pool_for_every_size.nbytes == 0
    np.testing.assert_array_equal(again, outputs)
