"""The BLAS matrix product the LSTM's large GEMMs call from compiled code (numlstm.kernels.cpu.blas)."""

import json
import subprocess
import sys
import textwrap

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


# A fresh process (this one has imported scipy.linalg through other tests): a training step, whose weight
# gradients go through gemm, then what it imported and whether the step's gradients match numpy's.
_FRESH_PROCESS = textwrap.dedent("""
    import json, sys
    import numpy as np
    import numlstm
    from numlstm.kernels.cpu import blas
    {before}
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6, 3))
    kernel, recurrent_kernel = rng.standard_normal((3, 8)), rng.standard_normal((2, 8))
    outputs, _, _, workspace = numlstm.lstm_forward(x, kernel, recurrent_kernel)
    gradients = numlstm.lstm_backward(workspace, np.ones_like(outputs))
    # d_kernel is the sum over steps of x_t^T dz_t: the gradient with respect to kernel of sum(outputs)
    step = 1e-6
    shifted = kernel.copy()
    shifted[1, 5] += step
    numeric = (numlstm.lstm_forward(x, shifted, recurrent_kernel)[0].sum() - outputs.sum()) / step
    print(json.dumps({{"linalg": "scipy.linalg" in sys.modules, "blas": "scipy.linalg.cython_blas" in sys.modules,
                       "analytic": float(gradients.d_kernel[1, 5]), "numeric": float(numeric)}}))
""")


def _run_fresh(before=""):
    completed = subprocess.run([sys.executable, "-c", _FRESH_PROCESS.format(before=before)], capture_output=True,
                               text=True, timeout=600, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_training_loads_scipy_blas_without_importing_scipy_linalg():
    result = _run_fresh()
    assert result["blas"] and not result["linalg"], result
    assert result["analytic"] == pytest.approx(result["numeric"], rel=1e-4), result


def test_scipy_blas_after_scipy_linalg_is_its_attribute():
    result = _run_fresh("import scipy.linalg; blas.load_scipy_blas(); assert scipy.linalg.cython_blas")
    assert result["blas"] and result["linalg"], result


def test_scipy_blas_falls_back_to_the_plain_import():
    # A SciPy laid out otherwise: the lookup of the extension fails, and the ordinary import loads it.
    result = _run_fresh("blas.importlib.util.find_spec = lambda name: None")
    assert result["blas"] and result["linalg"], result
    assert result["analytic"] == pytest.approx(result["numeric"], rel=1e-4), result
