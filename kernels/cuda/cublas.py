"""GEMMs through cuBLAS, called directly on numba's device arrays, for ``GpuKernelOptions.gemm_library``
"cublas", or "auto" where libcublas loads (never in Numba's CUDA simulator).

libcublas comes from the nvidia-cublas wheel (``pip install "numlstm[cublas]"``),
a CUDA toolkit, or a package that ships it (PyTorch's CUDA wheels do); it is
found as numba-cuda finds its own libraries, by cuda.pathfinder. It is
never required: without it every GEMM runs in the Numba kernel of ``cuda/gemm.py``.

One GEMM is one ctypes call on the arrays' addresses. CuPy, used here
before, wrapped numba's arrays and ran its own Python around the call:
about 0.3 ms of host time per GEMM on an H200, more than cuBLAS's device
time for every GEMM of a DeepBench training step.

Arrays are row-major and cuBLAS is column-major. A row-major (r, c) matrix
whose rows lie ``ld`` elements apart is, read column-major, its (c, r)
transpose with leading dimension ``ld``; so C = op(A) op(B) is computed as
C^T = op(B)^T op(A)^T: cuBLAS gets B before A, each with its own transpose
flag, and m and n swapped. Leading rows of a larger array (``hs`` has T + 1
row blocks; the GEMM reads T) need no view: the same address and leading
dimension.

The calls go to the legacy default stream (cuBLAS's default, stream 0),
where numba's launches go too, so they stay in order with the kernels
around them. float32 GEMMs keep float32 accuracy, as the Numba kernel does
(cuBLAS's default math mode), unless asked for TF32: tensor cores on
operands rounded to 10-bit mantissas, the precision cuDNN's float32 RNNs
run at under torch's defaults. One cuBLAS handle per thread and CUDA
context, as cuBLAS asks, its math mode set when a GEMM needs another.
"""

import ctypes
import functools
import threading

import numpy as np

_OPERATION = (0, 1)  # CUBLAS_OP_N, CUBLAS_OP_T, by transpose flag
_SCALARS = {np.dtype(np.float32): (ctypes.c_float(0), ctypes.c_float(1)),
            np.dtype(np.float64): (ctypes.c_double(0), ctypes.c_double(1))}
_ROUTINES = {np.dtype(np.float32): "cublasSgemm_v2", np.dtype(np.float64): "cublasDgemm_v2"}
_DEFAULT_MATH, _TF32_TENSOR_OP_MATH = 0, 3  # cublasMath_t
_threads = threading.local()


@functools.lru_cache(maxsize=1)
def _library():
    try:
        from cuda import pathfinder

        loaded = pathfinder.load_nvidia_dynamic_lib("cublas")
    except Exception as exc:  # not found, not loadable, or no cuda.pathfinder
        raise ImportError(
            'GpuKernelOptions.gemm_library = "cublas" needs libcublas: pip install "numlstm[cublas]" (the '
            'nvidia-cublas wheel) or install a CUDA toolkit; or set it back to "auto" or "numba"') from exc
    library = ctypes.CDLL(loaded.abs_path)
    pointer, integer = ctypes.c_void_p, ctypes.c_int
    library.cublasCreate_v2.argtypes = [ctypes.POINTER(pointer)]
    library.cublasCreate_v2.restype = integer
    library.cublasSetMathMode.argtypes = [pointer, integer]
    library.cublasSetMathMode.restype = integer
    library.cublasGetStatusString.argtypes = [integer]
    library.cublasGetStatusString.restype = ctypes.c_char_p
    for dtype, name in _ROUTINES.items():
        scalar = ctypes.POINTER(type(_SCALARS[dtype][0]))
        routine = getattr(library, name)
        routine.argtypes = [pointer, integer, integer, integer, integer, integer, scalar, pointer, integer, pointer,
                            integer, scalar, pointer, integer]
        routine.restype = integer
    return library


@functools.lru_cache(maxsize=1)
def usable():
    """Whether libcublas loads, for ``gemm_library = "auto"``; never in Numba's CUDA simulator, which has
    no device memory for cuBLAS to read."""
    import numba

    if numba.config.ENABLE_CUDASIM:
        return False
    try:
        _library()
    except ImportError:
        return False
    return True


def _check(library, status, call):
    if status:
        reason = library.cublasGetStatusString(status)
        raise RuntimeError(f"cuBLAS {call} failed: status {status} ({reason.decode() if reason else 'unknown'})")


