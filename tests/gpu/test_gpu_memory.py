"""numlstm's device memory pool (kernels/cuda/memory.py): its blocks and leases with numba-cuda's own
pointer and array classes over a stand-in context, on any machine with numba-cuda; in the simulator, that
every device array numlstm makes comes through it; on a GPU, that a model trains to the same bits with and
without it and allocates nothing new after its first step."""

import gc
import weakref

import numpy as np
import pytest

import numlstm
from helpers.gpu import MODELS
from numlstm import dispatch, layers
from numlstm.kernels import options

# numba's own deprecated numba.cuda imports too, but lacks numba-cuda's classes and cuda.bindings.
pytest.importorskip("numba_cuda", reason="needs the cuda extra: pip install -e '.[cuda]'")
from numlstm.kernels.cuda import memory as cuda_memory  # noqa: E402

needs_numba_cuda_classes = pytest.mark.skipif(dispatch.simulator_enabled(),
                                              reason="the simulator replaces numba-cuda's device arrays")


class _Context:
    """What the pool asks of numba-cuda's context: ``memalloc`` (recorded in ``made``; ``out_of_memory``
    entries fail as many calls), ``extras``, and the memory manager's pending frees, which this stand-in
    makes at once (``freed``); ``flushes`` counts the pool's calls to flush them."""

    def __init__(self):
        from cuda.bindings import driver as binding

        self.extras, self.made, self.freed, self.out_of_memory, self._live = {}, [], [], [], {}
        self.flushes = 0
        self._binding = binding
        context = self

        class _Pending:
            def clear(self):
                context.flushes += 1

        self.memory_manager = type("Manager", (), {"deallocations": _Pending()})()

    def memalloc(self, size):
        from numba.cuda.cudadrv import driver

        if self.out_of_memory:
            self.out_of_memory.pop()
            raise driver.CudaAPIError(self._binding.CUresult.CUDA_ERROR_OUT_OF_MEMORY, "out of memory")
        address = 0x100000 * (len(self.made) + 1)
        self.made.append((address, size))

        def free():
            self._live.pop(address)
            self.freed.append(address)

        memory = driver.AutoFreePointer(weakref.proxy(self), self._binding.CUdeviceptr(address), size, finalizer=free)
        self._live[address] = memory  # as numba-cuda's allocations table holds them
        return memory.own()


@pytest.fixture
def context(monkeypatch):
    """A stand-in context whose pool serves ``cuda_memory.device_array``."""
    context = _Context()
    pool = cuda_memory.DevicePool(context)
    monkeypatch.setattr(cuda_memory, "pool", lambda: pool)
    context.pool = pool
    return context


def _address(array):
    return array.device_ctypes_pointer.value


def test_block_sizes_round_up_by_512_bytes_then_by_an_eighth_of_a_power_of_two():
    assert [cuda_memory.block_size(n) for n in (1, 512, 513, 1000, 2**20 - 1)] == [512, 512, 1024, 1024, 2**20]
    for size in (2**20, 2**20 + 1, 3 * 2**20 + 5, 10**9):
        block = cuda_memory.block_size(size)
        assert size <= block <= size * 1.125 and block % 512 == 0
    assert cuda_memory.block_size(2**20 + 1) == 2**20 + 2**17
    sizes = range(1, 3 * 2**20, 4099)
    assert all(cuda_memory.block_size(a) <= cuda_memory.block_size(b) for a, b in zip(sizes, sizes[1:]))


@needs_numba_cuda_classes
def test_a_dropped_array_s_block_serves_the_next_array_of_its_size(context):
    first = cuda_memory.device_array((10, 25), np.float32)  # 1000 bytes: a 1024-byte block
    assert (first.shape, first.dtype, first.strides) == ((10, 25), np.float32, (100, 4))
    address = _address(first)
    assert context.made == [(address, 1024)]
    del first
    gc.collect()
    assert context.pool.cached_bytes == 1024 and context.freed == []
    again = cuda_memory.device_array(112, np.float64)  # 896 bytes
    assert _address(again) == address and len(context.made) == 1 and context.pool.cached_bytes == 0
    other = cuda_memory.device_array(2000, np.uint8)
    assert _address(other) != address and context.made[-1][1] == 2048


