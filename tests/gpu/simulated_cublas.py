"""libcublas as far as kernels/gpu_cublas.py calls it, for Numba's CUDA simulator, where cuBLAS cannot run.

``cublasSgemm_v2``/``cublasDgemm_v2`` compute C = alpha op(A) op(B) + beta C
by BLAS's column-major definition on the memory at the addresses they are
given, reading and writing only the elements that definition names, and
never C's when beta = 0 (cuBLAS's rule: an uninitialised C may hold NaN).
Addresses come from :meth:`SimulatedCublas.address`, which stands in for
``gpu_cublas._address`` and records each array's buffer, so that a call
that would reach past an operand's memory fails an assertion instead of
reading whatever lies there.
"""

import ctypes

import numpy as np

_CTYPES = {np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double}


class SimulatedCublas:
    def __init__(self):
        self.calls = 0
        self._buffers = []  # (first byte, end, dtype) of every array handed out

    def address(self, array):
        host = array._ary  # the simulator's device array is a numpy array underneath
        base = host
        while base.base is not None and isinstance(base.base, np.ndarray):
            base = base.base
        self._buffers.append((base.ctypes.data, base.ctypes.data + base.nbytes, host.dtype, host))
        return host.ctypes.data

    def cublasCreate_v2(self, handle):
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
        product = alpha * (op_a @ op_b)
        c[...] = product if beta == 0 else product + beta * c
        self.calls += 1
        return 0
