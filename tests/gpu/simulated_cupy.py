"""CuPy as far as kernels/gpu_cublas.py uses it, for Numba's CUDA simulator, where cuBLAS cannot run.

``cublas.gemm`` keeps ``cupy.cublas.gemm``'s contract: op(a), op(b) and
``out`` must agree in shape and dtype, ``out`` is written in place, and
beta = 0 never reads it (cuBLAS's rule: an uninitialised ``out`` may hold
NaN). ``asarray`` wraps a simulated device array without a copy.
"""


class _Cublas:
    def __init__(self):
        self.calls = 0

    def gemm(self, transa, transb, a, b, out=None, alpha=1.0, beta=0.0):
        assert a.ndim == b.ndim == 2 and a.dtype == b.dtype == out.dtype
        op_a = a.T if transa == "T" else a
        op_b = b.T if transb == "T" else b
        assert op_a.shape[1] == op_b.shape[0] and out.shape == (op_a.shape[0], op_b.shape[1])
        product = alpha * (op_a @ op_b)
        out[...] = product if beta == 0 else product + beta * out
        self.calls += 1
        return out


class SimulatedCupy:
    def __init__(self):
        self.cublas = _Cublas()

    @staticmethod
    def asarray(array):
        return array._ary  # the simulator's device array is a numpy array underneath
