"""The BLAS matrix product the LSTM's large GEMMs call from compiled code (numlstm.kernels.cpu.blas)."""

import numpy as np
import pytest
from numba import njit

from numlstm.kernels.cpu.blas import gemm


@njit(cache=False)
def _product(a, b, out):
    gemm(a, b, out)


@njit(cache=False)
def _product_of_transposes(a_t, b_t, out):
    """a_t.T @ b_t.T: both operands F-contiguous inside the compiled code, as the weight-gradient GEMMs pass them."""
    gemm(a_t.T, b_t.T, out)


# (m, k, n): a matrix product, its one-row and one-column cases (gemv), a dot, and the empty ones.
SHAPES = [(7, 5, 9), (1, 5, 9), (7, 5, 1), (1, 5, 1), (7, 0, 9), (0, 5, 9), (7, 5, 0)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m, k, n", SHAPES)
def test_gemm_matches_numpy_for_each_layout(dtype, m, k, n):
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    expected = a.astype(np.float64) @ b.astype(np.float64)
    out = np.full((m, n), np.nan, dtype)  # every element must be written, zeros included
    _product(a, b, out)
    np.testing.assert_allclose(out, expected, rtol=rtol, atol=rtol)
    out = np.full((m, n), np.nan, dtype)
    _product_of_transposes(np.ascontiguousarray(a.T), np.ascontiguousarray(b.T), out)
    np.testing.assert_allclose(out, expected, rtol=rtol, atol=rtol)


def test_gemm_writes_only_its_rows_of_a_larger_output():
    """The blocks pass row slices of one array: rows outside the slice keep their values."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((6, 4)), rng.standard_normal((4, 3))
    out = np.full((6, 3), 7.0)

    @njit(cache=False)
    def rows_2_to_5(a, b, out):
        gemm(a[2:5], b, out[2:5])

    rows_2_to_5(a, b, out)
    np.testing.assert_allclose(out[2:5], a[2:5] @ b, rtol=1e-12)
    assert (out[:2] == 7).all() and (out[5:] == 7).all()
