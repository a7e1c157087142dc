"""The on-disk cache of the GPU kernels (``GpuKernelOptions.cache``): a second process loads what the
first compiled, and computes the same bits (the cooperative kernels, which numba-cuda cannot cache, apart). Needs a real GPU (the simulator compiles nothing); that the
variants cache apart is checked without one in test_ptx.py."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.real_gpu

_RUN = """
import json
import numpy as np
import numlstm
from numlstm.kernels import options
from numlstm.kernels.cuda import lstm
options.DEVICE_PRESET = options.DEVICE_PRESET.replace(cache=True, gemm_library="numba")
rng = np.random.default_rng(0)
x = rng.standard_normal((3, 4, 2)).astype(np.float32)
kernel = rng.standard_normal((2, 20)).astype(np.float32)
recurrent_kernel = rng.standard_normal((5, 20)).astype(np.float32)
results = []
for persistent_below in (0, 10**9):  # the per-step kernels, then the persistent (cooperative) ones
    options.DEVICE_PRESET = options.DEVICE_PRESET.replace(persistent_below=persistent_below)
    with numlstm.device("cuda"):
        out, h_n, c_n, workspace = numlstm.lstm_forward(x, kernel, recurrent_kernel)
        grads = numlstm.lstm_backward(workspace, np.ones_like(out))
    results += [out.tolist(), grads.d_kernel.tolist()]
kernels = lstm.kernels_for(np.float32, options.DEVICE_PRESET.kernels)
stats = {name: [sum(k.stats.cache_hits.values()), sum(k.stats.cache_misses.values())]
         for name, k in vars(kernels).items()}
print(json.dumps({"stats": stats, "results": results}))
"""


def test_a_new_process_loads_the_kernels_the_first_compiled(tmp_path):
    runs = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", _RUN], capture_output=True, text=True, timeout=300,
                              env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)})
        assert done.returncode == 0, done.stderr
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    first, second = runs
    # numba-cuda cannot pickle code linked with cudadevrt: the cooperative kernels compile in each process.
    cooperative = {"forward_persistent", "backward_persistent"}
    for run in runs:
        assert all(run["stats"][name] == [0, 1] for name in cooperative), run["stats"]
    cached = [name for name, (hits, misses) in first["stats"].items() if hits + misses and name not in cooperative]
    assert cached and all(first["stats"][name][0] == 0 for name in cached), first["stats"]
    not_loaded = {name: {"first": first["stats"][name], "second": second["stats"][name]} for name in cached
                  if not (second["stats"][name][0] >= 1 and second["stats"][name][1] == 0)}
    assert not not_loaded, f"[cache hits, misses] of the kernels the second process did not load: {not_loaded}"
    assert {"forward_step_split", "backward_recurrent_split", "gemm"} <= set(cached)
    assert second["results"] == first["results"]
