"""Everything a GPU session should run, in one call: the GPU tests on hardware, then the tables.

    python asv_bench/tools/gpu_session.py [--rounds 3] [--seconds 0.5] [--skip-tests] [--tests-timeout 270]
                                          [--test-workers 12] [--table-timeout 150] [--tables a,b] > gpu.md 2> gpu.log

First ``pytest tests/gpu`` on the real GPU (the kernels against the numpy
reference and finite differences, the API on device("cuda"); not the PTX
checks, which CI runs), its report on stderr, spread over ``--test-workers``
processes where pytest-xdist is installed (compiling the kernels is most of
its time). Then the
tables of ``TABLES``, most wanted first, each printed as it finishes, so
that a run cut short by the device's time limit keeps what it measured, and
a table that fails on hardware prints its error and runs again with the
defaults no GPU has run yet turned off (``CAUTIOUS_OPTIONS``), so that it
still gives figures and the error narrows down; with
``--table-timeout``, a table that hangs (a kernel that never returns) costs
only itself too: the tables then run in a child process, which a watchdog
ends after that many seconds of one table, and a new child takes up the
tables after it (after a failed table too: a CUDA error can leave the
context unusable):

- ``cudnn``: the DeepBench sizes of ``benchmarks/lstm_gpu.py``, numlstm and
  torch.nn.LSTM on cuDNN (training step, inference, a whole ``fit`` epoch
  beside a torch loop), alternating rounds in one process, medians of
  synchronised timings, ratio = cuDNN's time / numlstm's: the table for
  asv_bench/README.md, with GPU, driver and versions; the single layers
  also beside cuDNN without TF32 (numlstm's float32 arithmetic).
- ``interleaved``: inference beside cuDNN with and without TF32 in turns
  of a few calls each (the first untimed) for ``rounds x seconds`` a size,
  medians and the median ratio of each three turns: the comparison that
  the drift of the GPU's clocks between rounds and processes moves least.
- ``forward``, ``training``: each time loop forced on (one thread per unit,
  split steps, GEMM steps, persistent kernels) beside cuDNN, with the
  persistent kernels' launch plans: where ``split_below``,
  ``gemm_steps_from`` and ``persistent_below`` should lie.
- ``cublas``: training steps and inference with the GEMMs through the
  Numba kernel or through cuBLAS (libcublas called directly; PyTorch's CUDA
  wheels bring it), the latter also with GEMM steps, and both of those on
  TF32 tensor cores, beside cuDNN: ``gemm_library``, ``gemm_steps_from``,
  ``tf32``.
- ``deallocations``: training steps, inference and fit epochs with
  numlstm's arrays from its memory pool and from numba-cuda's allocator
  (whose batched cuMemFree waits for the device), the latter also with its
  frees held back, beside cuDNN: ``memory_pool``.
- ``fastmath``: the float32 pass with GPU fastmath (``tanh.approx``; the
  simulator cannot model approximate math) off and on, each's largest
  error against the float64 CPU pass and its time.
- ``rows``: training steps at 2, 4, 8 and 16 batch rows per thread.
- ``gemm``: numlstm's GEMM (two block shapes; the first also with its depth
  never split) and numlstm's call of cuBLAS beside torch.matmul at the
  training sizes' GEMM shapes: which block shape, whether split-K pays, how
  far the kernel is from cuBLAS; and the host cost from Python
  of one kernel launch (through numba-cuda and through a template of
  ``kernels/cuda/launch.py``) and of one GEMM through numlstm's cuBLAS call.
- ``compile``: the first training step of a fresh process (every kernel
  compiled) against the second, without and with the on-disk kernel cache
  (``cache``).
- ``steps``: inference at one batch row over 1, 25 and 100 steps beside
  cuDNN, and a kernel that only meets at as many grid barriers on the
  persistent forward's grid: what a step costs, and how much of it is the
  barrier.
- ``profile``: where one pass's time goes (each kernel's device time, the
  host's Python), persistent loop and defaults: what to make faster.
- ``host``: the host time of an inference pass at batch one, piece by
  piece (each array, launch and GEMM it makes, replayed alone), beside
  torch's whole call: where the fixed cost of a pass goes.

numlstm need not be installed: see :func:`importable_checkout`.
"""

import argparse
import contextlib
import ctypes
import dataclasses
import faulthandler
import functools
import importlib
import importlib.util
import os
import pathlib
import platform
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from unittest import mock

import numpy as np
from numba import cuda

HERE = pathlib.Path(__file__).resolve().parent  # asv_bench/tools/, for gpu_ab
ASV_BENCH = HERE.parent  # the suite's benchmarks/ package
ROOT = ASV_BENCH.parent
sys.path.insert(0, str(ASV_BENCH))
sys.path.insert(0, str(HERE))

import gpu_ab  # noqa: E402
from benchmarks import lstm_gpu  # noqa: E402
from benchmarks.common import timings  # noqa: E402


def importable_checkout():
    """A directory from which this checkout imports as ``numlstm``, or None when it already does.

    A lent GPU machine gets a copy of the working tree and no network, so
    numlstm may not be installed there; its kernels/ installs as
    numlstm.kernels, so the tree itself does not import. Assemble the
    package in a temporary directory instead (no pip, no setuptools).
    """
    try:
        importlib.import_module("numlstm.kernels")
        return None
    except ImportError:
        pass
    package = pathlib.Path(tempfile.mkdtemp(prefix="numlstm-checkout-"))
    gpu_ab.assemble(ROOT, package)
    for name in [name for name in sys.modules if name == "numlstm" or name.startswith("numlstm.")]:
        del sys.modules[name]  # a half-imported source tree must not shadow the assembled package
    sys.path.insert(0, str(package))
    return package


LAUNCHES_TIMED = 1000


def _median_seconds(function, seconds):
    return float(np.median(timings(function, seconds)))


def _version(module):
    try:
        return importlib.import_module(module).__version__
    except Exception as exc:  # an environment line must never cost the table it heads
        return f"? ({type(exc).__name__})"


def _environment():
    import torch
    from numba import cuda

    device = cuda.get_current_device()
    driver = cuda.cudadrv.driver.driver.get_version()
    name = device.name.decode() if isinstance(device.name, bytes) else device.name
    return (f"{name} (compute capability {device.compute_capability[0]}.{device.compute_capability[1]}), "
            f"CUDA driver {driver[0]}.{driver[1]}; python {platform.python_version()}, numpy {np.__version__}, "
            f"numba {_version('numba')}, numba-cuda {_version('numba_cuda')}, {_cublas_version()}, "
            f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()} "
            f"(TF32 allowed in cuDNN: {torch.backends.cudnn.allow_tf32}, torch's default)")


