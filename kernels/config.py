"""Compilation options and tuning thresholds shared by every CPU kernel."""

# No 'nnan'/'ninf': a NaN must propagate, never be optimised into a finite value.
# 'reassoc' lets the dot-product reductions vectorise; 'contract' allows FMA.
FASTMATH = {"contract", "reassoc", "nsz", "arcp"}

# error_model="numpy" drops the division-by-zero checks that block vectorisation.
JIT_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": FASTMATH}

# The time loop runs batch blocks on Numba's threads (with BLAS kept
# single-threaded) when a step's recurrent product has at most this many
# multiply-adds (batch * units * 4 * units); above it, one thread stepping
# through time with multi-threaded BLAS was faster. Measured on a 2-core
# AMD EPYC (Zen 4), train step: 1.2x faster at (B=16, H=64) and (B=32,
# H=128), 1.05x slower at (B=64, H=256), 1.25x slower at (B=64, H=512).
PARALLEL_MAX_STEP_MULTIPLY_ADDS = 1 << 22
