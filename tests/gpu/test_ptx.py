"""Every CUDA kernel compiles to PTX for real GPUs (sm_80, sm_90), float32 and float64, without a GPU.

``numba.cuda.compile_ptx`` runs NVVM (from ``numba-cuda[cu13]``), which
rejects code that the CUDA simulator would run happily (Python objects,
unsupported calls); float32 kernels are also checked for float64 instructions.
Skipped under the simulator; skipped without numba-cuda unless
NUMLSTM_REQUIRE_PTX=1 (set in CI), which turns the skip into a failure.
"""

import dataclasses
import importlib.util
import os
import re

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
    from helpers.ptx import compile_for, kernel_signatures, link, resources
    from numlstm.kernels.cuda import ops as cuda_ops
    from numlstm.kernels.cuda.lstm import kernels_for
    from numlstm.kernels.options import DEVICE_PRESET
except ImportError as exc:
    if os.environ.get("NUMLSTM_REQUIRE_PTX") == "1":
        raise
    pytest.skip(f'{exc}: pip install "numlstm[cuda]"', allow_module_level=True)

DEVICE_OPTIONS = DEVICE_PRESET.kernels

pytestmark = pytest.mark.slow  # NVVM compiles every kernel again and again: minutes on two cores


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
        "sum_row_groups": (ints, i, i, a2, a2), "steps_differing": (a3, real, bools2),
        "zero_masked_steps": (a3, bools2, a3), "not_equal": (ints, i, bools1),
        # The optimizer kernels share the CPU's per-element code, float64 scalars included, so that
        # both devices round alike; they are memory-bound, so double-precision arithmetic costs little.
        "sgd_update": (a1, a1, a1, f64, f64, flag), "adam_update": (a1, a1, a1, a1, f64, f64, f64, f64, f64, f64),
        "rmsprop_update": (a1, a1, a1, a1, a1, f64, f64, f64, f64, flag), "adagrad_update": (a1, a1, a1, f64, f64),
    }


_FLOAT64_BY_DESIGN = {"sgd_update", "adam_update", "rmsprop_update", "adagrad_update"}

# Double-precision arithmetic (a 32x slower path on most GPUs). Not every ``.f64``: numba's array
# reshape compares sizes through a float64 conversion, once per launch.
_FLOAT64_ARITHMETIC = re.compile(r"\b(add|sub|mul|fma|div|rcp|sqrt|ex2|lg2|tanh|max|min|neg|abs)(\.[a-z]+)*\.f64\b")


def test_every_kernel_is_checked():
    ops_kernels = cuda_ops.build_kernels("float32", DEVICE_OPTIONS.threads, DEVICE_OPTIONS.fastmath, False)
    assert set(vars(ops_kernels)) == set(_ops_signatures(types.float32))

    kernels = kernels_for("float32", DEVICE_OPTIONS)
    assert set(vars(kernels)) == set(kernel_signatures(types.float32))


