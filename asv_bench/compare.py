"""numlstm beside torch.nn.LSTM and Keras 3 on JAX: the side-by-side table.

Runs the asv benchmark classes of ``benchmarks/lstm_cpu.py`` (or, with
``--family convlstm``, of ``benchmarks/convlstm_cpu.py``) outside asv,
each framework in its own process and in alternating rounds (numlstm, torch,
keras, numlstm, ...), because on a 2-core machine the frameworks' spinning
thread pools slow each other down inside one process. Prints a markdown
table of medians and ratios (best peer's time / numlstm's: above 1 means
numlstm is faster). For the LSTM, numlstm is timed twice: through the
functional API (``lstm_forward``/``lstm_backward``) and through a
``Sequential`` model (``model(x)``, ``compute_gradients``), the calls users
make. ``--family lstm-float64`` times the functional passes in float64 beside
torch's (Keras on JAX computes in float32 unless JAX's x64 mode is on).

    python asv_bench/compare.py --rounds 3 --seconds 2 > table.md

With ``--competitors 0 1 2`` it prints the contended table instead: each
framework timed quiet, then with one and with two CPU-bound competitor
processes beside it (``benchmarks/contended.py``), and each time as a
multiple of the framework's own quiet time.

Peak memory of a training step is the growth of the process's peak RSS over
its RSS before one step (Linux: /proc/self/clear_refs resets the peak), so
it leaves out what a framework had allocated before the step, and memory
that a framework's own allocator keeps cached between steps.
"""

import argparse
import json
import os
import pathlib
import platform
import re
import subprocess
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
# family: (benchmark module, framework -> benchmark class, sizes and flop count in benchmarks/common.py, dtype)
FAMILIES = {
    "lstm": ("lstm_cpu", {"numlstm": "NumlstmLSTM", "numlstm-sequential": "NumlstmSequentialLSTM",
                          "torch": "TorchLSTM", "keras-jax": "KerasJaxLSTM"},
             "SIZES", "train_step_flops", "float32"),
    # Keras on JAX computes in float32 unless JAX's x64 mode is switched on for the whole process: torch alone.
    "lstm-float64": ("lstm_cpu", {"numlstm": "NumlstmLSTMFloat64", "torch": "TorchLSTMFloat64"},
                     "SIZES", "train_step_flops", "float64"),
    "convlstm": ("convlstm_cpu", {"numlstm": "NumlstmConvLSTM", "torch": "TorchConvLSTM",
                                  "keras-jax": "KerasJaxConvLSTM"}, "CONVLSTM_SIZES", "convlstm_train_step_flops",
                 "float32"),
}
FRAMEWORKS = ("numlstm", "torch", "keras-jax")  # the contended table's


def _memory_kib(field):
    return int(re.search(rf"{field}:\s+(\d+)", pathlib.Path("/proc/self/status").read_text()).group(1))


