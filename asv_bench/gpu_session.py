"""Everything a GPU session should run, in one call: the GPU tests on hardware, then the cuDNN comparison.

    python asv_bench/gpu_session.py [--rounds 3] [--seconds 1.0] > gpu.md

1. ``pytest tests/gpu`` on the real GPU (the kernels against the numpy
   reference and finite differences, the API on device("cuda"), PTX).
2. The DeepBench sizes of ``benchmarks/lstm_gpu.py``: numlstm's kernels and
   torch.nn.LSTM on cuDNN, then a whole ``fit`` epoch beside a torch training
   loop on the GPU, alternating rounds in one process, medians of
   synchronised timings. Prints a markdown table (GPU, driver, versions,
   medians, ratio = cuDNN's time / numlstm's) for asv_bench/README.md.
3. Launch options of ``kernels/config.py`` measured, so that
   ``GPU_OPTIONS`` can be set from measurements: GPU fastmath
   (``tanh.approx`` and friends; the simulator cannot model approximate
   math), the float32 pass with it off and on, each's largest error against
   the float64 CPU pass and its time; and the three forward loops (one
   thread per unit, the split step, the persistent cooperative kernel) at
   every size, beside cuDNN's forward pass, with the persistent kernel's
   launch plan (blocks, tiles of cached weights per block); and training
   steps with the split steps off and on.
"""

import argparse
import pathlib
import platform
import subprocess
import sys
from unittest import mock

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchmarks import lstm_gpu  # noqa: E402
from compare import timings  # noqa: E402


def _median_seconds(function, seconds):
    return float(np.median(timings(function, seconds)))


def _environment():
    import numba
    import torch
    from numba import cuda

    device = cuda.get_current_device()
    driver = cuda.cudadrv.driver.driver.get_version()
    name = device.name.decode() if isinstance(device.name, bytes) else device.name
    return (f"{name} (compute capability {device.compute_capability[0]}.{device.compute_capability[1]}), "
            f"CUDA driver {driver[0]}.{driver[1]}; python {platform.python_version()}, numba {numba.__version__}, "
            f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}")


def compare(rounds, seconds):
    rows = []
    for kind, sizes, ours, theirs, method in (
            ("training step", lstm_gpu.TRAINING, lstm_gpu.NumlstmGpuTraining, lstm_gpu.TorchCudnnTraining,
             "train_once"),
            ("inference", lstm_gpu.INFERENCE, lstm_gpu.NumlstmGpuInference, lstm_gpu.TorchCudnnInference,
             "forward_once"),
            ("fit epoch (10 steps)", lstm_gpu.FIT, lstm_gpu.NumlstmGpuFit, lstm_gpu.TorchGpuFit, "fit_epoch")):
        for size in sizes:
            benches = {"numlstm": ours(), "cudnn": theirs()}
            for bench in benches.values():
                bench.setup(size)
            times = {name: [] for name in benches}
            for _ in range(rounds):
                for name, bench in benches.items():
                    times[name].append(_median_seconds(getattr(bench, method), seconds))
            medians = {name: float(np.median(values)) for name, values in times.items()}
            rows.append((kind, size, medians["numlstm"], medians["cudnn"], medians["cudnn"] / medians["numlstm"]))
            print(f"{kind} {size}: numlstm {medians['numlstm'] * 1e3:.3f} ms, cuDNN {medians['cudnn'] * 1e3:.3f} ms",
                  file=sys.stderr)
    lines = [_environment(), f"Medians over {rounds} alternating rounds of {seconds} s; float32.", "",
             "| kind | H x N x T | numlstm, ms | cuDNN, ms | ratio (cuDNN / numlstm) |",
             "| --- | --- | ---: | ---: | ---: |"]
    lines += [f"| {kind} | {size} | {ours * 1e3:.3f} | {theirs * 1e3:.3f} | {ratio:.2f} |"
              for kind, size, ours, theirs, ratio in rows]
    return "\n".join(lines)


def fastmath_table(seconds, size="512x16x25"):
    """Errors against float64 on the CPU and times of the float32 GPU pass, fastmath off and on."""
    from numba import cuda

    import numlstm
    from numlstm.kernels import config

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
        with mock.patch.dict(config.GPU_OPTIONS, fastmath=fastmath):

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


FORWARD_LOOPS = {"one thread per unit": {"split_below": 0, "persistent_below": 0},
                 "split step": {"split_below": 2**62, "persistent_below": 0},
                 "persistent": {"persistent_below": 2**62}}


def forward_loops_table(seconds):
    """Forward-pass times with each time loop forced on (the loop is chosen at each call), and cuDNN's."""
    from numlstm.kernels import config, gpu_lstm

    lines = ["| H x N x T | " + " | ".join(f"{name}, ms" for name in FORWARD_LOOPS)
             + " | persistent plan (blocks, cached tiles per block) | cuDNN, ms | cuDNN / best |",
             "| --- |" + " ---: |" * (len(FORWARD_LOOPS) + 3)]
    for size in lstm_gpu.INFERENCE + lstm_gpu.TRAINING:
        B, _, _, H = lstm_gpu._size(size)
        bench, cudnn = lstm_gpu.NumlstmGpuInference(), lstm_gpu.TorchCudnnInference()
        bench.setup(size)
        cudnn.setup(size)
        times = []
        for options in FORWARD_LOOPS.values():
            with mock.patch.dict(config.GPU_OPTIONS, options):
                times.append(_median_seconds(bench.forward_once, seconds))
        plans = [plan for key, plan in gpu_lstm._persistent_plans.items() if key[1:4] == (B, H, 4)]
        theirs = _median_seconds(cudnn.forward_once, seconds)
        lines.append(f"| {size} | " + " | ".join(f"{t * 1e3:.3f}" for t in times)
                     + f" | {plans[0][:2] if plans else '?'} | {theirs * 1e3:.3f} | {theirs / min(times):.2f} |")
    defaults = {name: config.GPU_OPTIONS[name] for name in ("split_below", "persistent_below")}
    return f"Forward time loops (defaults: {defaults}), float32:\n\n" + "\n".join(lines)


def training_split_table(seconds):
    """Training-step times with the split steps (forward and recurrent backward) forced off and on."""
    from numlstm.kernels import config

    lines = ["| H x N x T | one thread per unit, ms | split steps, ms | ratio |", "| --- | ---: | ---: | ---: |"]
    for size in lstm_gpu.TRAINING:
        bench = lstm_gpu.NumlstmGpuTraining()
        bench.setup(size)
        times = []
        for split_below in (0, 2**62):
            with mock.patch.dict(config.GPU_OPTIONS, split_below=split_below, persistent_below=0):
                times.append(_median_seconds(bench.train_once, seconds))
        lines.append(f"| {size} | {times[0] * 1e3:.3f} | {times[1] * 1e3:.3f} | {times[0] / times[1]:.2f} |")
    return (f"Split steps in training (default: split below {config.GPU_OPTIONS['split_below']} threads), "
            "float32:\n\n" + "\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--skip-tests", action="store_true")
    args = parser.parse_args()
    if not args.skip_tests:
        tests = subprocess.run([sys.executable, "-m", "pytest", "-q", str(HERE.parent / "tests" / "gpu")],
                               cwd=HERE.parent)
        print(f"GPU tests exit status: {tests.returncode}", file=sys.stderr)
    print(compare(args.rounds, args.seconds))
    print()
    print(fastmath_table(args.seconds))
    print()
    print(forward_loops_table(args.seconds))
    print()
    print(training_split_table(args.seconds))


if __name__ == "__main__":
    main()
