"""The GEMMs through cuBLAS (``gemm_library = "cublas"``, kernels/cuda/cublas.py) against numpy.

On a GPU they call libcublas where it loads. In Numba's simulator (cuBLAS
needs a GPU) a stand-in (simulated_cublas.py) computes cuBLAS's column-major
GEMM on the memory at the addresses it is handed, which pins the row-major
to column-major mapping: operand order, transposes, leading dimensions of
leading-row slices, accumulation.
"""

import dataclasses

import numpy as np
import pytest

import numlstm
from helpers.cases import assert_gradients_match_cpu, assert_matches_reference, random_lstm_args
from helpers.gpu import active_gpu_options, force_time_loop, set_gpu_options
from numlstm import dispatch, layers
from helpers.simulated_cublas import SimulatedCublas

pytestmark = pytest.mark.gpu


@pytest.fixture
def cublas_gemms(monkeypatch):
    """Every GEMM through cuBLAS; yields a function that counts the cuBLAS calls so far (None on a GPU)."""
    from numlstm.kernels.cuda import cublas as cuda_cublas

    set_gpu_options(monkeypatch, gemm_library="cublas")
    if dispatch.simulator_enabled():
        cublas = SimulatedCublas()
        monkeypatch.setattr(cuda_cublas, "_library", lambda: cublas)
        monkeypatch.setattr(cuda_cublas, "_address", cublas.address)
        yield lambda: cublas.calls
    else:
        if not cuda_cublas.usable():
            pytest.skip("libcublas is not installed: needs the cublas extra: pip install -e '.[cublas]'")
        yield lambda: None


def _cublas_loads():
    from cuda import pathfinder

    try:
        pathfinder.load_nvidia_dynamic_lib("cublas")
    except Exception:
        return False
    return True


@pytest.fixture(autouse=True)
def on_gpu():
    with numlstm.device("cuda"):
        yield


@pytest.mark.parametrize("m,spare", [(5, 3), (1, 0)], ids=["spare rows", "one row"])
@pytest.mark.parametrize("transpose_a,transpose_b,accumulate", [
    (False, False, False), (True, False, False), (False, True, True), (True, True, True)])
