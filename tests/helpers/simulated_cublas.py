"""libcublas as far as kernels/cuda/cublas.py calls it, for Numba's CUDA simulator, where cuBLAS cannot run.

``cublasSgemm_v2``/``cublasDgemm_v2`` compute C = alpha op(A) op(B) + beta C
by BLAS's column-major definition on the memory at the addresses they are
given, reading and writing only the elements that definition names, and
never C's when beta = 0 (cuBLAS's rule: an uninitialised C may hold NaN).
Addresses come from :meth:`SimulatedCublas.address`, which stands in for
``cuda_cublas._address`` and records each array's buffer, so that a call
that would reach past an operand's memory fails an assertion instead of
reading whatever lies there. ``cublasSetMathMode`` with TF32 (3) makes float32
GEMMs on that handle round their operands to TF32's 10-bit mantissas, as
tensor cores do, before a float32 product; ``math_modes`` records the modes
set.
"""

import ctypes

import numpy as np

_CTYPES = {np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double}


class SimulatedCublas:
    def __init__(self):
        self.calls = 0
        self.math_modes = []
        self._handle_modes = []  # math mode by handle, as cuBLAS keeps it
        self._buffers = []  # (first byte, end, dtype) of every array handed out

    def address(self, array):
        host = array._ary  # the simulator's device array is a numpy array underneath
        base = host
        while base.base is not None and isinstance(base.base, np.ndarray):
            base = base.base
        self._buffers.append((base.ctypes.data, base.ctypes.data + base.nbytes, host.dtype, host))
        return host.ctypes.data

    def cublasCreate_v2(self, handle):
        self._handle_modes.append(0)
        handle._obj.value = len(self._handle_modes)  # byref'd c_void_p
        return 0

    def cublasSetMathMode(self, handle, mode):
        self.math_modes.append(mode)
        self._handle_modes[handle.value - 1] = mode
        return 0

    def cublasGetStatusString(self, status):
        return b"simulated"

    def cublasSgemm_v2(self, *args):
        return self._gemm(np.dtype(np.float32), *args)

    def cublasDgemm_v2(self, *args):
        return self._gemm(np.dtype(np.float64), *args)

    def _matrix(self, dtype, address, rows, columns, leading):
        """The column-major (rows, columns) matrix at ``address``, columns ``leading`` elements apart."""
        assert leading >= max(1, rows), (leading, rows)
        size = leading * (columns - 1) + rows
        buffers = [b for b in self._buffers if b[0] <= address < b[1]]
        assert buffers, f"address {address:#x} is in no array"
        start, end, buffer_dtype, _ = buffers[-1]
        assert buffer_dtype == dtype, (buffer_dtype, dtype)
        assert address + size * dtype.itemsize <= end, "the call reaches past the operand's memory"
        flat = np.ctypeslib.as_array((_CTYPES[dtype] * size).from_address(address))
        return np.lib.stride_tricks.as_strided(flat, (rows, columns), (dtype.itemsize, leading * dtype.itemsize))

    def _gemm(self, dtype, handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc):
        alpha, beta = alpha._obj.value, beta._obj.value  # byref'd host scalars (CUBLAS_POINTER_MODE_HOST)
        op_a = self._matrix(dtype, A, k, m, lda).T if transa == 1 else self._matrix(dtype, A, m, k, lda)
        op_b = self._matrix(dtype, B, n, k, ldb).T if transb == 1 else self._matrix(dtype, B, k, n, ldb)
        c = self._matrix(dtype, C, m, n, ldc)
        if self._handle_modes[handle.value - 1] == 3 and dtype == np.float32:
            op_a, op_b = tf32(op_a), tf32(op_b)
        product = alpha * (op_a @ op_b)
        c[...] = product if beta == 0 else product + beta * c
        self.calls += 1
        return 0


def tf32(values):
    """float32 values rounded to TF32 (10 explicit mantissa bits, to nearest, ties to even), as float32."""
    bits = np.ascontiguousarray(values, np.float32).view(np.uint32)
    rounded = (bits + np.uint32(0xFFF) + ((bits >> np.uint32(13)) & np.uint32(1))) & np.uint32(0xFFFFE000)
    return rounded.view(np.float32)