def _cublas_version():
    try:
        from numlstm.kernels.cuda import cublas as cuda_cublas

        if not cuda_cublas.usable():
            return "no libcublas"
        value, parts = ctypes.c_int(), []
        for kind in range(3):  # libraryPropertyType: major version, minor version, patch level
            cuda_cublas._library().cublasGetProperty(kind, ctypes.byref(value))
            parts.append(str(value.value))
        return f"cuBLAS {'.'.join(parts)}"
    except Exception as exc:  # as _version
        return f"cuBLAS ? ({type(exc).__name__})"


def _steps():
    """(kind, sizes, numlstm's benchmark class, cuDNN's, the method that runs one step), the sizes as
    benchmarks.lstm_gpu says at the call."""
    return (("training step", lstm_gpu.TRAINING, lstm_gpu.NumlstmGpuTraining, lstm_gpu.TorchCudnnTraining,
             "train_once"),
            ("inference", lstm_gpu.INFERENCE, lstm_gpu.NumlstmGpuInference, lstm_gpu.TorchCudnnInference,
             "forward_once"))


def _fit_epochs():
    """As :func:`_steps` gives a kind of step, for whole ``fit`` epochs beside a torch loop."""
    return (f"fit epoch ({lstm_gpu._FIT_STEPS} steps)", lstm_gpu.FIT, lstm_gpu.NumlstmGpuFit, lstm_gpu.TorchGpuFit,
            "fit_epoch")


