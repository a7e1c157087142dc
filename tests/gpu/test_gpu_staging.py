"""Transfers staged through page-locked buffers (numlstm/backend/cuda_staging.py): same values as an
ordinary copy, a buffer used again only once its copy has passed (and a download's result been taken), the
ordinary copy beyond the limits; on a GPU, an upload that does not wait for the kernels queued before it and
a download that does not wait for the kernels queued after it."""

import time

import numpy as np
import pytest

pytestmark = pytest.mark.gpu


@pytest.fixture
def staging():
    from numlstm.backend import cuda_staging

    return cuda_staging


@pytest.mark.parametrize("array", [np.arange(12.0).reshape(2, 3, 2), np.arange(5, dtype=np.float32),
                                   np.array([[True, False, True]]), np.arange(-3, 300, dtype=np.int64)],
                         ids=["float64", "float32", "bool", "int64"])
def test_an_upload_gives_the_array_and_leaves_the_callers_array_free(staging, array):
    original = array.copy()
    pool = staging.StagingPool()
    out = pool.upload(array, 1 << 22)
    array[...] = array[::-1] if array.ndim == 1 else 0  # the caller may reuse its array at once
    assert out.dtype == original.dtype and out.shape == original.shape
    np.testing.assert_array_equal(out.copy_to_host(), original)


def test_a_buffer_serves_again_only_once_its_copy_has_passed(staging, monkeypatch):
    pool = staging.StagingPool()
    passed = [False]
    monkeypatch.setattr(staging, "_passed", lambda event: passed[0])
    first = pool.upload(np.ones(100), 1 << 22)  # 800 bytes: a 1024-byte buffer
    second = pool.upload(np.full(100, 2.0), 1 << 22)  # the first buffer's copy may still be queued: a new buffer
    assert pool.held_bytes == 2048 and len(pool.idle[1024]) == 2
    buffers = [buffer for buffer, _ in pool.idle[1024]]
    passed[0] = True
    third = pool.upload(np.full(90, 3.0), 1 << 22)
    assert pool.held_bytes == 2048 and [buffer for buffer, _ in pool.idle[1024]] == buffers[1:] + buffers[:1]
    for out, value, size in ((first, 1.0, 100), (second, 2.0, 100), (third, 3.0, 90)):
        np.testing.assert_array_equal(out.copy_to_host(), np.full(size, value))


def test_beyond_its_limits_an_upload_is_an_ordinary_copy(staging, monkeypatch):
    pool = staging.StagingPool()
    assert pool.upload(np.zeros(129), 1024) is None and pool.upload(np.zeros((0, 3)), 1024) is None
    assert pool.upload(np.zeros(128), 1024) is not None and pool.held_bytes == 1024
    monkeypatch.setattr(staging, "BUDGET", 3072)
    monkeypatch.setattr(staging, "_passed", lambda event: False)
    assert pool.upload(np.zeros(200), 1 << 22) is not None and pool.upload(np.zeros(200), 1 << 22) is None
    monkeypatch.setattr(staging, "pool", lambda: pool)
    np.testing.assert_array_equal(staging.upload(np.arange(200.0), 1 << 22).copy_to_host(), np.arange(200.0))
    assert pool.held_bytes == 3072


def test_a_download_gives_the_array_and_holds_its_buffer_until_taken(staging, monkeypatch):
    from numba import cuda

    pool = staging.StagingPool()
    source = np.arange(6.0).reshape(2, 3)
    device = cuda.to_device(source)
    pending = pool.download(device, 1 << 22)
    assert pool.held_bytes == 256 and not pool.idle[256]  # its copy passed, but its result is not yet taken
    other = pool.download(cuda.to_device(np.ones(4)), 1 << 22)
    assert pool.held_bytes == 512  # so the next transfer takes a buffer of its own
    device.copy_to_device(np.zeros((2, 3)))  # the device array may change once the copy is queued
    result = pending.result()
    assert result is pending.result()
    np.testing.assert_array_equal(result, source)
    assert len(pool.idle[256]) == 1
    del other  # dropped unread: its buffer serves again too
    assert len(pool.idle[256]) == 2 and pool.held_bytes == 512
    np.testing.assert_array_equal(result, source)  # the result is the caller's, not the buffer