@needs_numba_cuda_classes
def test_a_view_keeps_its_array_s_block_from_the_pool(context):
    from numba.cuda.cudadrv.devicearray import DeviceNDArray

    array = cuda_memory.device_array((4, 8), np.float32)
    address = _address(array)
    # what slicing builds (slicing itself asks for a live context first)
    rows = DeviceNDArray((3, 8), (32, 4), np.float32, gpu_data=array.gpu_data.view(32))
    flat = array.reshape(-1)
    assert _address(rows) == address + 32 and _address(flat) == address
    del array
    gc.collect()
    assert context.pool.cached_bytes == 0
    other = cuda_memory.device_array((4, 8), np.float32)
    assert _address(other) != address and len(context.made) == 2
    del rows
    gc.collect()
    assert context.pool.cached_bytes == 0  # the flat view still holds it
    del flat
    gc.collect()
    assert context.pool.cached_bytes == 512
    assert _address(cuda_memory.device_array((4, 8), np.float32)) == address


@needs_numba_cuda_classes
def test_a_live_block_is_never_handed_out_twice(context):
    arrays = [cuda_memory.device_array(100, np.float32) for _ in range(3)]
    assert len({_address(a) for a in arrays}) == 3 and len(context.made) == 3
    del arrays[1]
    gc.collect()
    fresh = cuda_memory.device_array(100, np.float32)
    assert _address(fresh) not in {_address(a) for a in arrays} and len(context.made) == 3


@needs_numba_cuda_classes
def test_running_out_of_memory_gives_the_free_blocks_back_and_tries_again(context):
    cached = cuda_memory.device_array(1024, np.float32)
    address = _address(cached)
    del cached
    gc.collect()
    context.out_of_memory.append(True)
    larger = cuda_memory.device_array(10**6, np.float32)
    assert context.freed == [address] and context.pool.cached_bytes == 0
    assert context.made[-1] == (_address(larger), cuda_memory.block_size(4 * 10**6))


@needs_numba_cuda_classes
def test_running_out_of_memory_for_good_says_what_numlstm_holds(context):
    live = cuda_memory.device_array(2**20, np.float32)  # 4 MiB
    cached = cuda_memory.device_array(2**19, np.float32)
    del cached
    gc.collect()
    context.out_of_memory.extend([True, True])
    with pytest.raises(MemoryError, match=r"out of memory: numlstm asked for 8\.0 MiB more, with 4\.0 MiB held by "
                                          r"its live arrays \(its 2\.0 MiB of free blocks already given back\); "
                                          r"use a smaller batch_size"):
        cuda_memory.device_array(2**21, np.float32)
    assert context.pool.cached_bytes == 0 and _address(live)


@needs_numba_cuda_classes
def test_release_cached_frees_the_free_blocks_only(context):
    kept, dropped = cuda_memory.device_array(10, np.float32), cuda_memory.device_array(10, np.float32)
    dropped_address = _address(dropped)
    del dropped
    gc.collect()
    cuda_memory.release_cached()
    assert context.freed == [dropped_address] and context.flushes == 1 and context.pool.cached_bytes == 0
    del kept
    gc.collect()
    assert context.pool.cached_bytes == 512 and len(context.freed) == 1


@needs_numba_cuda_classes
def test_arrays_of_a_kept_layout_are_what_numba_cuda_builds(context):
    """The pool's arrays copy the attributes numba-cuda's DeviceNDArray.__init__ gives (kept per shape and
    dtype, however the dtype is named); each has a block of its own."""
    from numba.cuda.cudadrv.devicearray import DeviceNDArray

    for shape, dtype in [((3, 4), np.float32), ((3, 4), "float32"), ((3, 4), np.dtype(np.float32)),
                         (5, np.float64), ((2, 1, 3), np.int64), ((3, 4), np.float64)]:
        first, second = cuda_memory.device_array(shape, dtype), cuda_memory.device_array(shape, dtype)
        built = DeviceNDArray(cuda_memory.shape_tuple(shape), np.empty(shape, dtype).strides, dtype,
                              gpu_data=first.gpu_data)
        for array in (first, second):
            assert type(array) is DeviceNDArray
            assert {k: v for k, v in vars(array).items() if k != "gpu_data"} == \
                {k: v for k, v in vars(built).items() if k != "gpu_data"}
        assert _address(first) != _address(second)
        assert first.reshape(-1).shape == (first.size,)


