"""Every CUDA kernel compiles to PTX for real GPUs (sm_80, sm_90), float32 and float64, without a GPU.

``numba.cuda.compile_ptx`` runs NVVM (from ``numba-cuda[cu13]``), which
rejects code that the CUDA simulator would run happily (Python objects,
unsupported calls); float32 kernels are also checked for float64 instructions.
Skipped under the simulator; skipped without numba-cuda unless
NUMLSTM_REQUIRE_PTX=1 (set in CI), which turns the skip into a failure.
"""

import importlib.util
import os

import pytest
from numba import types

from numlstm import dispatch

if dispatch.simulator_enabled():
    pytest.skip("compile_ptx is not available in the CUDA simulator", allow_module_level=True)

try:
    # numba's own deprecated CUDA target imports too, but cannot compile without a driver: only numba-cuda
    # (with the NVVM of its cu13 extra) counts.
    if importlib.util.find_spec("numba_cuda") is None:
        raise ImportError("numba-cuda is not installed")
    from numba.cuda import compile_ptx

    from numlstm.kernels import gpu_ops
    from numlstm.kernels.gpu_lstm import build_kernels, kernels_for
    from numlstm.kernels.config import GPU_OPTIONS
except ImportError as exc:
    if os.environ.get("NUMLSTM_REQUIRE_PTX") == "1":
        raise
    pytest.skip(f'{exc}: pip install "numlstm[cuda]"', allow_module_level=True)


def _signatures(real):
    i, flag = types.int64, types.boolean
    a1, a2, a3 = (types.Array(real, ndim, "C") for ndim in (1, 2, 3))
    mask = types.Array(types.boolean, 2, "C")
    return {
        "gemm": (a2, a2, a2, i, i, i, flag, flag, flag),
        "reorder": (a3, a2, flag, flag),
        "forward_step": (i, i, i, i, a2, a2, a2, a2, a1, a1, mask, flag, a2, flag, flag, flag, a3),
        "forward_step_split": (i, i, i, i, a2, a2, a2, a2, a1, a1, mask, flag, a2, flag, flag, flag, a3),
        "backward_cell": (i, i, i, i, a2, a2, a2, a2, a3, flag, mask, flag, a1, flag, flag),
        "backward_recurrent": (i, i, i, i, i, a2, a2, a2, mask, flag, a2, flag),
        "transpose": (a2, a2),
        "peephole_gradients": (a2, a2, i, i, i, flag, a1),
        "column_sums": (a2, i, a1),
        "masked_rows": (a2, a2, i, a2),
        "copy_rows": (a2, i, i, a2, i),
    }


def _ops_signatures(real):
    i, flag, f64 = types.int64, types.boolean, types.float64
    a1, a2, a3 = (types.Array(real, ndim, "C") for ndim in (1, 2, 3))
    ints = types.Array(types.int64, 1, "C")
    bools1, bools2 = types.Array(types.boolean, 1, "C"), types.Array(types.boolean, 2, "C")
    return {
        "fill": (a1, real), "copy_into": (a1, a1, i), "copy_columns": (a2, i, a2, i, i),
        "reverse_time": (a3, a3), "add_bias": (a2, a1), "combine": (a1, a1, i, real, a1),
        "multiply_over_time": (a3, a3, a3), "scale_in_place": (a1, real), "clip_values": (a1, real),
        "activate": (a1, i), "activation_gradient": (a1, a1, i, a1), "softmax_rows": (a2,),
        "softmax_gradient_rows": (a2, a2, a2), "segment_sums": (a1, ints, flag, a1),
        "scale_segments": (a1, ints, a1, real), "elementwise_loss": (a1, a1, i, real, flag, real, a1, a1),
        "crossentropy_rows": (a2, ints, flag, a2, flag, real, a1, a2), "gather_rows": (a2, ints, a2),
        "scatter_add_rows": (ints, a2, a2), "steps_differing": (a3, real, bools2),
        "zero_masked_steps": (a3, bools2, a3), "not_equal": (ints, i, bools1),
        # The optimizer kernels share the CPU's per-element code, float64 scalars included, so that
        # both devices round alike; they are memory-bound, so double-precision arithmetic costs little.
        "sgd_update": (a1, a1, a1, f64, f64, flag), "adam_update": (a1, a1, a1, a1, f64, f64, f64, f64, f64, f64),
        "rmsprop_update": (a1, a1, a1, a1, a1, f64, f64, f64, f64, flag), "adagrad_update": (a1, a1, a1, f64, f64),
    }


_FLOAT64_BY_DESIGN = {"sgd_update", "adam_update", "rmsprop_update", "adagrad_update"}


def test_every_kernel_is_checked():
    ops_kernels = gpu_ops.build_kernels("float32", GPU_OPTIONS["threads"], GPU_OPTIONS["fastmath"])
    assert set(vars(ops_kernels)) == set(_ops_signatures(types.float32))

    kernels = kernels_for("float32", GPU_OPTIONS)
    assert set(vars(kernels)) == set(_signatures(types.float32))


@pytest.mark.parametrize("cc", [(8, 0), (9, 0)], ids=["sm_80", "sm_90"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kernels_compile_to_ptx(dtype, cc):
    real = getattr(types, dtype)
    kernels = kernels_for(dtype, GPU_OPTIONS)
    for name, signature in _signatures(real).items():
        ptx, _ = compile_ptx(getattr(kernels, name).py_func, signature, cc=cc, fastmath=GPU_OPTIONS["fastmath"])
        assert f".target sm_{cc[0]}{cc[1]}" in ptx, name
        if dtype == "float32":
            # float32 kernels must not compute in double precision (a 32x slower path on most GPUs).
            assert ".f64" not in ptx, f"{name} computes in float64"


@pytest.mark.parametrize("cc", [(8, 0), (9, 0)], ids=["sm_80", "sm_90"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_backend_kernels_compile_to_ptx(dtype, cc):
    real = getattr(types, dtype)
    kernels = gpu_ops.build_kernels(dtype, GPU_OPTIONS["threads"], GPU_OPTIONS["fastmath"])
    for name, signature in _ops_signatures(real).items():
        ptx, _ = compile_ptx(getattr(kernels, name).py_func, signature, cc=cc, fastmath=GPU_OPTIONS["fastmath"])
        assert f".target sm_{cc[0]}{cc[1]}" in ptx, name
        if dtype == "float32" and name not in _FLOAT64_BY_DESIGN:
            assert ".f64" not in ptx, f"{name} computes in float64"


@pytest.mark.parametrize("fastmath", [False, True])
def test_gpu_fastmath_switches_to_approximate_tanh(fastmath):
    """config.GPU_OPTIONS["fastmath"] is what decides whether the gate math uses tanh.approx (off by default:
    asv_bench/gpu_session.py measures its error and speed on a GPU)."""
    kernels = build_kernels("float32", GPU_OPTIONS["tile"], GPU_OPTIONS["rows"], fastmath, GPU_OPTIONS["split_units"],
                            GPU_OPTIONS["split_slices"])
    ptx, _ = compile_ptx(kernels.forward_step.py_func, _signatures(types.float32)["forward_step"], cc=(9, 0),
                         fastmath=fastmath)
    assert ("tanh.approx.f32" in ptx) == fastmath
