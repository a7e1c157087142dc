"""Compilation and launch options of the CPU and GPU kernels, in one place."""

# No 'nnan'/'ninf': a NaN must propagate, never be optimised into a finite value.
# 'reassoc' lets reductions vectorise; 'contract' allows FMA.
FASTMATH = {"contract", "reassoc", "nsz", "arcp"}

# error_model="numpy" drops the division-by-zero checks that block vectorisation.
JIT_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": FASTMATH}

# GPU launches. tile: the square GEMM tile (tile x tile threads per block);
# threads: threads per block of the per-step kernels; rows: batch rows per
# thread of the per-step recurrent products (each thread reads its weight
# column once for that many rows). fastmath (tanh.approx and friends) stays
# off: the accuracy tests set the bar for turning it on.
GPU_OPTIONS = {"tile": 16, "threads": 128, "rows": 4, "fastmath": False}
# Numba's CUDA simulator runs one Python thread per CUDA thread: tiny blocks,
# and 2 rows per thread so that the tests' odd batches leave partial blocks.
GPU_SIMULATOR_OPTIONS = {"tile": 4, "threads": 16, "rows": 2, "fastmath": False}
