"""GEMMs through cuBLAS, by way of CuPy, for ``config.GPU_OPTIONS["gemm_library"]`` "cupy", or "auto" where
CuPy imports and a GEMM is large enough to pay for CuPy's Python (``cublas_from``).

CuPy is never required: without it every GEMM runs in the Numba kernel of
``gpu_lstm``. CuPy wraps numba's device arrays without a copy (through
``__cuda_array_interface__``; numba's arrays on the default stream name no
stream there, so CuPy does not synchronise on import), and its cuBLAS calls
run on the same legacy default stream as numba's launches, so they stay in
order with the kernels around them. TF32 stays off unless CuPy is told
otherwise (``CUPY_TF32``): float32 GEMMs keep float32 accuracy, as the
Numba kernel does.
"""

import functools


@functools.lru_cache(maxsize=1)
def _cupy():
    try:
        import cupy
        import cupy.cublas
    except ImportError as exc:
        raise ImportError(
            'config.GPU_OPTIONS["gemm_library"] = "cupy" needs CuPy: pip install cupy-cuda13x (or cupy-cuda12x, '
            'matching your CUDA driver), or set it back to "numba"') from exc
    return cupy


@functools.lru_cache(maxsize=1)
def usable():
    """Whether CuPy imports, for ``gemm_library = "auto"``; never in Numba's CUDA simulator, whose arrays
    CuPy cannot read."""
    import numba

    if numba.config.ENABLE_CUDASIM:
        return False
    try:
        _cupy()
    except ImportError:
        return False
    return True


def gemm(a, b, c, m, n, depth, transpose_a, transpose_b, accumulate):
    """``c[:m, :n] = op(a) @ op(b) (+ c[:m, :n] with accumulate)`` on numba device arrays, where op(a) is
    ``a[:depth, :m].T`` with ``transpose_a`` else ``a[:m, :depth]``, and op(b) likewise (n x depth)."""
    cupy = _cupy()
    a = cupy.asarray(_leading(a, (depth, m) if transpose_a else (m, depth)))
    b = cupy.asarray(_leading(b, (n, depth) if transpose_b else (depth, n)))
    out = cupy.asarray(_leading(c, (m, n)))
    cupy.cublas.gemm("T" if transpose_a else "N", "T" if transpose_b else "N", a, b, out=out,
                     beta=1.0 if accumulate else 0.0)


def _leading(array, shape):
    """``array[:rows, :columns]``, without the view where that is all of it: a numba view costs tens of
    microseconds of Python."""
    return array if array.shape == shape else array[:shape[0], :shape[1]]
