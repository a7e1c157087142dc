import numpy as np
import pytest

from numlstm import dispatch


@pytest.fixture(autouse=True)
def poisoned_device_arrays(monkeypatch):
    """In the simulator, new device arrays hold NaN (floats) or the largest integer instead of whatever
    numpy's allocator hands back, often zeros or an earlier array's values: a kernel that reads an element
    before any kernel wrote it fails, as it may on a GPU."""
    if not dispatch.simulator_enabled():
        yield
        return
    from numba import cuda

    empty = cuda.device_array

    def poisoned(shape, dtype=np.float64, *args, **kwargs):
        array = empty(shape, dtype, *args, **kwargs)
        kind = np.dtype(dtype).kind
        if kind == "f":
            array._ary[...] = np.nan
        elif kind in "iu":
            array._ary[...] = np.iinfo(np.dtype(dtype)).max
        return array

    monkeypatch.setattr(cuda, "device_array", poisoned)
    yield