def _cpu_name():
    return next((line.split(":", 1)[1].strip() for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")), platform.processor())


def _family(name):
    """(framework -> benchmark class, sizes, flop count) of one family."""
    import importlib

    sys.path.insert(0, str(HERE))
    module_name, classes, sizes, flops, _ = FAMILIES[name]
    module = importlib.import_module(f"benchmarks.{module_name}")
    common = importlib.import_module("benchmarks.common")
    return {fw: getattr(module, cls) for fw, cls in classes.items()}, getattr(common, sizes), getattr(common, flops)


def worker(framework, size, seconds, family="lstm"):
    """Timings, or with ``seconds`` = 0 the peak memory of one training step."""
    from benchmarks.common import timings

    bench = _family(family)[0][framework]()
    try:
        bench.setup(size)
    except NotImplementedError as exc:
        return {"skipped": str(exc)}
    if seconds == 0:
        pathlib.Path("/proc/self/clear_refs").write_text("5")
        before = _memory_kib("VmRSS")
        bench.time_train_step(size)
        return {"step_peak_mib": (_memory_kib("VmHWM") - before) / 1024}
    return {
        "forward": timings(lambda: bench.time_forward(size), seconds),
        "train_step": timings(lambda: bench.time_train_step(size), seconds),
    }


def sgemm_gflops():
    sys.path.insert(0, str(HERE))
    from benchmarks.lstm_cpu import GemmRate

    bench = GemmRate()
    bench.setup()
    return bench.track_sgemm_gflops()


def _run(*args, memory=False, family="lstm"):
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    if memory:
        # A fixed mmap threshold makes glibc return every large block to the
        # OS when it is freed, so that peak RSS tracks the arrays a step
        # allocates (by default glibc reuses freed heap pages). It slows every
        # framework's allocations, so timings never run with it.
        env["MALLOC_MMAP_THRESHOLD_"] = "65536"
    output = subprocess.run([sys.executable, __file__, "--family", family, *args], check=True, capture_output=True, text=True,
                            env=env)
    return json.loads(output.stdout.strip().splitlines()[-1])


def main(rounds, seconds, sizes, family="lstm"):
    _, SIZES, train_step_flops = _family(family)
    FRAMEWORKS = list(FAMILIES[family][1])
    ours = [fw for fw in FRAMEWORKS if fw.startswith("numlstm")]
    sizes = sizes or list(SIZES)
    samples = {(fw, size): [] for fw in FRAMEWORKS for size in sizes}
    gemm = []
    for round_ in range(rounds):
        gemm.append(_run("--sgemm", family=family))
        for size in sizes:
            for framework in FRAMEWORKS:
                print(f"round {round_ + 1}/{rounds}: {framework} {size}", file=sys.stderr, flush=True)
                samples[(framework, size)].append(_run("--worker", framework, size, str(seconds), family=family))
    memory = {(fw, size): _run("--worker", fw, size, "0", memory=True, family=family)
              for fw in FRAMEWORKS for size in sizes}

    def median_ms(fw, size, key):
        runs = [r for r in samples[(fw, size)] if "skipped" not in r]
        return None if not runs else 1e3 * float(np.median([np.median(r[key]) for r in runs]))

    def peak(fw, size):
        return memory[(fw, size)].get("step_peak_mib")

    os.environ.setdefault("KERAS_BACKEND", "jax")
    versions = {"python": platform.python_version()}
    for module in ("numpy", "numba", "torch", "jax", "keras"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            versions[module] = "absent"
    cpu = _cpu_name()
    print(f"Machine: {cpu}, {os.cpu_count()} cores; " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    dtype = FAMILIES[family][4]
    print(f"Medians over {rounds} alternating rounds of {seconds} s per measurement; {dtype}.\n")

    def fmt(value, digits=3):
        return "-" if value is None else f"{value:.{digits}f}"

    for key, title in (("train_step", "Training step (forward + backward), ms"), ("forward", "Forward, ms")):
        print(f"| {title} | " + " | ".join(FRAMEWORKS) + " | "
              + " | ".join(f"ratio (best peer / {fw})" for fw in ours) + " |")
        print("| --- |" + " ---: |" * (len(FRAMEWORKS) + len(ours)))
        for size in sizes:
            times = {fw: median_ms(fw, size, key) for fw in FRAMEWORKS}
            peers = [t for fw, t in times.items() if fw not in ours and t is not None]
            ratios = [min(peers) / times[fw] if peers else None for fw in ours]
            print(f"| {size} {SIZES[size]} | " + " | ".join(fmt(times[fw]) for fw in FRAMEWORKS) + " | "
                  + " | ".join(fmt(ratio, 2) for ratio in ratios) + " |")
        print()
    print("| Training-step peak memory over baseline, MiB | " + " | ".join(FRAMEWORKS) + " |")
    print("| --- |" + " ---: |" * len(FRAMEWORKS))
    for size in sizes:
        print(f"| {size} | " + " | ".join(fmt(peak(fw, size), 1) for fw in FRAMEWORKS) + " |")
    gemm_rate = float(np.median(gemm))
    print(f"\nnumpy sgemm 1024^3: {gemm_rate:.1f} GFLOP/s (median of {len(gemm)} runs).")
    if dtype != "float32":
        return
    for size in sizes:
        step = median_ms("numlstm", size, "train_step")
        rate = train_step_flops(size) / (step / 1e3) / 1e9
        torch_step = median_ms("torch", size, "train_step")
        torch_rate = "-" if torch_step is None else f"{train_step_flops(size) / (torch_step / 1e3) / 1e9 / gemm_rate:.0%}"
        print(f"- {size}: numlstm training step at {rate:.1f} GFLOP/s = {rate / gemm_rate:.0%} of sgemm (torch {torch_rate})")


def contended(rounds, seconds, sizes, loads):
    """Medians with ``load`` competitor processes running, for each load in turn, alternating frameworks."""
    sys.path.insert(0, str(HERE))
    from benchmarks.common import SIZES
    from benchmarks.contended import Competitors

    sizes = sizes or list(SIZES)
    frameworks = [fw for fw in FRAMEWORKS if "skipped" not in _run("--worker", fw, "tiny", "0.01")]
    samples = {(fw, size, load): [] for fw in frameworks for size in sizes for load in loads}
    for round_ in range(rounds):
        for load in loads:
            competitors = Competitors(load)
            try:
                for size in sizes:
                    for framework in frameworks:
                        print(f"round {round_ + 1}/{rounds}, {load} competitors: {framework} {size}", file=sys.stderr,
                              flush=True)
                        samples[(framework, size, load)].append(_run("--worker", framework, size, str(seconds)))
            finally:
                competitors.stop()

    def median_ms(fw, size, load, key):
        return 1e3 * float(np.median([np.median(r[key]) for r in samples[(fw, size, load)]]))

    cpu = _cpu_name()
    print(f"Machine: {cpu}, {os.cpu_count()} cores. Medians over {rounds} rounds of {seconds} s per measurement, "
          f"float32; competitors: CPU-bound processes (`while True: pass`) started beside each framework's process.\n")
    for key, title in (("train_step", "Training step"), ("forward", "Forward")):
        print(f"| {title}, ms (x own quiet time) | competitors | " + " | ".join(frameworks) + " |")
        print("| --- | ---: | " + " | ".join("---:" for _ in frameworks) + " |")
        for size in sizes:
            for load in loads:
                cells = []
                for fw in frameworks:
                    time_ms = median_ms(fw, size, load, key)
                    quiet = median_ms(fw, size, loads[0], key) if loads[0] == 0 else None
                    cells.append(f"{time_ms:.3f}" + (f" ({time_ms / quiet:.2f}x)" if quiet else ""))
                print(f"| {size} {SIZES[size]} | {load} | " + " | ".join(cells) + " |")
        print()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--sizes", nargs="*")
    parser.add_argument("--family", choices=list(FAMILIES), default="lstm",
                        help="the LSTM layer's table (default) or the ConvLSTM2D layer's")
    parser.add_argument("--competitors", nargs="+", type=int, metavar="N",
                        help="the contended table: each framework with N CPU-bound processes beside it, for each N")
    parser.add_argument("--worker", nargs=3, metavar=("FRAMEWORK", "SIZE", "SECONDS"), help=argparse.SUPPRESS)
    parser.add_argument("--sgemm", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], float(args.worker[2]), args.family)))
    elif args.sgemm:
        print(json.dumps(sgemm_gflops()))
    elif args.competitors:
        contended(args.rounds, args.seconds, args.sizes, args.competitors)
    else:
        main(args.rounds, args.seconds, args.sizes, args.family)
