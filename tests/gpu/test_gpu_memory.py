"""The opt-in caching allocator (kernels/gpu_memory.py): its pool against a stand-in for the driver's
cuMemAlloc and cuMemFree, on any machine with numba-cuda; on a GPU, a model trained through it computes
the same bits as through numba-cuda's own allocator, and allocates nothing new after its first step."""

import gc
import os
import subprocess
import sys
import textwrap

import pytest

from numlstm import dispatch

if dispatch.simulator_enabled():
    pytest.skip("Numba's simulator has no memory managers", allow_module_level=True)
gpu_memory = pytest.importorskip("numlstm.kernels.gpu_memory", reason="needs numba-cuda")


class _Context:
    """The manager keeps a weak proxy of its context."""


@pytest.fixture
def manager(monkeypatch):
    """A CachingMemoryManager whose driver calls are recorded: ``made`` (address, bytes) per cuMemAlloc,
    ``freed`` addresses per cuMemFree; ``out_of_memory.append(True)`` fails the next cuMemAlloc."""
    from cuda.bindings import driver as binding
    from numba.cuda.cudadrv.driver import CudaAPIError

    manager = gpu_memory.CachingMemoryManager(context=_Context())
    manager.made, manager.freed, manager.out_of_memory = [], [], []

    def allocate(size):
        if manager.out_of_memory:
            manager.out_of_memory.pop()
            raise CudaAPIError(binding.CUresult.CUDA_ERROR_OUT_OF_MEMORY, "out of memory")
        pointer = binding.CUdeviceptr(0x10000 * (len(manager.made) + 1))
        manager.made.append((int(pointer), size))
        return pointer

    monkeypatch.setattr(manager, "_allocate", allocate)
    monkeypatch.setattr(manager, "_free", lambda pointer: manager.freed.append(int(pointer)))
    return manager


def _address(memory):
    return memory.device_ctypes_pointer.value


def test_a_freed_block_serves_the_next_allocation_of_its_size(manager):
    first = manager.memalloc(1000)
    address = _address(first)
    assert manager.made == [(address, 1024)] and manager.cached_bytes == 0
    del first
    gc.collect()
    assert manager.cached_bytes == 1024 and manager.freed == []
    again = manager.memalloc(900)  # rounds to the same 1024-byte block
    assert _address(again) == address and len(manager.made) == 1 and manager.cached_bytes == 0
    other = manager.memalloc(2000)
    assert _address(other) != address and manager.made[-1][1] == 2048


def test_a_live_block_is_never_handed_out_twice(manager):
    first, second = manager.memalloc(100), manager.memalloc(100)
    assert _address(first) != _address(second) and len(manager.made) == 2
    del first
    gc.collect()
    third = manager.memalloc(100)
    assert _address(third) not in (_address(second),) and len(manager.made) == 2


def test_running_out_of_memory_gives_the_cached_blocks_back_and_tries_again(manager):
    cached = manager.memalloc(4096)
    address = _address(cached)
    del cached
    gc.collect()
    manager.out_of_memory.append(True)
    larger = manager.memalloc(10**6)
    assert manager.freed == [address] and manager.cached_bytes == 0
    assert manager.made[-1] == (_address(larger), gpu_memory.block_size(10**6))


def test_a_context_reset_drops_the_cache_without_freeing(manager):
    block = manager.memalloc(10)
    del block
    gc.collect()
    manager.reset()
    assert manager.cached_bytes == 0 and manager.freed == []
    manager.memalloc(10)
    assert len(manager.made) == 2


def test_numba_cuda_takes_it_as_its_memory_manager(monkeypatch):
    """What NUMBA_CUDA_MEMORY_MANAGER=numlstm.kernels.gpu_memory looks up, and passes numba-cuda's checks."""
    from numba.cuda.cudadrv import driver

    monkeypatch.setattr(driver, "_memory_manager", None)
    driver.set_memory_manager(gpu_memory._numba_memory_manager)
    assert driver._memory_manager is gpu_memory.CachingMemoryManager


_TRAINING = textwrap.dedent("""
    import sys

    import numpy as np
    from numba import cuda

    import numlstm
    from numlstm import layers

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 4, 3)).astype(np.float32), rng.standard_normal((6, 2)).astype(np.float32)
    model = numlstm.Sequential([layers.Input((4, 3)), layers.LSTM(5), layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    with numlstm.device("cuda"):
        model.train_on_batch(x, y)
        manager = cuda.current_context().memory_manager
        new_blocks = []
        if hasattr(manager, "_pool"):
            allocate = manager._allocate
            manager._allocate = lambda size: new_blocks.append(size) or allocate(size)
        for _ in range(2):
            model.train_on_batch(x, y)
    print(type(manager).__name__, len(new_blocks))
    np.save(sys.argv[1], np.concatenate([w.ravel() for w in model.get_weights()]))
""")


@pytest.mark.skipif(not dispatch.gpu_available(), reason="needs a CUDA GPU")
def test_training_through_the_pool_matches_numba_cudas_allocator(tmp_path):
    import pathlib

    import numpy as np

    import numlstm

    script = tmp_path / "train.py"
    script.write_text(_TRAINING)
    importable = str(pathlib.Path(numlstm.__file__).resolve().parent.parent)  # the checkout, or gpu_session's copy
    results = {}
    for name, manager in (("pool", "numlstm.kernels.gpu_memory"), ("numba", "default")):
        out = tmp_path / f"{name}.npy"
        env = dict(os.environ, NUMBA_CUDA_MEMORY_MANAGER=manager,
                   PYTHONPATH=os.pathsep.join([importable, os.environ.get("PYTHONPATH", "")]))
        printed = subprocess.run([sys.executable, str(script), str(out)], env=env, capture_output=True, text=True,
                                 timeout=300, check=True).stdout.split()
        results[name] = (printed[-2:], np.load(out))
    assert results["pool"][0] == ["CachingMemoryManager", "0"]  # steps 2 and 3 took every block from the pool
    assert results["numba"][0] == ["NumbaCUDAMemoryManager", "0"]
    np.testing.assert_array_equal(results["pool"][1], results["numba"][1])
