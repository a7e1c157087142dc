"""Where a numlstm CPU training step spends its time, size by size, against its arithmetic floor.

Times one float32 ``lstm_forward`` + ``lstm_backward(input_gradient=False)``
at each size of ``benchmarks/common.py`` and splits it into the kernel
entry points (each call timed from Python, so a part includes its own
dispatch, about a microsecond), and the rest: the Python of the two calls,
their allocations and thread settings. The floor is the step's
multiply-adds at the rate of numpy's sgemm measured in the same run (the
GEMM rate a perfect implementation would sustain).

    python asv_bench/cpu_profile.py [--seconds 1] [--sizes tiny small]
"""

import argparse
import collections
import contextlib
import pathlib
import platform
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchmarks.common import SIZES, lstm_inputs, train_step_flops  # noqa: E402
from benchmarks.lstm_cpu import GemmRate  # noqa: E402

PARTS = {"input_projection": "input projection", "forward_loop": "forward loop",
         "backward_loop": "backward loop", "weight_gradients": "weight gradients"}


@contextlib.contextmanager
def timed_kernels(spent):
    """Wrap the entry points of ``numlstm.kernels.cpu.lstm`` and the packing so that each call adds its
    seconds to ``spent[part]``."""
    from numlstm import functional
    from numlstm.kernels.cpu import lstm

    def timer(function, part):
        def timed(*args):
            start = time.perf_counter()
            result = function(*args)
            spent[part] += time.perf_counter() - start
            return result
        return timed

    saved = {name: getattr(lstm, name) for name in PARTS}
    pack = functional.pack_panels
    try:
        for name, part in PARTS.items():
            setattr(lstm, name, timer(saved[name], part))
        functional.pack_panels = timer(pack, "weight packing")
        yield
    finally:
        for name in PARTS:
            setattr(lstm, name, saved[name])
        functional.pack_panels = pack


def profile(size, seconds):
    import numlstm

    inputs = lstm_inputs(size)
    weights = {k: inputs[k] for k in ("x", "kernel", "recurrent_kernel", "bias")}

    def step():
        _, _, _, workspace = numlstm.lstm_forward(**weights, check_finite=False, final_states=False)
        numlstm.lstm_backward(workspace, inputs["d_outputs"], input_gradient=False)

    for _ in range(3):
        step()
    spent = collections.defaultdict(float)
    calls = 0
    with timed_kernels(spent):
        deadline = time.perf_counter() + seconds
        start = time.perf_counter()
        while time.perf_counter() < deadline or calls < 5:
            step()
            calls += 1
        total = time.perf_counter() - start
    parts = {part: spent[part] / calls for part in list(PARTS.values()) + ["weight packing"]}
    parts["Python and allocation"] = total / calls - sum(parts.values())
    return total / calls, parts


def main(seconds, sizes):
    gemm = GemmRate()
    gemm.setup()
    rate = gemm.track_sgemm_gflops() * 1e9
    cpu = next((line.split(":", 1)[1].strip() for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    print(f"Machine: {cpu}; numpy sgemm 1024^3 {rate / 1e9:.1f} GFLOP/s in this run; float32; "
          "means over the calls of each size.\n")
    columns = list(PARTS.values()) + ["weight packing", "Python and allocation"]
    print("| training step, us | " + " | ".join(columns) + " | total | floor at sgemm rate | floor / total |")
    print("| --- |" + " ---: |" * (len(columns) + 3))
    for size in sizes:
        total, parts = profile(size, seconds)
        floor = train_step_flops(size) / rate
        print(f"| {size} {SIZES[size]} | " + " | ".join(f"{1e6 * parts[c]:.1f}" for c in columns)
              + f" | {1e6 * total:.1f} | {1e6 * floor:.1f} | {floor / total:.0%} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="timing budget per size")
    parser.add_argument("--sizes", nargs="*", default=list(SIZES), choices=list(SIZES))
    arguments = parser.parse_args()
    main(arguments.seconds, arguments.sizes)