def compare(rounds, seconds):
    """numlstm beside cuDNN as torch runs it (TF32 tensor cores allowed) and, for single layers, beside cuDNN
    held to float32 arithmetic, numlstm's own (``benchmarks.lstm_gpu._TorchCudnnFloat32``)."""
    float32_peers = {lstm_gpu.TorchCudnnTraining: lstm_gpu.TorchCudnnFloat32Training,
                     lstm_gpu.TorchCudnnInference: lstm_gpu.TorchCudnnFloat32Inference}
    rows = []
    for kind, sizes, ours, theirs, method in _steps() + (_fit_epochs(),):
        for size in sizes:
            benches = {"numlstm": ours(), "cudnn": theirs()}
            if theirs in float32_peers:
                benches["cudnn float32"] = float32_peers[theirs]()
            for bench in benches.values():
                bench.setup(size)
            times = {name: [] for name in benches}
            for _ in range(rounds):
                for name, bench in benches.items():
                    times[name].append(_median_seconds(getattr(bench, method), seconds))
            medians = {name: float(np.median(values)) for name, values in times.items()}
            rows.append((kind, size, medians["numlstm"], medians["cudnn"], medians.get("cudnn float32")))
            print(f"{kind} {size}: " + ", ".join(f"{name} {value * 1e3:.3f} ms" for name, value in medians.items()),
                  file=sys.stderr)
    lines = [_environment(), f"Medians over {rounds} alternating rounds of {seconds} s; float32.", "",
             "| kind | H x N x T | numlstm, ms | cuDNN, ms | ratio (cuDNN / numlstm) | cuDNN without TF32, ms "
             "| ratio |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for kind, size, ours, theirs, float32 in rows:
        strict = "- | -" if float32 is None else f"{float32 * 1e3:.3f} | {float32 / ours:.2f}"
        lines.append(f"| {kind} | {size} | {ours * 1e3:.3f} | {theirs * 1e3:.3f} | {theirs / ours:.2f} | {strict} |")
    return "\n".join(lines)


INTERLEAVED_WARMUP, INTERLEAVED_TIMED = 3, 5  # calls of a turn: untimed, then timed


def interleaved_table(seconds):
    """Inference beside cuDNN, with and without TF32, in short turns for ``seconds`` a size: numlstm, cuDNN,
    cuDNN without TF32, numlstm, ..., each turn INTERLEAVED_WARMUP untimed calls (the caller's code and
    data back in the caches after the others') and INTERLEAVED_TIMED timed ones. Every three turns meet
    the same state of the machine (the GPU's clocks and the host's drift between the rounds of
    ``compare`` and between processes); taking turns call by call instead would time each library just
    after another's, on caches the other had filled. Medians of the turns' medians, and the median of
    each three turns' ratios."""
    peers = {"numlstm": lstm_gpu.NumlstmGpuInference, "cuDNN": lstm_gpu.TorchCudnnInference,
             "cuDNN without TF32": lstm_gpu.TorchCudnnFloat32Inference}
    lines = ["| H x N x T | turns each | " + " | ".join(f"{name}, ms" for name in peers)
             + " | ratio (cuDNN / numlstm), median of turns | without TF32 |", "| --- |" + " ---: |" * 6]
    for size in lstm_gpu.INFERENCE:
        benches = [peer() for peer in peers.values()]
        for bench in benches:
            bench.setup(size)
        turns = [[] for _ in benches]
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline or len(turns[0]) < 3:
            for bench, medians in zip(benches, turns):
                for _ in range(INTERLEAVED_WARMUP):
                    bench.forward_once()
                times = []
                for _ in range(INTERLEAVED_TIMED):
                    start = time.perf_counter()
                    bench.forward_once()
                    times.append(time.perf_counter() - start)
                medians.append(np.median(times))
        ours, cudnn, strict = (np.array(medians) for medians in turns)
        medians = " | ".join(f"{np.median(times) * 1e3:.3f}" for times in (ours, cudnn, strict))
        lines.append(f"| {size} | {len(ours)} | {medians} | {np.median(cudnn / ours):.2f} | "
                     f"{np.median(strict / ours):.2f} |")
    return (f"Inference, numlstm and cuDNN in turns of {INTERLEAVED_WARMUP} untimed and {INTERLEAVED_TIMED} timed "
            "calls, float32 (medians; ratio above 1: numlstm faster):\n\n" + "\n".join(lines))


def fastmath_table(seconds):
    """Errors against float64 on the CPU and times of the float32 GPU pass, fastmath off and on, at the
    first training size."""
    from numba import cuda

    import numlstm
    from numlstm.kernels import options as kernel_options

    size = lstm_gpu.TRAINING[0]
    B, T, F, H = lstm_gpu._size(size)
    host = lstm_gpu._host_inputs(size)
    wide = {name: array.astype(np.float64) for name, array in host.items()}
    with numlstm.device("cpu"):
        out64, *_, workspace = numlstm.lstm_forward(wide["x"], wide["kernel"], wide["recurrent_kernel"], wide["bias"])
        grads64 = numlstm.lstm_backward(workspace, wide["d_outputs"])
    device = {name: cuda.to_device(array) for name, array in host.items()}
    lines = ["| GPU fastmath | max abs error, outputs | max rel error, d_kernel | train step, ms |",
             "| --- | ---: | ---: | ---: |"]
    for fastmath in (False, True):
        with kernel_options.overridden(fastmath=fastmath):

            def step():
                out, *_, workspace = numlstm.lstm_forward(device["x"], device["kernel"], device["recurrent_kernel"],
                                                          device["bias"], check_finite=False)
                grads = numlstm.lstm_backward(workspace, device["d_outputs"])
                cuda.synchronize()
                return out, grads

            out, grads = step()
            error = float(np.abs(out.copy_to_host() - out64).max())
            d_kernel = grads.d_kernel.copy_to_host()
            relative = float(np.abs(d_kernel - grads64.d_kernel).max() / np.abs(grads64.d_kernel).max())
            lines.append(f"| {fastmath} | {error:.2e} | {relative:.2e} | {_median_seconds(step, seconds) * 1e3:.3f} |")
    return f"fastmath at H x N x T = {H} x {B} x {T}, float32 against float64 on the CPU:\n\n" + "\n".join(lines)


_OFF = {"split_below": 0, "persistent_below": 0, "gemm_steps_from": 2**62}
_PERSISTENT = {"persistent_below": 2**62}
TIME_LOOPS = {"one thread per unit": _OFF,
              "split steps": {**_OFF, "split_below": 2**62},
              "GEMM steps": {**_OFF, "gemm_steps_from": 0},
              "persistent": {**_OFF, **_PERSISTENT},
              # as much shared memory for the weight cache as a block may opt in to (227 KiB on an H100)
              "persistent, opted-in shared memory": {**_OFF, **_PERSISTENT, "shared_bytes": 2**20},
              # compiled without the launch bound that fits 4 blocks per SM (more registers, fewer blocks)
              "persistent, no launch bound": {**_OFF, **_PERSISTENT, "persistent_blocks_per_sm": 0},
              # half as many blocks, each of twice the units (the same threads): fewer blocks at each barrier
              "persistent, 4 units x 32 slices": {**_OFF, **_PERSISTENT, "persistent_units": 4,
                                                  "persistent_slices": 32}}


def _variants_beside_cudnn(ours, theirs, method, size, variants, seconds, failures):
    """Table cells: the median ms of ``method`` under each variant of the GPU options (read at each
    call; a variant's "numba config" entry sets attributes of numba.config, which numba-cuda reads live
    too), then cuDNN's and cuDNN / best. A variant that fails shows "failed", its error appended to
    ``failures``, so that it costs only its own cell."""
    import numba

    from numlstm.kernels import options as kernel_options

    bench, cudnn = ours(), theirs()
    bench.setup(size)
    cudnn.setup(size)
    times = []
    for name, options in variants.items():
        options = dict(options)
        numba_settings = options.pop("numba config", {})
        with kernel_options.overridden(**options), mock.patch.dict(numba.config.__dict__, numba_settings):
            try:
                getattr(bench, method)()  # compiles this variant's kernels outside the timing
                times.append(_median_seconds(getattr(bench, method), seconds))
            except Exception as exc:
                times.append(None)
                failures.append(f"{size}, {name}: {type(exc).__name__}: {exc}")
    theirs_time = _median_seconds(getattr(cudnn, method), seconds)
    measured = [t for t in times if t is not None]
    best = f"{theirs_time / min(measured):.2f}" if measured else "-"
    return ["failed" if t is None else f"{t * 1e3:.3f}" for t in times] + [f"{theirs_time * 1e3:.3f}", best]


def _loops_table(title, kind, sizes, ours, theirs, method, seconds):
    from numlstm.kernels import options as kernel_options
    from numlstm.kernels.cuda import plans as cuda_plans

    lines = ["| H x N x T | " + " | ".join(f"{name}, ms" for name in TIME_LOOPS)
             + " | persistent plans (blocks, cached unit blocks per block) | cuDNN, ms | cuDNN / best |",
             "| --- |" + " ---: |" * (len(TIME_LOOPS) + 3)]
    failures = []
    for size in sizes:
        B, _, _, H = lstm_gpu._size(size)
        cells = _variants_beside_cudnn(ours, theirs, method, size, TIME_LOOPS, seconds, failures)
        plans = [plan[:2] for key, plan in cuda_plans.persistent_plans.items()
                 if (key.kind, key.B, key.H, key.itemsize) == (kind, B, H, 4)]  # float32
        cells.insert(len(TIME_LOOPS), " / ".join(map(str, dict.fromkeys(plans))) or "?")
        lines.append(f"| {size} | " + " | ".join(cells) + " |")
    defaults = {name: getattr(kernel_options.gpu_options().kernels, name) for name in _OFF}
    return (f"{title} (defaults: {defaults}), float32:\n\n" + "\n".join(lines)
            + "".join(f"\n\nFailed: {failure}" for failure in failures))


def forward_loops_table(seconds):
    """Forward passes with each time loop forced on, beside cuDNN's, at every size."""
    return _loops_table("Forward time loops", "forward", lstm_gpu.INFERENCE + lstm_gpu.TRAINING,
                        lstm_gpu.NumlstmGpuInference, lstm_gpu.TorchCudnnInference, "forward_once", seconds)


def training_loops_table(seconds):
    """Training steps (forward and backward) with each time loop forced on, beside cuDNN's."""
    return _loops_table("Training-step time loops", "backward", lstm_gpu.TRAINING, lstm_gpu.NumlstmGpuTraining,
                        lstm_gpu.TorchCudnnTraining, "train_once", seconds)


GEMM_LIBRARIES = {"Numba GEMMs": {"gemm_library": "numba"}, "cuBLAS GEMMs": {"gemm_library": "cublas"},
                  "cuBLAS GEMMs and GEMM steps": {"gemm_library": "cublas", "gemm_steps_from": 0},
                  "cuBLAS TF32 GEMMs": {"gemm_library": "cublas", "tf32": True},
                  "cuBLAS TF32 GEMMs and GEMM steps": {"gemm_library": "cublas", "gemm_steps_from": 0, "tf32": True}}


def _steps_table(title, variants, seconds, steps=None):
    """Training steps and inference (or ``steps``, as :func:`_steps` gives them) under each variant (as
    :func:`_variants_beside_cudnn` takes them) beside cuDNN, every size."""
    lines = ["| kind | H x N x T | " + " | ".join(f"{name}, ms" for name in variants)
             + " | cuDNN, ms | cuDNN / best |", "| --- | --- |" + " ---: |" * (len(variants) + 2)]
    failures = []
    for kind, sizes, ours, theirs, method in steps or _steps():
        for size in sizes:
            cells = _variants_beside_cudnn(ours, theirs, method, size, variants, seconds, failures)
            lines.append(f"| {kind} | {size} | " + " | ".join(cells) + " |")
    return (f"{title}:\n\n" + "\n".join(lines) + "".join(f"\n\nFailed: {failure}" for failure in failures))


def cublas_table(seconds):
    """Training steps and inference with every GEMM through the Numba kernel or through cuBLAS, the latter
    also with the recurrent products as per-step GEMMs (cuDNN's own scheme), and both on TF32 tensor cores
    (cuDNN's precision under torch), beside cuDNN: what ``gemm_library`` should say, from which batch
    ``gemm_steps_from``, and what ``tf32`` buys."""
    return _steps_table("GEMMs through Numba or cuBLAS, default time loops otherwise, float32", GEMM_LIBRARIES,
                        seconds)


# numba-cuda frees device memory in batches: past CUDA_DEALLOCS_COUNT (10) pending frees it calls
# cuMemFree for each, and cuMemFree waits for the device to finish its work, so a step that drops more
# arrays than that stalls the host that many times over; numlstm's pool (kernels/cuda/memory.py) frees
# nothing.
DEALLOCATIONS = {"memory pool": {},
                 "numba-cuda's allocator": {"memory_pool": False},
                 "numba-cuda's, frees held back": {"memory_pool": False,
                                                   "numba config": {"CUDA_DEALLOCS_COUNT": 10**9}}}


def deallocations_table(seconds):
    """Training steps, inference and fit epochs with numlstm's arrays from its memory pool, from numba-cuda's
    allocator (its batches of frees) and from numba-cuda's with the frees held back until they reach 20% of
    the GPU's memory, beside cuDNN: what ``memory_pool`` should say."""
    return _steps_table("Device memory: numlstm's pool or numba-cuda's allocator, defaults otherwise, float32",
                        DEALLOCATIONS, seconds, _steps() + (_fit_epochs(),))


UPLOADS = {"staged transfers": {}, "ordinary transfers": {"staged_transfer_bytes": 0}}


def uploads_table(seconds):
    """Training epochs with small transfers staged through page-locked buffers (uploads queued without
    waiting for the device, the loss's download waiting for its own copy only) and copied the ordinary way
    (each waits for all of the device's queued work), beside torch on cuDNN: the model with Dropout uploads
    a mask in the middle of each forward pass."""
    fits = (("LSTM, Dense", lstm_gpu.FIT, lstm_gpu.NumlstmGpuFit, lstm_gpu.TorchGpuFit, "fit_epoch"),
            ("LSTM, Dropout, Dense", lstm_gpu.FIT, lstm_gpu.NumlstmGpuFitDropout, lstm_gpu.TorchGpuFitDropout,
             "fit_epoch"))
    return _steps_table(f"Transfers in a fit epoch ({lstm_gpu._FIT_STEPS} steps) beside torch on cuDNN, float32",
                        UPLOADS, seconds, fits)


GEMM_SHAPES = {"64 x 64 tiles, 4 x 4 per thread": {"gemm_library": "numba", "gemm_block": 64, "gemm_depth": 16,
                                                    "gemm_micro": 4},
               "64 x 64 tiles, depth never split": {"gemm_library": "numba", "gemm_block": 64, "gemm_depth": 16,
                                                    "gemm_micro": 4, "gemm_split_blocks": 1},
               "128 x 128 tiles, 8 x 8 per thread": {"gemm_library": "numba", "gemm_block": 128, "gemm_depth": 8,
                                                     "gemm_micro": 8},
               "cuBLAS": {"gemm_library": "cublas"}}


def gemm_table(seconds):
    """numlstm's GEMMs (the kernel at each block shape of GEMM_SHAPES, and its call of cuBLAS) beside
    torch.matmul at the GEMM shapes of the training sizes, and the host cost of one kernel launch and of
    one cuBLAS call from Python: what routing the GEMMs to cuBLAS saves, and which block shape
    GpuKernelOptions should name."""
    import torch
    from numba import cuda

    from numlstm.kernels import options as kernel_options
    from numlstm.kernels.cuda import cublas as cuda_cublas, launch as cuda_launch, lstm as cuda_lstm

    defaults = kernel_options.gpu_options().kernels
    variants = {name: dataclasses.replace(defaults, **shape) for name, shape in GEMM_SHAPES.items()
                if shape["gemm_library"] != "cublas" or cuda_cublas.usable()}
    rng = np.random.default_rng(2)
    lines = ["| size, GEMM | m x n x depth | " + " | ".join(f"numlstm {name}, ms (TFLOP/s)" for name in variants)
             + " | torch.matmul, ms (TFLOP/s) | torch / best numlstm |",
             "| --- | --- |" + " ---: |" * (len(variants) + 2)]
    for size in lstm_gpu.TRAINING:
        B, T, F, H = lstm_gpu._size(size)
        for name, (m, n, depth, transpose_a) in {"input projection": (T * B, 4 * H, F, False),
                                                 "weight gradient": (F, 4 * H, T * B, True)}.items():
            a = rng.standard_normal((depth, m) if transpose_a else (m, depth)).astype(np.float32)
            b = rng.standard_normal((depth, n)).astype(np.float32)
            expected = (a.T if transpose_a else a) @ b
            a_ours, b_ours, c_ours = cuda.to_device(a), cuda.to_device(b), cuda.device_array((m, n), np.float32)
            a_theirs, b_theirs = torch.from_numpy(a).cuda(), torch.from_numpy(b).cuda()
            flops = 2 * m * n * depth
            cells, times = [], []
            for options in variants.values():
                kernels = cuda_lstm.kernels_for(np.float32, options)

                def ours():
                    cuda_lstm.launch_gemm(kernels, options, a_ours, b_ours, c_ours, m, n, depth, transpose_a)
                    cuda.synchronize()

                ours()
                np.testing.assert_allclose(c_ours.copy_to_host(), expected, rtol=1e-3, atol=1e-2)
                times.append(_median_seconds(ours, seconds))
                cells.append(f"{times[-1] * 1e3:.3f} ({flops / times[-1] / 1e12:.1f})")

            def theirs():
                (a_theirs.T if transpose_a else a_theirs) @ b_theirs
                torch.cuda.synchronize()

            theirs()
            cublas = _median_seconds(theirs, seconds)
            lines.append(f"| {size}, {name} | {m} x {n} x {depth} | " + " | ".join(cells)
                         + f" | {cublas * 1e3:.3f} ({flops / cublas / 1e12:.1f}) | {cublas / min(times):.2f} |")
    kernels = cuda_lstm.kernels_for(np.float32, defaults)
    tiny = cuda.device_array((1, 1), np.float32)
    empty_launch = kernels.copy_rows[1, 32]
    empty_launch(tiny, 0, 0, tiny, 0)

    def launches():
        for _ in range(LAUNCHES_TIMED):
            empty_launch(tiny, 0, 0, tiny, 0)
        cuda.synchronize()

    per_launch = _median_seconds(launches, seconds) / LAUNCHES_TIMED

    def template_launches():
        for _ in range(LAUNCHES_TIMED):
            cuda_launch.launch(kernels.copy_rows, 1, 32, (tiny, 0, 0, tiny, 0))
        cuda.synchronize()

    template_launches()
    per_template_launch = _median_seconds(template_launches, seconds) / LAUNCHES_TIMED
    text = (f"GEMMs, float32 (torch.matmul TF32: {torch.backends.cuda.matmul.allow_tf32}):\n\n" + "\n".join(lines)
            + f"\n\nOne kernel launch from Python through numba-cuda (an empty copy_rows): {per_launch * 1e6:.1f} us; "
            f"through cuda/launch.py's template: {per_template_launch * 1e6:.1f} us")
    if cuda_cublas.usable():
        options = dataclasses.replace(defaults, gemm_library="cublas")

        def cublas_calls():
            for _ in range(LAUNCHES_TIMED):
                cuda_lstm.launch_gemm(kernels, options, tiny, tiny, tiny, 1, 1, 1)
            cuda.synchronize()

        cublas_calls()
        per_call = _median_seconds(cublas_calls, seconds) / LAUNCHES_TIMED
        text += f"; one 1 x 1 x 1 GEMM through numlstm's cuBLAS call: {per_call * 1e6:.1f} us"
    return text


ROWS_CHOICES = (2, 4, 8, 16)


def rows_table(seconds):
    """Training steps with each number of batch rows per thread of the per-step kernels (each thread reads
    its weights once for that many rows), under the default time loops."""
    from numlstm.kernels import options as kernel_options

    lines = ["| H x N x T | " + " | ".join(f"rows = {rows}, ms" for rows in ROWS_CHOICES) + " |",
             "| --- |" + " ---: |" * len(ROWS_CHOICES)]
    for size in lstm_gpu.TRAINING:
        bench = lstm_gpu.NumlstmGpuTraining()
        bench.setup(size)
        cells = []
        for rows in ROWS_CHOICES:
            with kernel_options.overridden(rows=rows):
                bench.train_once()  # compiles the kernels of this shape outside the timing
                cells.append(f"{_median_seconds(bench.train_once, seconds) * 1e3:.3f}")
        lines.append(f"| {size} | " + " | ".join(cells) + " |")
    default = kernel_options.gpu_options().kernels.rows
    return f"Rows per thread (default {default}), training steps, float32:\n\n" + "\n".join(lines)


STEP_COUNTS = (1, 25, 100)


def _barriers(count):
    """A cooperative kernel that does nothing but meet at ``count`` grid barriers (``cuda`` a global of
    this module, which Numba's simulator swaps for its own while a kernel runs)."""
    grid = cuda.cg.this_grid()
    for _ in range(count):
        grid.sync()


@functools.lru_cache(maxsize=1)
def _barriers_kernel():
    return cuda.jit(_barriers)


def steps_table(seconds):
    """Inference at one batch row over each of STEP_COUNTS steps, the defaults beside cuDNN, and a kernel
    that only meets at that many grid barriers on the persistent forward's grid: the time a step adds (the
    slope between the two longest), what a pass costs besides, and how much of a step is the barrier."""
    from numlstm.kernels import options as kernel_options
    from numlstm.kernels.cuda import plans as cuda_plans

    lines = ["| H | " + " | ".join(f"numlstm T={T}, ms" for T in STEP_COUNTS)
             + " | " + " | ".join(f"cuDNN T={T}, ms" for T in STEP_COUNTS)
             + " | " + " | ".join(f"barriers T={T}, ms" for T in STEP_COUNTS)
             + " | a step: numlstm, cuDNN, barrier, us |", "| --- |" + " ---: |" * (3 * len(STEP_COUNTS) + 1)]
    barriers = _barriers_kernel()
    defaults = kernel_options.gpu_options().kernels
    threads = defaults.persistent_units * defaults.persistent_slices
    for H in sorted({lstm_gpu._size(size)[3] for size in lstm_gpu.INFERENCE}):
        ours, theirs, fences = [], [], []
        cuda_plans.persistent_plans.clear()  # other tables' variants planned too: keep the defaults' plan only
        for T in STEP_COUNTS:
            size = f"{H}x1x{T}"
            bench, cudnn = lstm_gpu.NumlstmGpuInference(), lstm_gpu.TorchCudnnInference()
            bench.setup(size)
            cudnn.setup(size)
            ours.append(_median_seconds(bench.forward_once, seconds))
            theirs.append(_median_seconds(cudnn.forward_once, seconds))
            plans = [plan[0] for key, plan in cuda_plans.persistent_plans.items()
                     if (key.kind, key.B, key.H, key.itemsize) == ("forward", 1, H, 4)]
            if plans:
                launch = barriers[plans[-1], threads]

                def meet(launch=launch, T=T):
                    launch(T)
                    cuda.synchronize()

                meet()
                fences.append(_median_seconds(meet, seconds))
        first, last = STEP_COUNTS[-2:]

        def slope(times):
            return f"{(times[-1] - times[-2]) / (last - first) * 1e6:.2f}" if len(times) == len(STEP_COUNTS) else "-"

        cells = [f"{t * 1e3:.3f}" for t in ours + theirs] + [f"{t * 1e3:.3f}" for t in fences]
        cells += ["-"] * (3 * len(STEP_COUNTS) - len(cells))
        lines.append(f"| {H} | " + " | ".join(cells) + f" | {slope(ours)}, {slope(theirs)}, {slope(fences)} |")
    return ("Inference steps at one batch row, float32 (defaults; barriers on the persistent forward's grid):\n\n"
            + "\n".join(lines))


PROFILED_CALLS = 20


def _profiled_cases():
    training = lstm_gpu.TRAINING[0]
    widest = max(lstm_gpu.INFERENCE, key=lambda size: lstm_gpu._size(size)[3])  # the first of the most units
    return (*(("inference", size, lstm_gpu.NumlstmGpuInference, "forward_once", {})
              for size in dict.fromkeys((lstm_gpu.INFERENCE[0], widest))),
            ("training step", training, lstm_gpu.NumlstmGpuTraining, "train_once", _PERSISTENT),
            ("training step", training, lstm_gpu.NumlstmGpuTraining, "train_once", {}))


def profile_table(seconds):
    """Where the time of one pass goes: its wall time, the device time of each kernel (torch.profiler, which
    records every kernel of the process through CUPTI, numba's too) and the host's Python (cProfile: the
    functions that take most time themselves, then numlstm's by cumulative time): inference at the first
    size and the first of the most units, training with the persistent loop forced on and with the
    defaults: how much is launches and Python, how much the kernels."""
    import cProfile
    import io
    import pstats

    import torch
    from torch import profiler

    from numlstm.kernels import options as kernel_options

    sections = []
    activities = [activity for activity in (profiler.ProfilerActivity.CPU, profiler.ProfilerActivity.CUDA)
                  if activity in profiler.supported_activities()]
    for kind, size, ours, method, options in _profiled_cases():
        with kernel_options.overridden(**options):
            bench = ours()
            bench.setup(size)
            run = getattr(bench, method)
            run()
            wall = _median_seconds(run, seconds)
            with profiler.profile(activities=activities) as recorded:
                for _ in range(PROFILED_CALLS):
                    run()
            kernels = recorded.key_averages().table(sort_by="device_time_total" if len(activities) > 1
                                                    else "cpu_time_total", row_limit=12, max_name_column_width=48)
            host = cProfile.Profile()
            host.enable()
            for _ in range(PROFILED_CALLS):
                run()
            host.disable()
            text = io.StringIO()
            pstats.Stats(host, stream=text).sort_stats("tottime").print_stats(16)
            pstats.Stats(host, stream=text).sort_stats("cumulative").print_stats("numlstm", 16)
            python = "\n".join(line for line in text.getvalue().splitlines()[4:] if line.strip())
        sections.append(f"### {kind} {size}, {'defaults' if not options else options}: {wall * 1e3:.3f} ms a call "
                        f"(median)\n\nDevice, {PROFILED_CALLS} calls:\n\n```\n{kernels}\n```\n\n"
                        f"Host Python, {PROFILED_CALLS} calls:\n\n```\n{python}\n```")
    return f"Profiles (torch {torch.__version__}), float32:\n\n" + "\n\n".join(sections)


HOST_CALLS = 400  # passes timed per piece of the host table
HOST_SYNC_EVERY = 8  # passes queued between waits for the device, which runs behind the host


def _host_seconds(function, calls):
    """Median host time of ``function()`` (until it returns: work it queues on the device is not waited
    for, but the device is waited for every HOST_SYNC_EVERY calls, so that the queue stays short)."""
    samples = []
    for call in range(calls):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
        if call % HOST_SYNC_EVERY == HOST_SYNC_EVERY - 1:
            cuda.synchronize()
    cuda.synchronize()
    return float(np.median(samples))


# What an inference pass calls on the host below lstm_forward: each call is recorded (outermost calls only,
# not the launch inside a _run) and replayed alone by the host table.
_HOST_PIECES = (("cuda.lstm", "device_array"), ("cuda.lstm", "_run"), ("cuda.lstm", "launch_gemm"),
                ("cuda.launch", "launch"), ("cuda.plans", "persistent_plan"), ("cuda.lstm", "rows_for_batch"),
                ("cuda.lstm", "kernels_for"))


def _recorded_pieces(run):
    """[(module.function, replay)] of the calls of :data:`_HOST_PIECES` during ``run()``, in order."""
    from numlstm.kernels.cuda import launch as cuda_launch, lstm as cuda_lstm, plans as cuda_plans

    modules = {"cuda.lstm": cuda_lstm, "cuda.launch": cuda_launch, "cuda.plans": cuda_plans}
    recorded, depth = [], [0]

    def recording(name, function):
        def record(*args, **kwargs):
            if depth[0] == 0:
                recorded.append((name, functools.partial(function, *args, **kwargs)))
            depth[0] += 1
            try:
                return function(*args, **kwargs)
            finally:
                depth[0] -= 1
        return record

    with contextlib.ExitStack() as patches:
        for module, function in _HOST_PIECES:
            original = getattr(modules[module], function)
            patches.enter_context(mock.patch.object(modules[module], function,
                                                    recording(f"{module}.{function}", original)))
        run()
    cuda.synchronize()
    return recorded


def host_table():
    """Where the host time of an inference pass goes (until ``lstm_forward`` returns; the device runs
    behind): the whole call, ``kernels/cuda/lstm.py``'s ``forward`` below the validation of ``functional``,
    and each array, launch, GEMM and plan lookup it makes, replayed alone; beside torch's whole call on cuDNN. At batch one
    and T = 25 this host time is most of what a pass costs besides its time loop."""
    import cProfile
    import io
    import pstats

    from numlstm.backend import cuda as cuda_backend
    from numlstm.kernels.cuda import lstm as cuda_lstm

    sections = []
    for size in [size for size in lstm_gpu.INFERENCE if lstm_gpu._size(size)[0] == 1]:
        bench, cudnn = lstm_gpu.NumlstmGpuInference(), lstm_gpu.TorchCudnnInference()
        bench.setup(size)
        cudnn.setup(size)
        captured = []
        forward = cuda_lstm.forward

        def capturing(*args, **kwargs):
            captured.append((args, kwargs))
            return forward(*args, **kwargs)

        with mock.patch.object(cuda_lstm, "forward", capturing):
            bench._forward()
        args, kwargs = captured[0]
        pieces = cuda_backend.in_context(_recorded_pieces, lambda: forward(*args, **kwargs))

        def cudnn_call():
            with cudnn.torch.no_grad():
                cudnn.module(cudnn.x)

        wholes = [("lstm_forward (the benchmark's call)", bench._forward),
                  ("cuda.lstm.forward alone", lambda: cuda_backend.in_context(forward, *args, **kwargs)),
                  ("in_context around nothing (part of each piece below)",
                   functools.partial(cuda_backend.in_context, lambda: None))]
        replays = [(name, functools.partial(cuda_backend.in_context, replay)) for name, replay in pieces]
        timed = [[(name, _host_seconds(function, HOST_CALLS)) for name, function in group]
                 for group in (wholes, replays, [("torch.nn.LSTM on cuDNN (its whole call)", cudnn_call)])]
        lines = ["| piece | host us |", "| --- | ---: |"]
        lines += [f"| {name} | {spent * 1e6:.1f} |" for group in timed for name, spent in group]
        lines.append(f"| the pieces above, added up | {sum(spent for _, spent in timed[1]) * 1e6:.1f} |")
        host = cProfile.Profile()
        host.enable()
        _host_seconds(bench._forward, PROFILED_CALLS)  # the same calls and waits as the timed pieces
        host.disable()
        text = io.StringIO()
        pstats.Stats(host, stream=text).sort_stats("tottime").print_stats(24)
        python = "\n".join(line for line in text.getvalue().splitlines()[4:] if line.strip())
        sections.append(f"### inference {size}\n\n" + "\n".join(lines)
                        + f"\n\nHost Python of {PROFILED_CALLS} whole calls, by time spent in each function "
                          f"itself:\n\n```\n{python}\n```")
    return (f"Host time of an inference pass, piece by piece (medians of {HOST_CALLS} calls), float32:\n\n"
            + "\n\n".join(sections))


_COMPILE_PROBE = """
import json, sys, time
start = time.perf_counter()
import numlstm
from numba import cuda
from numlstm.kernels import options
options.DEVICE_PRESET = options.DEVICE_PRESET.replace(cache={cache!r})
options.SIMULATOR_PRESET = options.SIMULATOR_PRESET.replace(cache={cache!r})
imported = time.perf_counter()
sys.path.insert(0, {bench!r})
from benchmarks import lstm_gpu
d = {{name: cuda.to_device(array) for name, array in lstm_gpu._host_inputs({size!r}).items()}}
def step():
    begin = time.perf_counter()
    workspace = numlstm.lstm_forward(d["x"], d["kernel"], d["recurrent_kernel"], d["bias"], check_finite=False)[3]
    numlstm.lstm_backward(workspace, d["d_outputs"], input_gradient=False)
    cuda.synchronize()
    return time.perf_counter() - begin
print(json.dumps({{"import": imported - start, "first": step(), "second": step()}}))
"""


COMPILE_PROBE_TIMEOUT = 100
COMPILE_RUNS = {"compiled, no cache": False, "compiled, saved to a new cache": True, "loaded from that cache": True}


def compile_table(package):
    """The first training step in a fresh process, which compiles every kernel it launches, against the
    second; without the on-disk kernel cache, then with it twice (saving, then loading): whether
    GpuKernelOptions.cache should be on."""
    import json

    size = lstm_gpu.TRAINING[0]
    lines = ["| kernels | import numlstm, s | first step, s | second step, ms |", "| --- | ---: | ---: | ---: |"]
    with tempfile.TemporaryDirectory(prefix="numlstm-kernel-cache-") as cache_dir:
        for name, cache in COMPILE_RUNS.items():
            probe = _COMPILE_PROBE.format(bench=str(ASV_BENCH), size=size, cache=cache)
            done = subprocess.run([sys.executable, "-c", probe], cwd=package or ASV_BENCH, capture_output=True,
                                  text=True, timeout=COMPILE_PROBE_TIMEOUT,
                                  env={**os.environ, "NUMBA_CACHE_DIR": cache_dir})
            if done.returncode != 0:
                lines.append(f"| {name} | failed: {(done.stderr.strip().splitlines() or ['?'])[-1]} | | |")
                continue
            times = json.loads(done.stdout.strip().splitlines()[-1])
            lines.append(f"| {name} | {times['import']:.2f} | {times['first']:.2f} | {times['second'] * 1e3:.3f} |")
    return f"A fresh process, training steps at {size}, float32:\n\n" + "\n".join(lines)


# Most wanted first, each printed as soon as it is done: a session cut short keeps what it measured.
TABLES = {"cudnn": lambda args: compare(args.rounds, args.seconds),
          "interleaved": lambda args: interleaved_table(args.seconds * args.rounds),
          "forward": lambda args: forward_loops_table(args.seconds),
          "training": lambda args: training_loops_table(args.seconds),
          "cublas": lambda args: cublas_table(args.seconds),
          "deallocations": lambda args: deallocations_table(args.seconds),
          "uploads": lambda args: uploads_table(args.seconds),
          "fastmath": lambda args: fastmath_table(args.seconds),
          "rows": lambda args: rows_table(args.seconds),
          "gemm": lambda args: gemm_table(args.seconds),
          "compile": lambda args: compile_table(args.package),
          "steps": lambda args: steps_table(args.seconds),
          "profile": lambda args: profile_table(args.seconds),
          "host": lambda args: host_table()}


TEST_TIMEOUT = 120


def _test_command(root, workers):
    """pytest over tests/gpu but the PTX checks (CI compiles the PTX already, and here every kernel compiles
    for the GPU at hand anyway), over ``workers`` processes where pytest-xdist is installed."""
    command = [sys.executable, "-m", "pytest", "-q", "-rfE", "--durations", "10", "--rootdir", str(root),
               "-c", str(root / "pyproject.toml")]
    if workers > 1 and importlib.util.find_spec("xdist"):
        command += ["-n", str(workers)]
        if importlib.util.find_spec("pytest_timeout"):
            # A kernel that never returns ends its worker, which xdist replaces, not the whole run.
            command += ["--timeout", str(TEST_TIMEOUT), "--timeout-method", "thread"]
    return command + [str(root / "tests" / "gpu"), "--ignore", str(root / "tests" / "gpu" / "test_ptx.py")]


def _run_tests(command, cwd, timeout):
    """The tests' exit status, or after ``timeout`` seconds "stopped after ..." with the tests and every
    process they started (xdist's workers, one perhaps waiting on a kernel that never returns) killed, so
    that none holds the GPU while the tables are timed."""
    sys.stderr.flush()
    with subprocess.Popen(command, cwd=cwd, stdout=sys.stderr, start_new_session=True) as tests:
        try:
            return tests.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(tests.pid, signal.SIGKILL)
            tests.wait()
            return f"stopped after {timeout:g} s"


# What a table that fails under the defaults runs with again: the defaults that no GPU has run yet turned off
# (the memory pool, staged transfers, cuBLAS), and numba-cuda's own launches instead of cuda/launch.py's templates.
CAUTIOUS_OPTIONS = {"memory_pool": False, "staged_transfer_bytes": 0, "gemm_library": "numba"}
_TABLE_FAILED = 3  # a child's exit status: a table failed, the tables after it go to a fresh process


def _cautiously(table, args):
    """``table(args)`` under :data:`CAUTIOUS_OPTIONS` and numba-cuda's own launches."""
    import weakref

    from numlstm.kernels import options as kernel_options
    from numlstm.kernels.cuda import launch as cuda_launch

    with kernel_options.overridden(**CAUTIOUS_OPTIONS), \
            mock.patch.object(cuda_launch, "_templates", weakref.WeakKeyDictionary()), \
            mock.patch.object(cuda_launch._FastLaunch, "for_kernel", lambda *args, **kwargs: None):
        return table(args)


def _print_tables(names, args):
    """Each table as it finishes. One that fails (a kernel or call that only hardware rejects) prints its
    error and runs again under :data:`CAUTIOUS_OPTIONS`, so that the session still gets its figures and the
    error narrows down: here, or, in a child process (``args.progress``), in a fresh one that the parent
    starts, for a CUDA error can leave the context unusable; the parent then starts the tables after it in
    another. ``args.cautious``: every table under :data:`CAUTIOUS_OPTIONS` (that fresh child)."""
    for name in names:
        if args.progress:
            with open(args.progress, "a") as progress:
                print(name, file=progress)
        table = functools.partial(_cautiously, TABLES[name]) if args.cautious else TABLES[name]
        if _printed(table, args):
            continue
        if args.progress and not args.cautious:
            sys.exit(_TABLE_FAILED)
        if not args.cautious:
            print(_again(name), end="\n\n", flush=True)
            _printed(functools.partial(_cautiously, TABLES[name]), args)


def _again(name):
    return f"Table {name} again, with {CAUTIOUS_OPTIONS} and numba-cuda's own launches:"


def _printed(table, args):
    """Print ``table(args)``, or its error; whether it gave a table."""
    if args.table_timeout:
        faulthandler.dump_traceback_later(args.table_timeout, exit=True)
    try:
        print(table(args), end="\n\n", flush=True)
        return True
    except Exception:
        print(f"```\n{traceback.format_exc()}```", end="\n\n", flush=True)
        return False
    finally:
        faulthandler.cancel_dump_traceback_later()


def _print_tables_in_children(names, args):
    """The tables in child processes, each table ended by a watchdog after ``args.table_timeout`` seconds
    (its threads' stacks on stderr); a new child takes up the tables after one that hung or crashed, and
    after one that failed, which first runs again cautiously in a child of its own."""
    with tempfile.TemporaryDirectory(prefix="numlstm-gpu-session-") as scratch:
        progress = pathlib.Path(scratch) / "started"
        progress.touch()

        def child(tables, cautious=False):
            command = [sys.executable, str(HERE / "gpu_session.py"), "--skip-tests", "--rounds", str(args.rounds),
                       "--seconds", str(args.seconds), "--table-timeout", str(args.table_timeout),
                       "--progress", str(progress), "--tables", ",".join(tables)] + ["--cautious"] * cautious
            sys.stdout.flush()
            return subprocess.run(command).returncode

        remaining = list(names)
        while remaining:
            status = child(remaining)
            started = progress.read_text().split()
            if status == 0:
                return
            last = next((name for name in reversed(remaining) if name in started), None)
            if last is None:
                print(f"The tables' process failed (exit status {status}) before its first table; see stderr.",
                      end="\n\n", flush=True)
                return
            if status == _TABLE_FAILED:  # it printed its error
                print(_again(last), end="\n\n", flush=True)
                status = child([last], cautious=True)
            if status != 0:
                print(f"Table {last}: no result, its process ended (exit status {status}: stopped after "
                      f"{args.table_timeout:g} s, or crashed); its stacks are on stderr.", end="\n\n", flush=True)
            remaining = [name for name in remaining if name not in started]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--skip-tests", action="store_true")
    parser.add_argument("--tests-timeout", type=float, default=270,
                        help="seconds after which the GPU tests are stopped and the tables begin (a kernel that "
                             "hangs on hardware must not cost the session its measurements)")
    parser.add_argument("--test-workers", type=int, default=1,
                        help="pytest-xdist processes for the GPU tests (where pytest-xdist is installed)")
    parser.add_argument("--table-timeout", type=float, default=0,
                        help="run the tables in a child process and end one that takes longer than this many "
                             "seconds (0: no limit, the tables in this process)")
    parser.add_argument("--progress", help=argparse.SUPPRESS)  # a child's record of the tables it started
    parser.add_argument("--cautious", action="store_true", help=argparse.SUPPRESS)  # CAUTIOUS_OPTIONS throughout
    parser.add_argument("--tables", default=",".join(TABLES),
                        help=f"comma-separated, from {', '.join(TABLES)} (default: all, in this order)")
    args = parser.parse_args()
    chosen = args.tables.split(",")
    unknown = sorted(set(chosen) - set(TABLES))
    if unknown:
        parser.error(f"unknown tables {unknown}; choose from {', '.join(TABLES)}")
    package = args.package = importable_checkout()
    if not args.skip_tests:
        root = ROOT
        # From the assembled package's directory, which then comes first on sys.path (not the checkout's
        # incomplete numlstm/); pytest still reads the checkout's configuration.
        status = _run_tests(_test_command(root, args.test_workers), package or root, args.tests_timeout)
        print(f"GPU tests exit status: {status}", file=sys.stderr, flush=True)
    if args.table_timeout and not args.progress:
        _print_tables_in_children(chosen, args)
    else:
        _print_tables(chosen, args)


if __name__ == "__main__":
    main()
