"""The packed recurrent-product kernel against numpy, edge shapes included."""

import numpy as np
import pytest
from numba import njit

from numlstm.kernels.cpu.packed_gemm import VECTOR_BYTES, pack_panels, packed_matmul, panels_shape


@njit
def _matmul(a, first_row, end_row, first_column, panels, out):
    packed_matmul(a, first_row, end_row, first_column, panels, out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("M,K,N", [(1, 1, 1), (1, 32, 128), (2, 3, 5), (3, 7, 33), (5, 16, 64), (7, 9, 100),
                                   (8, 64, 256), (9, 20, 47)])
def test_matches_numpy(dtype, M, K, N):
    rng = np.random.default_rng(M * 1000 + K * 10 + N)
    a = rng.standard_normal((M, K)).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)
    panels = np.full(panels_shape(K, N, dtype), np.nan, dtype)
    pack_panels(b, False, panels, 0)
    width = panels.shape[2]
    assert width * np.dtype(dtype).itemsize == 2 * VECTOR_BYTES and panels.shape[0] * width >= N > (panels.shape[0] - 1) * width
    out = np.full((M, panels.shape[0] * width), np.nan, dtype)
    _matmul(a, 0, M, 0, panels, out)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(out[:, :N], expected, rtol=tol, atol=tol * np.sqrt(K))
    np.testing.assert_array_equal(out[:, N:], 0, err_msg="padding columns hold zeros")


def test_writes_only_the_requested_rows():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((9, 6))
    b = rng.standard_normal((6, 10))
    panels = np.empty(panels_shape(6, 10, b.dtype))
    pack_panels(np.ascontiguousarray(b.T), True, panels, 0)
    out = np.full((9, panels.shape[0] * panels.shape[2]), np.nan)
    _matmul(a, 2, 7, 0, panels, out)
    assert np.isnan(out[:2]).all() and np.isnan(out[7:]).all()
    np.testing.assert_allclose(out[2:7, :10], a[2:7] @ b, rtol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("F,H", [(1, 4), (3, 5), (8, 16), (9, 33)])
def test_stacked_panels_multiply_a_row_of_both_operands(dtype, F, H):
    """[x, h] @ [W; R] from W and R packed one under the other; and h @ R alone through first_column."""
    rng = np.random.default_rng(F * 100 + H)
    x, h = rng.standard_normal((7, F)).astype(dtype), rng.standard_normal((7, H)).astype(dtype)
    W, R = rng.standard_normal((F, 4 * H)).astype(dtype), rng.standard_normal((H, 4 * H)).astype(dtype)
    xh = np.concatenate([x, h], axis=1)
    tol = 1e-5 if dtype == np.float32 else 1e-13

    stacked = np.full(panels_shape(F + H, 4 * H, dtype), np.nan, dtype)
    pack_panels(W, False, stacked, 0)
    pack_panels(R, False, stacked, F)
    out = np.full((7, stacked.shape[0] * stacked.shape[2]), np.nan, dtype)
    _matmul(xh, 0, 7, 0, stacked, out)
    expected = x.astype(np.float64) @ W + h.astype(np.float64) @ R
    np.testing.assert_allclose(out[:, :4 * H], expected, rtol=tol, atol=tol * np.sqrt(F + H))

    recurrent = np.full(panels_shape(H, 4 * H, dtype), np.nan, dtype)
    pack_panels(R, False, recurrent, 0)
    _matmul(xh, 0, 7, F, recurrent, out)
    np.testing.assert_allclose(out[:, :4 * H], h.astype(np.float64) @ R, rtol=tol, atol=tol * np.sqrt(H))
