"""Compilation options and tuning thresholds shared by every CPU kernel."""

# No 'nnan'/'ninf': a NaN must propagate, never be optimised into a finite value.
# 'reassoc' lets the dot-product reductions vectorise; 'contract' allows FMA.
FASTMATH = {"contract", "reassoc", "nsz", "arcp"}

# error_model="numpy" drops the division-by-zero checks that block vectorisation.
JIT_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": FASTMATH}

# Per-step recurrent products with batch * 4H * H multiply-adds below this use
# numlstm's own row kernel instead of a BLAS call, whose fixed cost dominates
# small products. Set from asv_bench measurements on a 2-core AMD EPYC (Zen 4).
SMALL_RECURRENT_GEMM_MAX_FLOPS = 1 << 18