@pytest.mark.parametrize("cc", [(8, 0), (9, 0)], ids=["sm_80", "sm_90"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kernels_compile_to_ptx(dtype, cc):
    real = getattr(types, dtype)
    kernels = kernels_for(dtype, DEVICE_OPTIONS)
    for name, signature in kernel_signatures(real).items():
        ptx = compile_for(getattr(kernels, name).py_func, signature, cc, DEVICE_OPTIONS.fastmath)
        if dtype == "float32":
            assert not _FLOAT64_ARITHMETIC.search(ptx), f"{name} computes in float64"
        if name in ("forward_persistent", "backward_persistent"):
            assert "cudaCGSynchronize" in ptx  # the grid barrier: a cooperative launch


def test_kernels_of_one_row_per_thread_compile_to_ptx():
    """A batch of one runs kernels built with ``rows`` = 1 (cuda_lstm.rows_for_batch)."""
    kernels = kernels_for("float32", dataclasses.replace(DEVICE_OPTIONS, rows=1))
    for name, signature in kernel_signatures(types.float32).items():
        ptx = compile_for(getattr(kernels, name).py_func, signature, (9, 0), DEVICE_OPTIONS.fastmath)
        assert not _FLOAT64_ARITHMETIC.search(ptx), f"{name} computes in float64"


@pytest.mark.parametrize("cc", [(8, 0), (9, 0)], ids=["sm_80", "sm_90"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_backend_kernels_compile_to_ptx(dtype, cc):
    real = getattr(types, dtype)
    kernels = cuda_ops.build_kernels(dtype, DEVICE_OPTIONS.threads, DEVICE_OPTIONS.fastmath, False)
    for name, signature in _ops_signatures(real).items():
        ptx = compile_for(getattr(kernels, name).py_func, signature, cc, DEVICE_OPTIONS.fastmath)
        if dtype == "float32" and name not in _FLOAT64_BY_DESIGN:
            assert not _FLOAT64_ARITHMETIC.search(ptx), f"{name} computes in float64"


def test_persistent_kernels_take_their_launch_bound_from_the_options():
    """persistent_blocks_per_sm compiles both persistent kernels (and only they) to fit that many blocks of
    their shape per SM: NVVM writes the bound into the PTX, where ptxas sizes the registers by it."""
    options = dataclasses.replace(DEVICE_OPTIONS, persistent_blocks_per_sm=4)
    threads = options.persistent_units * options.persistent_slices
    bounded = kernels_for("float32", options)
    unbounded = kernels_for("float32", dataclasses.replace(DEVICE_OPTIONS, persistent_blocks_per_sm=0))
    signatures = kernel_signatures(types.float32)
    for name in ("forward_persistent", "backward_persistent"):
        kernel = getattr(bounded, name)
        assert kernel.targetoptions["launch_bounds"] == (threads, 4)
        assert getattr(unbounded, name).targetoptions.get("launch_bounds") is None
        ptx = compile_for(kernel.py_func, signatures[name], (9, 0), options.fastmath,
                       kernel.targetoptions["launch_bounds"])
        assert f".maxntid {threads}" in ptx and ".minnctapersm 4" in ptx
    assert bounded.forward_step_split.targetoptions.get("launch_bounds") is None


def test_the_persistent_kernels_fit_their_blocks_per_sm_by_registers():
    """Linked for sm_90 by nvJitLink, as the driver links them, the persistent kernels use at most the
    registers that let ``persistent_blocks_per_sm`` blocks share an SM's 65536 (as asv_bench/tools/kernel_resources.py
    reports them)."""
    threads = DEVICE_OPTIONS.persistent_units * DEVICE_OPTIONS.persistent_slices
    blocks = DEVICE_OPTIONS.persistent_blocks_per_sm
    assert blocks > 0
    kernels = kernels_for("float32", DEVICE_OPTIONS)
    for name in ("forward_persistent", "backward_persistent"):
        kernel = getattr(kernels, name)
        ptx = compile_for(kernel.py_func, kernel_signatures(types.float32)[name], (9, 0), DEVICE_OPTIONS.fastmath,
                       kernel.targetoptions["launch_bounds"])
        registers = resources(link(ptx, "90")[1], re.search(r"\.visible \.entry (\S+)\(", ptx).group(1))[0]
        assert registers * threads * blocks <= 65536, (name, registers)


@pytest.mark.parametrize("fastmath", [False, True])
def test_gpu_fastmath_switches_to_approximate_tanh(fastmath):
    """config.DEVICE_OPTIONS.fastmath is what decides whether the gate math uses tanh.approx (off by default:
    asv_bench/tools/gpu_session.py measures its error and speed on a GPU)."""
    kernels = kernels_for("float32", dataclasses.replace(DEVICE_OPTIONS, fastmath=fastmath))
    ptx = compile_for(kernels.forward_step.py_func, kernel_signatures(types.float32)["forward_step"], (9, 0), fastmath)
    assert ("tanh.approx.f32" in ptx) == fastmath


def test_cached_kernel_variants_keep_caches_of_their_own():
    """With config.DEVICE_OPTIONS.cache, each variant's kernels cache under names of their own: numba-cuda's
    cache key leaves out jit options, and a fastmath variant has the same code and closure as the other."""
    plain = kernels_for("float32", dataclasses.replace(DEVICE_OPTIONS, cache=True, fastmath=False))
    fast = kernels_for("float32", dataclasses.replace(DEVICE_OPTIONS, cache=True, fastmath=True))
    wide = kernels_for("float64", dataclasses.replace(DEVICE_OPTIONS, cache=True, fastmath=False))
    ops = [cuda_ops.build_kernels("float32", DEVICE_OPTIONS.threads, fastmath, True) for fastmath in (False, True)]
    for variants in ([plain, fast, wide], ops):
        for name in vars(variants[0]):
            if name in ("forward_persistent", "backward_persistent"):  # numba-cuda cannot cache them
                assert all(type(getattr(kernels, name)._cache).__name__ == "NullCache" for kernels in variants)
                continue
            names = {getattr(kernels, name)._cache._impl.filename_base for kernels in variants}
            assert len(names) == len(variants), name
            assert all(name in filename for filename in names)
    uncached = kernels_for("float32", dataclasses.replace(DEVICE_OPTIONS, cache=False))
    assert type(uncached.forward_step._cache).__name__ == "NullCache"


def _layers_signatures(real):
    i, flag = types.int64, types.boolean
    a1, a2, a3 = (types.Array(real, ndim, "C") for ndim in (1, 2, 3))
    bools1, bools2 = types.Array(types.boolean, 1, "C"), types.Array(types.boolean, 2, "C")
    return {
        "logical_or": (bools1, bools1, bools1), "where_mask": (a1, bools1, i, real, a1),
        "sum_steps": (a3, bools2, flag, flag, a2), "step_counts": (bools2, a1),
        "spread_steps": (a2, bools2, flag, a1, flag, real, a3),
        "layer_norm_rows": (a2, a1, flag, a1, flag, real, a2, a2, a1),
        "layer_norm_gradient_rows": (a2, a2, a1, a1, flag, a2),
        "sequence_windows": (a3, i, i, i, i, a2), "sequence_windows_gradient": (a2, i, i, i, i, a3),
    }


@pytest.mark.parametrize("cc", [(8, 0), (9, 0)], ids=["sm_80", "sm_90"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layer_kernels_compile_to_ptx(dtype, cc):
    from numlstm.kernels.cuda import layers as cuda_layers

    kernels = cuda_layers.build_kernels(dtype, DEVICE_OPTIONS.threads, DEVICE_OPTIONS.fastmath, False)
    signatures = _layers_signatures(getattr(types, dtype))
    assert set(vars(kernels)) == set(signatures)
    for name, signature in signatures.items():
        ptx = compile_for(getattr(kernels, name).py_func, signature, cc, DEVICE_OPTIONS.fastmath)
        if dtype == "float32":
            assert not _FLOAT64_ARITHMETIC.search(ptx), f"{name} computes in float64"


def _convlstm_signatures(real):
    i, flag = types.int64, types.boolean
    a1, a2, a4 = (types.Array(real, ndim, "C") for ndim in (1, 2, 4))
    table, mask = types.Array(types.int32, 2, "C"), types.Array(types.boolean, 2, "C")
    return {
        "gather_patches": (i, i, a2, i, table, a2, flag, i, i, flag, flag, a2),
        "sum_patch_gradients": (i, i, i, a2, table, i, i, i, flag, flag, mask, flag, a2, flag, a2),
        "gate_forward": (i, i, i, i, a2, a2, a2, a1, a2, flag, mask, flag, flag, flag, a4),
        "gate_backward": (i, i, i, i, a2, a2, a2, a2, a4, flag, a2, flag, mask, flag, flag, flag),
        "peephole_gradients": (a2, a2, i, i, i, flag, a2),
        "fill": (a1, real),
    }


@pytest.mark.parametrize("cc", [(8, 0), (9, 0)], ids=["sm_80", "sm_90"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_convlstm_kernels_compile_to_ptx(dtype, cc):
    """The ConvLSTM's own kernels (its GEMM and layout kernels are the LSTM's, checked above)."""
    from numlstm.kernels.cuda.convlstm_kernels import build_convlstm_kernels
    from numlstm.kernels.cuda.variant import shape_options

    kernels = build_convlstm_kernels(dtype, shape_options(DEVICE_OPTIONS))
    signatures = _convlstm_signatures(getattr(types, dtype))
    assert set(vars(kernels)) == set(signatures)
    for name, signature in signatures.items():
        ptx = compile_for(getattr(kernels, name).py_func, signature, cc, DEVICE_OPTIONS.fastmath)
        if dtype == "float32":
            assert not _FLOAT64_ARITHMETIC.search(ptx), f"{name} computes in float64"


def _ctc_signatures(real):
    i = types.int64
    ints1, ints2 = types.Array(types.int64, 1, "C"), types.Array(types.int64, 2, "C")
    f1, f3 = types.Array(types.float64, 1, "C"), types.Array(types.float64, 3, "C")
    logits = types.Array(real, 3, "C")
    return {
        "forward_backward": (logits, ints2, ints1, ints1, i, f3, f3, f3, f1),
        "gradient": (f3, f3, f3, f1, ints2, ints1, ints1, i, f1, logits, f1),
    }


@pytest.mark.parametrize("cc", [(8, 0), (9, 0)], ids=["sm_80", "sm_90"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ctc_kernels_compile_to_ptx(dtype, cc):
    """The CTC kernels compute in float64 whatever the logits' dtype (as their CPU twin), never with fastmath
    (their log-space recursions compare with -inf); the gradient is stored in the logits' dtype."""
    from numlstm.kernels.cuda import ctc

    kernels = ctc.build_kernels(dtype, False)
    signatures = _ctc_signatures(getattr(types, dtype))
    assert set(vars(kernels)) == set(signatures)
    for name, signature in signatures.items():
        kernel = getattr(kernels, name)
        assert not kernel.targetoptions.get("fastmath")
        ptx = compile_for(kernel.py_func, signature, cc, False)
        if name == "gradient":
            assert re.search(rf"\bst\.global\.f{dtype[-2:]}\b", ptx), "the gradient is not stored in the logits' dtype"