def test_beyond_its_limits_a_download_is_an_ordinary_copy(staging, monkeypatch):
    from numba import cuda

    pool = staging.StagingPool()
    monkeypatch.setattr(staging, "pool", lambda: pool)
    pending = staging.download(cuda.to_device(np.arange(40.0)), 256)
    np.testing.assert_array_equal(pending.result(), np.arange(40.0))
    columns = staging.download(cuda.to_device(np.arange(12.0).reshape(3, 4))[:, 1:3], 1 << 22)
    np.testing.assert_array_equal(columns.result(), np.arange(12.0).reshape(3, 4)[:, 1:3])
    assert pool.held_bytes == 0


def test_the_current_context_keeps_one_pool(staging):
    assert staging.pool() is staging.pool()


@pytest.mark.real_gpu(reason="the simulator runs every call to its end")
def test_a_staged_upload_does_not_wait_for_the_kernels_before_it(staging):
    """A pageable copy starts only once the device is idle (so it waits for the spinning kernel); a staged
    one is queued behind it and returns at once, and still lands after the kernel, in stream order."""
    from numba import cuda

    @cuda.jit
    def spin(steps, out):
        x = out[0]
        for _ in range(steps):  # a dependent chain: one thread busy for as long as the steps take
            x = x * 0.9999999 + 1e-7
        out[0] = x

    flag = cuda.to_device(np.zeros(1))
    spin[1, 1](1, flag)  # compile
    cuda.synchronize()
    started = time.perf_counter()
    spin[1, 1](100_000_000, flag)
    cuda.synchronize()
    busy = time.perf_counter() - started
    array = np.arange(1000.0)
    staging.upload(array, array.nbytes)  # the pool's buffer made outside the timing: page-locking may wait
    cuda.synchronize()
    timings = {}
    for name, upload in (("ordinary", cuda.to_device), ("staged", lambda a: staging.upload(a, a.nbytes))):
        spin[1, 1](100_000_000, flag)
        started = time.perf_counter()
        out = upload(array)
        timings[name] = time.perf_counter() - started
        cuda.synchronize()
        np.testing.assert_array_equal(out.copy_to_host(), array)
    assert busy > 0.05 and timings["ordinary"] > busy / 2 and timings["staged"] < busy / 4, (busy, timings)


@pytest.mark.real_gpu(reason="the simulator runs every call to its end")
def test_a_staged_download_waits_for_its_copy_not_for_the_kernels_after_it(staging):
    from numba import cuda

    @cuda.jit
    def spin(steps, out):
        x = out[0]
        for _ in range(steps):
            x = x * 0.9999999 + 1e-7
        out[0] = x

    flag = cuda.to_device(np.zeros(1))
    spin[1, 1](1, flag)  # compile
    array = cuda.to_device(np.arange(1000.0))
    staging.download(array, array.nbytes).result()  # the pool's buffer made outside the timing
    cuda.synchronize()
    started = time.perf_counter()
    spin[1, 1](100_000_000, flag)
    cuda.synchronize()
    busy = time.perf_counter() - started
    pending = staging.download(array, array.nbytes)
    spin[1, 1](100_000_000, flag)
    started = time.perf_counter()
    result = pending.result()
    waited = time.perf_counter() - started
    np.testing.assert_array_equal(result, np.arange(1000.0))
    started = time.perf_counter()
    array.copy_to_host()  # an ordinary copy waits for the kernel queued before it
    ordinary = time.perf_counter() - started
    assert busy > 0.05 and waited < busy / 4 and ordinary > busy / 2, (busy, waited, ordinary)