@needs_numba_cuda_classes
def test_empty_arrays_take_no_block(context, monkeypatch):
    from numba import cuda

    made = []
    monkeypatch.setattr(cuda, "device_array", lambda shape, dtype: made.append(shape) or np.empty(shape, dtype))
    cuda_memory.device_array((0, 3), np.float32)
    assert made == [(0, 3)] and context.made == []


@needs_numba_cuda_classes
def test_the_pool_lives_in_its_context_and_stands_aside_where_it_cannot_serve(monkeypatch):
    import numba
    from numba import cuda

    context = _Context()
    monkeypatch.setattr(cuda, "current_context", lambda: context)
    monkeypatch.delenv("CUDA_PYTHON_CUDA_PER_THREAD_DEFAULT_STREAM", raising=False)
    monkeypatch.setattr(numba.config, "CUDA_PER_THREAD_DEFAULT_STREAM", 0)
    pool = cuda_memory.pool()
    assert isinstance(pool, cuda_memory.DevicePool) and cuda_memory.pool() is pool
    assert context.extras["numlstm.device_pool"] is pool
    monkeypatch.setattr(options, "DEVICE_PRESET", options.DEVICE_PRESET.replace(memory_pool=False))
    assert cuda_memory.pool() is None
    monkeypatch.setattr(options, "DEVICE_PRESET", options.DEVICE_PRESET.replace(memory_pool=True))
    assert cuda_memory.pool() is pool
    monkeypatch.setenv("CUDA_PYTHON_CUDA_PER_THREAD_DEFAULT_STREAM", "1")  # threads' streams run unordered
    under_per_thread_streams = _Context()
    monkeypatch.setattr(cuda, "current_context", lambda: under_per_thread_streams)
    assert cuda_memory.pool() is None and cuda_memory.pool() is None


@pytest.mark.slow  # over 10 s in the simulator on two cores
@pytest.mark.simulator(reason="counts the simulator's device arrays")
def test_every_device_array_numlstm_makes_comes_through_the_pool_s_function(monkeypatch):
    """The simulator has no pool, but cuda_memory.device_array still hands out its arrays: a training step,
    predict and evaluate of models with most layers allocate nowhere else."""
    import inspect

    from numba import cuda

    callers = []
    for name in ("device_array", "to_device"):
        original = getattr(cuda, name)

        def recorded(*args, _original=original, **kwargs):
            callers.append(inspect.currentframe().f_back.f_globals["__name__"])
            return _original(*args, **kwargs)

        monkeypatch.setattr(cuda, name, recorded)
    for make in MODELS.values():
        with numlstm.device("cuda"):
            model, x, y = make()
            model.train_on_batch(x, y)
            model.predict(x, verbose=0)
            model.evaluate(x, y, verbose=0)
    assert len(callers) > 50
    assert set(callers) == {cuda_memory.__name__}


def _trained_weights(steps, allocations):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 4, 3)).astype(np.float32), rng.standard_normal((6, 2)).astype(np.float32)
    numlstm.utils.set_random_seed(1)
    model = numlstm.Sequential([layers.Input((4, 3)), layers.LSTM(5, return_sequences=True), layers.Dropout(0.2),
                                layers.LSTM(5), layers.Dense(2)])
    model.compile(optimizer=numlstm.optimizers.Adam(global_clipnorm=1.0), loss="mse")
    with numlstm.device("cuda"):
        model.train_on_batch(x, y)
        allocations.clear()  # the first step of a shape fills the pool
        for _ in range(steps):
            model.train_on_batch(x, y)
    return np.concatenate([w.ravel() for w in model.get_weights()])


@pytest.mark.real_gpu
def test_training_through_the_pool_matches_numba_cudas_allocator_and_allocates_once(monkeypatch):
    from numba import cuda

    allocations = []
    manager = cuda.current_context().memory_manager
    allocate = manager.memalloc
    monkeypatch.setattr(manager, "memalloc", lambda size: allocations.append(size) or allocate(size))
    monkeypatch.setattr(options, "DEVICE_PRESET", options.DEVICE_PRESET.replace(memory_pool=False))
    without = _trained_weights(3, allocations)
    assert len(allocations) > 30  # a step's arrays, each its own allocation
    monkeypatch.setattr(options, "DEVICE_PRESET", options.DEVICE_PRESET.replace(memory_pool=True))
    pooled = _trained_weights(3, allocations)
    assert allocations == []
    np.testing.assert_array_equal(pooled, without)