class _Handle:
    """A cuBLAS handle, the context it was made in (held, so that its id is not reused) and the math mode
    last set on it."""

    def __init__(self, library, context):
        self.context, self.handle, self.math_mode = context, ctypes.c_void_p(), _DEFAULT_MATH
        _check(library, library.cublasCreate_v2(ctypes.byref(self.handle)), "cublasCreate")


def _handle(library):
    """This thread's :class:`_Handle` for numba's current context, made on first use."""
    from numba import cuda

    context = cuda.current_context()
    handles = getattr(_threads, "handles", None)
    if handles is None:
        handles = _threads.handles = {}
    entry = handles.get(id(context))
    if entry is None:
        entry = handles[id(context)] = _Handle(library, context)
    return entry


def _address(array):
    return array.device_ctypes_pointer.value


def _leading_dimension(array, name):
    """Elements between the starts of consecutive rows of a 2-D array whose rows are contiguous."""
    rows, columns = array.shape if array.ndim == 2 else (0, 0)
    if array.ndim != 2 or (columns > 1 and array.strides[1] != array.dtype.itemsize):
        raise ValueError(f"{name} must be a 2-D array with contiguous rows for cuBLAS, got shape {array.shape} "
                         f"and strides {array.strides}")
    return array.strides[0] // array.dtype.itemsize if rows > 1 else max(columns, 1)


def gemm(a, b, c, m, n, depth, transpose_a, transpose_b, accumulate, tf32=False):
    """``c[:m, :n] = op(a) @ op(b) (+ c[:m, :n] with accumulate)`` on numba device arrays of one dtype
    (float32 or float64), where op(a) is ``a[:depth, :m].T`` with ``transpose_a`` else ``a[:m, :depth]``,
    and op(b) likewise (depth x n); float32 on TF32 tensor cores with ``tf32``."""
    prepared_gemm(a, b, c, m, n, depth, transpose_a, transpose_b, accumulate, tf32)(0, 0)


def prepared_gemm(a, b, c, m, n, depth, transpose_a, transpose_b, accumulate, tf32=False):
    """A callable ``run(a_row, c_row)``: :func:`gemm` with ``a`` read from its row ``a_row`` on and ``c``
    written from its row ``c_row`` on. Everything but the two addresses is resolved here, so a run is one
    foreign call: the GEMM steps run one per time step, on the step's rows of the same arrays."""
    library = _library()
    dtype = c.dtype
    if a.dtype != dtype or b.dtype != dtype or dtype not in _ROUTINES:
        raise TypeError(f"cuBLAS GEMMs take float32 or float64 operands of one dtype, got {a.dtype}, {b.dtype} "
                        f"and {c.dtype}")
    lda, ldb, ldc = _leading_dimension(a, "a"), _leading_dimension(b, "b"), _leading_dimension(c, "c")
    a_rows, b_rows = depth if transpose_a else m, n if transpose_b else depth
    for operand, array, rows in (("a", a, a_rows), ("b", b, b_rows), ("c", c, m)):
        if array.shape[0] < rows:
            raise ValueError(f"{operand} must have at least {rows} rows for this GEMM, got shape {array.shape}")
    name = _ROUTINES[dtype]
    routine, state = getattr(library, name), _handle(library)
    handle = state.handle
    math_mode = _TF32_TENSOR_OP_MATH if tf32 and dtype == np.float32 else _DEFAULT_MATH
    a_address, b_address, c_address = _address(a), _address(b), _address(c)
    a_last, c_last = a.shape[0] - a_rows, c.shape[0] - m
    zero, one = _SCALARS[dtype]
    alpha, beta = ctypes.byref(one), ctypes.byref(one if accumulate else zero)
    op_a, op_b = _OPERATION[transpose_a], _OPERATION[transpose_b]
    itemsize = dtype.itemsize

    def run(a_row, c_row):
        if not (0 <= a_row <= a_last and 0 <= c_row <= c_last):
            raise ValueError(f"rows from {a_row} of a and {c_row} of c reach past them: at most {a_last} and "
                             f"{c_last}")
        if state.math_mode != math_mode:
            _check(library, library.cublasSetMathMode(handle, math_mode), "cublasSetMathMode")
            state.math_mode = math_mode
        _check(library, routine(handle, op_b, op_a, n, m, depth, alpha, b_address, ldb,
                                a_address + a_row * lda * itemsize, lda, beta, c_address + c_row * ldc * itemsize,
                                ldc), name)

    return run
