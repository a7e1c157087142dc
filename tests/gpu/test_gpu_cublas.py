"""The GEMMs through cuBLAS (``gemm_library = "cupy"``, kernels/gpu_cublas.py) against numpy.

On a GPU they run through CuPy when it is installed. In Numba's simulator
(no CuPy there: cuBLAS needs a GPU) a stand-in (simulated_cupy.py) keeps
``cupy.cublas.gemm``'s contract, which pins what the call sites hand over:
the slices, the transposes, accumulation.
"""

import importlib.util
import sys

import numpy as np
import pytest

import numlstm
from cases import assert_gradients_match_cpu, assert_matches_reference, random_lstm_args
from numlstm import dispatch, layers
from simulated_cupy import SimulatedCupy
from test_gpu_lstm import _active_gpu_options, force_time_loop

pytestmark = pytest.mark.skipif(not (dispatch.simulator_enabled() or dispatch.gpu_available()),
                                reason="needs a CUDA GPU or NUMBA_ENABLE_CUDASIM=1")


@pytest.fixture
def cublas_gemms(monkeypatch):
    """Every GEMM through cuBLAS; yields a function that counts the cuBLAS calls so far (None on a GPU)."""
    from numlstm.kernels import gpu_cublas

    monkeypatch.setitem(_active_gpu_options(), "gemm_library", "cupy")
    if dispatch.simulator_enabled():
        cupy = SimulatedCupy()
        monkeypatch.setattr(gpu_cublas, "_cupy", lambda: cupy)
        yield lambda: cupy.cublas.calls
    else:
        pytest.importorskip("cupy")
        yield lambda: None


@pytest.fixture(autouse=True)
def on_gpu():
    with numlstm.device("cuda"):
        yield


@pytest.mark.parametrize("transpose_a,transpose_b,accumulate", [
    (False, False, False), (True, False, False), (False, True, True), (True, True, True)])
def test_gemm_through_cublas_reads_the_leading_rows(rng, cublas_gemms, transpose_a, transpose_b, accumulate):
    """The operands hold spare rows past the product's extent, as ``hs`` (T + 1 row blocks) does for the
    recurrent weights' gradient; float32, the dtype cuBLAS is chosen for."""
    from numba import cuda

    from numlstm.kernels import gpu_lstm

    m, n, depth, spare = 5, 7, 6, 3
    a = rng.standard_normal((depth + spare, m) if transpose_a else (m + spare, depth)).astype(np.float32)
    b = rng.standard_normal((n + spare, depth) if transpose_b else (depth + spare, n)).astype(np.float32)
    c = rng.standard_normal((m + spare, n)).astype(np.float32)
    op_a = a[:depth].T if transpose_a else a[:m]
    op_b = b[:n].T if transpose_b else b[:depth]
    expected = c.copy()
    expected[:m] = op_a @ op_b + (c[:m] if accumulate else 0)
    out = cuda.to_device(c)
    options = _active_gpu_options()
    gpu_lstm.launch_gemm(None, options, cuda.to_device(a), cuda.to_device(b), out, m, n, depth, transpose_a,
                         transpose_b, accumulate)
    np.testing.assert_allclose(out.copy_to_host(), expected, rtol=1e-5, atol=1e-5)
    assert cublas_gemms() in (None, 1)


@pytest.mark.parametrize("gemm_steps", [False, True], ids=["per-unit steps", "GEMM steps"])
def test_lstm_through_cublas_matches_numpy_reference(monkeypatch, rng, cublas_gemms, gemm_steps):
    """Every GEMM of the passes (input projection, weight gradients, dx; with GEMM steps the per-step
    recurrent products too) through cuBLAS; the recurrent mask makes the weight gradient read h * mask."""
    if gemm_steps:
        force_time_loop(monkeypatch, gemm_steps_from=0)
    args = random_lstm_args(rng, B=3, T=4, F=2, H=5, peephole=True, mask=True, initial_state=True,
                            recurrent_mask=True)
    assert_matches_reference(rng, args, False, False, grad_rtol=1e-11)
    calls = cublas_gemms()
    assert calls is None or calls == 4 + (2 * 4 if gemm_steps else 0)


def test_a_model_through_cublas_matches_the_cpu(rng, cublas_gemms):
    """A Dense layer's GEMMs (backend.matmul) as well as the LSTM's."""
    model = numlstm.Sequential([layers.Input((4, 3)), layers.LSTM(5, dtype="float64"),
                                layers.Dense(2, dtype="float64")])
    model.compile(optimizer="sgd", loss="mse")
    x, y = rng.standard_normal((6, 4, 3)), rng.standard_normal((6, 2))
    assert_gradients_match_cpu(model, x, y)
    # the LSTM: input projection, two weight gradients (no dx for a first layer); Dense: forward, two gradients
    assert cublas_gemms() in (None, 3 + 3)


def test_cupy_missing_says_how_to_install(monkeypatch):
    from numlstm.kernels import gpu_cublas

    monkeypatch.setitem(sys.modules, "cupy", None)
    gpu_cublas._cupy.cache_clear()
    try:
        with pytest.raises(ImportError, match=r'"cupy" needs CuPy: pip install cupy-cuda13x'):
            gpu_cublas.gemm(None, None, None, 1, 1, 1, False, False, False)
    finally:
        gpu_cublas._cupy.cache_clear()


def test_unknown_gemm_library_is_refused(monkeypatch):
    from numlstm.kernels import gpu_lstm

    options = dict(_active_gpu_options(), gemm_library="cublas")
    with pytest.raises(ValueError, match=r'gemm_library"\] must be "auto", "numba" or "cupy", got \'cublas\''):
        gpu_lstm.launch_gemm(None, options, None, None, None, 1, 1, 1)


@pytest.mark.parametrize("cublas_from", [24, 25])
def test_auto_picks_cublas_for_large_products_where_cupy_is_usable(monkeypatch, rng, cublas_from):
    """"auto": cuBLAS where CuPy imports on a GPU and the product has at least ``cublas_from`` multiply-adds
    (3 x 4 x 2 = 24 here); the Numba kernel otherwise, without CuPy, or in the simulator, whose arrays CuPy
    cannot read."""
    from numba import cuda

    from numlstm.kernels import gpu_cublas, gpu_lstm

    usable = not dispatch.simulator_enabled() and importlib.util.find_spec("cupy") is not None
    assert gpu_cublas.usable() == usable
    through_cublas = []
    monkeypatch.setattr(gpu_cublas, "gemm", lambda *args: through_cublas.append(args))
    options = dict(_active_gpu_options(), gemm_library="auto", cublas_from=cublas_from)
    a, b = rng.standard_normal((3, 2)), rng.standard_normal((2, 4))
    out = cuda.to_device(np.zeros((3, 4)))
    gpu_lstm.launch_gemm(gpu_lstm.kernels_for(np.float64, options), options, cuda.to_device(a), cuda.to_device(b),
                         out, 3, 4, 2)
    expected = usable and cublas_from <= 24
    assert len(through_cublas) == expected
    if not expected:
        np.testing.assert_allclose(out.copy_to_host(), a @ b, rtol=1e-13)