def test_gemm_through_cublas_reads_the_leading_rows(rng, cublas_gemms, transpose_a, transpose_b, accumulate, m,
                                                    spare):
    """The operands hold spare rows past the product's extent, as ``hs`` (T + 1 row blocks) does for the
    recurrent weights' gradient, or c is a single row (a GEMM step at batch 1); float32, the dtype cuBLAS
    is chosen for."""
    from numba import cuda

    from numlstm.kernels.cuda import lstm as cuda_lstm

    n, depth = 7, 6
    a = rng.standard_normal((depth + spare, m) if transpose_a else (m + spare, depth)).astype(np.float32)
    b = rng.standard_normal((n + spare, depth) if transpose_b else (depth + spare, n)).astype(np.float32)
    c = rng.standard_normal((m + spare, n)).astype(np.float32)
    op_a = a[:depth].T if transpose_a else a[:m]
    op_b = b[:n].T if transpose_b else b[:depth]
    expected = c.copy()
    expected[:m] = op_a @ op_b + (c[:m] if accumulate else 0)
    out = cuda.to_device(c)
    options = active_gpu_options()
    cuda_lstm.launch_gemm(None, options, cuda.to_device(a), cuda.to_device(b), out, m, n, depth, transpose_a,
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


def test_cublas_missing_says_how_to_install(monkeypatch):
    from cuda import pathfinder

    from numlstm.kernels.cuda import cublas as cuda_cublas

    def not_found(name):
        raise pathfinder.DynamicLibNotFoundError(f"Failure finding {name}")

    monkeypatch.setattr(pathfinder, "load_nvidia_dynamic_lib", not_found)
    cuda_cublas._library.cache_clear()
    try:
        with pytest.raises(ImportError, match=r'"cublas" needs libcublas: pip install "numlstm\[cublas\]"'):
            cuda_cublas.gemm(None, None, None, 1, 1, 1, False, False, False)
    finally:
        cuda_cublas._library.cache_clear()


def test_unknown_gemm_library_is_refused(monkeypatch):
    from numlstm.kernels.cuda import lstm as cuda_lstm

    options = dataclasses.replace(active_gpu_options(), gemm_library="cupy")
    with pytest.raises(ValueError,
                       match=r'GpuKernelOptions.gemm_library must be "auto", "numba" or "cublas", got \'cupy\''):
        cuda_lstm.launch_gemm(None, options, None, None, None, 1, 1, 1)


def test_gemm_through_cublas_reads_column_slices(rng, cublas_gemms):
    """Views whose rows are longer than the columns they use: the leading dimension is the row stride."""
    from numba import cuda

    from numlstm.kernels.cuda import lstm as cuda_lstm

    a, b, c = (rng.standard_normal(shape).astype(np.float32) for shape in ((4, 5), (6, 3), (4, 7)))
    out = cuda.to_device(c)
    cuda_lstm.launch_gemm(None, active_gpu_options(), cuda.to_device(a)[:, 1:4], cuda.to_device(b)[:3],
                         out[:, 2:5], 4, 3, 3)
    expected = c.copy()
    expected[:, 2:5] = a[:, 1:4] @ b[:3]
    np.testing.assert_allclose(out.copy_to_host(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("library", ["cublas", "numba"])
def test_a_step_gemm_runs_on_the_rows_it_is_given(rng, monkeypatch, cublas_gemms, library):
    """The GEMM steps' product (cuda_lstm.step_gemm) at row offsets of ``a`` and ``c``, as each time step
    reads h of its own step and adds into its own rows of ``gates``: only those rows change. Through cuBLAS
    the offsets move the addresses (the stand-in asserts that no read leaves an operand), and offsets that
    would reach past an operand are refused."""
    from numba import cuda

    from numlstm.kernels.cuda import lstm as cuda_lstm

    set_gpu_options(monkeypatch, gemm_library=library)
    options = active_gpu_options()
    B, n, depth, steps = 2, 5, 3, 3
    a = rng.standard_normal(((steps + 1) * B, depth)).astype(np.float32)
    b = rng.standard_normal((depth, n)).astype(np.float32)
    c = rng.standard_normal((steps * B, n)).astype(np.float32)
    out = cuda.to_device(c)
    run = cuda_lstm.step_gemm(cuda_lstm.kernels_for(np.float32, options), options, cuda.to_device(a),
                             cuda.to_device(b), out, B, n, depth, accumulate=True)
    run(3 * B, B)  # a's last rows into c's middle rows
    expected = c.copy()
    expected[B:2 * B] += a[3 * B:] @ b
    np.testing.assert_allclose(out.copy_to_host(), expected, rtol=1e-5, atol=1e-5)
    if library == "cublas":
        assert cublas_gemms() in (None, 1)
        for a_row, c_row in ((3 * B + 1, 0), (0, (steps - 1) * B + 1), (-1, 0)):
            with pytest.raises(ValueError, match="reach past them"):
                run(a_row, c_row)


def test_an_operand_without_contiguous_rows_is_refused(cublas_gemms):
    from numba import cuda

    from numlstm.kernels.cuda import lstm as cuda_lstm

    columns_apart = cuda.to_device(np.asfortranarray(np.ones((3, 2), np.float32)))
    b, c = cuda.to_device(np.ones((2, 2), np.float32)), cuda.to_device(np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match=r"a must be a 2-D array with contiguous rows for cuBLAS, got shape \(3, 2\)"):
        cuda_lstm.launch_gemm(None, active_gpu_options(), columns_apart, b, c, 3, 2, 2)


def test_operands_of_two_dtypes_are_refused(cublas_gemms):
    from numba import cuda

    from numlstm.kernels.cuda import lstm as cuda_lstm

    a, b = cuda.to_device(np.ones((2, 2), np.float32)), cuda.to_device(np.ones((2, 2)))
    with pytest.raises(TypeError, match="cuBLAS GEMMs take float32 or float64 operands of one dtype"):
        cuda_lstm.launch_gemm(None, active_gpu_options(), a, b, cuda.to_device(np.ones((2, 2))), 2, 2, 2)


@pytest.mark.parametrize("cublas_from", [24, 25])
def test_auto_picks_cublas_for_large_products_where_it_loads(monkeypatch, rng, cublas_from):
    """"auto": cuBLAS where libcublas loads on a GPU and the product has at least ``cublas_from`` multiply-adds
    (3 x 4 x 2 = 24 here); the Numba kernel otherwise, without libcublas, or in the simulator."""
    from numba import cuda

    from numlstm.kernels.cuda import cublas as cuda_cublas
    from numlstm.kernels.cuda import lstm as cuda_lstm

    usable = not dispatch.simulator_enabled() and _cublas_loads()
    assert cuda_cublas.usable() == usable
    through_cublas = []
    monkeypatch.setattr(cuda_cublas, "gemm", lambda *args: through_cublas.append(args))
    options = dataclasses.replace(active_gpu_options(), gemm_library="auto", cublas_from=cublas_from)
    a, b = rng.standard_normal((3, 2)), rng.standard_normal((2, 4))
    out = cuda.to_device(np.zeros((3, 4)))
    cuda_lstm.launch_gemm(cuda_lstm.kernels_for(np.float64, options), options, cuda.to_device(a), cuda.to_device(b),
                         out, 3, 4, 2)
    expected = usable and cublas_from <= 24
    assert len(through_cublas) == expected
    if not expected:
        np.testing.assert_allclose(out.copy_to_host(), a @ b, rtol=1e-13)


def test_tf32_rounds_float32_operands_to_10_bit_mantissas_and_leaves_float64_alone(rng, monkeypatch, cublas_gemms):
    """``tf32``: float32 GEMMs as TF32 tensor cores compute them, the operands rounded to 10 mantissa bits
    (the simulated cuBLAS rounds as tensor cores do; on a GPU the result lies within TF32's rounding of
    the exact product); float64 GEMMs, and float32 ones once it is off again, in full precision: the
    handle's math mode follows each GEMM's."""
    from numba import cuda

    from numlstm.kernels.cuda import lstm as cuda_lstm
    from helpers.simulated_cublas import tf32

    options = active_gpu_options()
    a, b = rng.standard_normal((6, 40)), rng.standard_normal((40, 5))
    context = cuda.current_context()
    monkeypatch.setattr(cuda, "current_context", lambda: context)  # one handle throughout, as on a GPU

    def product(dtype):
        out = cuda.device_array((6, 5), dtype)
        cuda_lstm.launch_gemm(None, options, cuda.to_device(a.astype(dtype)), cuda.to_device(b.astype(dtype)), out,
                             6, 5, 40)
        return out.copy_to_host()

    exact = a.astype(np.float32).astype(np.float64) @ b.astype(np.float32).astype(np.float64)
    rounded = tf32(a).astype(np.float64) @ tf32(b).astype(np.float64)
    options = dataclasses.replace(options, tf32=True)
    fast = product(np.float32)
    np.testing.assert_allclose(fast, exact, rtol=0, atol=40 * 2**-10 * np.abs(a).max() * np.abs(b).max())
    if dispatch.simulator_enabled():
        np.testing.assert_allclose(fast, rounded, rtol=1e-5, atol=1e-5)
        assert np.abs(fast - exact).max() > 1e-4  # far beyond float32 rounding: the operands were rounded
    np.testing.assert_allclose(product(np.float64), a @ b, rtol=1e-13)
    options = dataclasses.replace(options, tf32=False)
    np.testing.assert_allclose(product(np.float32), exact, rtol=1e-5, atol=1e-5)
