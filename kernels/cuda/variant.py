"""What one variant of the LSTM's CUDA kernels is compiled with: its dtype and the options that shape its code.

Every kernel family (``gemm.py``, ``layout.py``, ``recurrent_sums.py``,
``step_kernels.py``, ``backward_kernels.py``, ``persistent.py``) is built by
a factory cached on ``(dtype, shape_options)``; the values here become the
factories' closure constants, so that float32 math never promotes to float64
and tile sizes are compile-time constants. Launch options arrive as
arguments, never as module globals, which the CUDA simulator would read live.
"""

import functools
import math
from types import SimpleNamespace

import numba
import numpy as np
from numba import cuda

from ..lstm_cell import gate_rules
from .jit import kernel_decorator

# The fields of GpuKernelOptions that change the kernels' code; the others only change how they are launched.
SHAPE_OPTIONS = ("fastmath", "cache", "gemm_block", "gemm_depth", "gemm_micro", "rows", "split_units", "split_slices",
                 "persistent_units", "persistent_slices", "persistent_blocks_per_sm")


def shape_options(options):
    """The ``(name, value)`` pairs of ``options`` (a GpuKernelOptions) that shape the kernels' code."""
    return tuple((name, getattr(options, name)) for name in SHAPE_OPTIONS)


@functools.lru_cache(maxsize=None)
def dtype_name(dtype):
    """``np.dtype(dtype).name``, looked up once per dtype: numpy computes it in Python at every call, and
    every pass asks several times."""
    return np.dtype(dtype).name


@functools.lru_cache(maxsize=None)
def constants(dtype, shape_options):
    """The closure constants and jit decorators of one variant: ``dtype`` a float dtype's name, ``shape_options``
    from :func:`shape_options`."""
    options = dict(shape_options)
    if options["rows"] > min(options["split_slices"], options["persistent_slices"]):
        raise ValueError(f"rows ({options['rows']}) must not exceed split_slices and persistent_slices: "
                         "one thread per (unit, row) finishes a split step")
    blocks_per_sm = options["persistent_blocks_per_sm"]
    if not isinstance(blocks_per_sm, (int, np.integer)) or isinstance(blocks_per_sm, bool) or blocks_per_sm < 0:
        raise ValueError(f"persistent_blocks_per_sm must be a whole number of blocks, 0 for no bound, got "
                         f"{blocks_per_sm!r}")
    real = np.dtype(dtype).type
    rows = options["rows"]
    gemm_block, gemm_micro = options["gemm_block"], options["gemm_micro"]
    persistent_threads = options["persistent_units"] * options["persistent_slices"]
    # numba-cuda 0.30 cannot cache code linked with cudadevrt ("Cannot pickle CUDACodeLibrary with linking
    # files"), which every grid barrier needs: the cooperative kernels always compile.
    persistent_bounds = (persistent_threads, int(blocks_per_sm)) if blocks_per_sm else None
    # Array sizes must be closure constants, not expressions, for NVVM.
    gate_slots = 4 * rows
    h_batch = 8 if rows == 1 else 4  # values of k whose h a persistent forward step loads together
    return SimpleNamespace(
        one=real(1), zero=real(0), element=numba.from_dtype(np.dtype(dtype)),
        index=numba.uint64,  # for indices that numba need not check for negative values
        rows=rows, gate_slots=gate_slots, h_batch=h_batch, h_slots=h_batch * rows,
        reduction_groups=8,  # at most, in the first round of a split tile's sum over slices (split_tile)
        cache_loads=8,  # loads in flight per thread while a persistent kernel fills its weight cache
        split_units=options["split_units"], split_slices=options["split_slices"],
        persistent_units=options["persistent_units"], persistent_slices=options["persistent_slices"],
        split_partials=(options["split_slices"], options["split_units"], gate_slots),
        persistent_partials=(options["persistent_slices"], options["persistent_units"], gate_slots),
        gemm_block=gemm_block, gemm_depth=options["gemm_depth"], gemm_micro=gemm_micro,
        gemm_side=gemm_block // gemm_micro,  # threads along each side of a block tile
        gemm_threads=(gemm_block // gemm_micro) ** 2,
        gemm_tile_shape=(options["gemm_depth"], gemm_block + 1),  # the extra column spreads transposed stores
        gemm_outputs=gemm_micro * gemm_micro,
        jit=kernel_decorator(("cuda.lstm", dtype, shape_options), options["fastmath"], options["cache"]),
        cooperative_jit=kernel_decorator(("cuda.lstm", dtype, shape_options), options["fastmath"], False,
                                         persistent_bounds))


@functools.lru_cache(maxsize=None)
def cuda_gate_rules(dtype):
    """``lstm_cell.gate_rules`` compiled as CUDA device functions for one float dtype's name: the same gate
    equations as the CPU's, over CUDA's exp and tanh."""
    one = np.dtype(dtype).type(1)

    @cuda.jit(device=True, inline=True)
    def sigmoid(x):
        return one / (one + math.exp(-x))

    @cuda.jit(device=True, inline=True)
    def tanh(x):
        return math.tanh(x)

    return gate_rules(cuda.jit(device=True, inline=True), sigmoid, tanh)
