"""Compilation options shared by every CPU kernel."""

# No 'nnan'/'ninf': a NaN must propagate, never be optimised into a finite value.
# 'reassoc' lets reductions vectorise; 'contract' allows FMA.
FASTMATH = {"contract", "reassoc", "nsz", "arcp"}

# error_model="numpy" drops the division-by-zero checks that block vectorisation.
JIT_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": FASTMATH}
