"""Compilation and launch options of the CPU and GPU kernels, in one place."""

# No 'nnan'/'ninf': a NaN must propagate, never be optimised into a finite value.
# 'reassoc' lets reductions vectorise; 'contract' allows FMA.
FASTMATH = {"contract", "reassoc", "nsz", "arcp"}

# error_model="numpy" drops the division-by-zero checks that block vectorisation.
JIT_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": FASTMATH}

# GPU launches. tile: the square GEMM tile (tile x tile threads per block);
# threads: threads per block of the per-step kernels. fastmath (tanh.approx
# and friends) stays off: the accuracy tests set the bar for turning it on.
GPU_OPTIONS = {"tile": 16, "threads": 128, "fastmath": False}
# Numba's CUDA simulator runs one Python thread per CUDA thread: tiny blocks.
GPU_SIMULATOR_OPTIONS = {"tile": 4, "threads": 16, "fastmath": False}
