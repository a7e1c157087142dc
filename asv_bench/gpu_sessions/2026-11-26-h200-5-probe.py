"""The record of the third GPU session's call (5), an A/B probe; not a tool of the repository.

It ran as ``probe/probe.py`` beside ``probe/{old,head,new,nogroup}/numlstm``, each an assembled package
(numlstm/ with kernels/ inside) of one version: d4df153, 296b145, the working tree that became 0c02da6, and
that tree with the split backward's two-round sum undone. ``python3 probe/probe.py drive`` compiles each
version's cases in its own process, side by side, then times them one process after another; its
output is ``2026-11-26-h200-5-probe.jsonl``.
"""
import json
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
TURN = pathlib.Path("/tmp/probe_turn")
OFF = {"split_below": 0, "persistent_below": 0, "gemm_steps_from": 2**62}
SPLIT = {**OFF, "split_below": 2**62}
CUBLAS_PROJ = {"persistent_projection_below": 0}

TRAIN = [("train", "512x16x25", SPLIT, True), ("train", "256x64x150", {}, True), ("train", "1024x16x25", SPLIT, False)]
INFER = ["512x1x1", "512x1x25", "512x4x25", "1024x1x1", "1024x1x25", "1024x4x25"]
CASES = {
    "old": TRAIN + [("infer", s, {}, s == "1024x1x25") for s in ("512x1x1", "1024x1x1", "1024x1x25")],
    "head": TRAIN + [("infer", s, CUBLAS_PROJ, s in ("1024x1x1", "1024x1x25")) for s in INFER]
    + [("infer", "1024x1x1", {}, True)],
    "new": TRAIN + [("train", "512x16x25", {}, True)]
    + [("infer", s, CUBLAS_PROJ, s in ("1024x1x1", "1024x1x25")) for s in INFER]
    + [("cudnn-infer", s, {}, s == "1024x1x1") for s in INFER] + [("cudnn-train", "256x64x150", {}, False)],
    "nogroup": TRAIN,
}


def worker(label):
    sys.path.insert(0, str(ROOT / "probe" / label))
    sys.path.insert(0, str(ROOT / "asv_bench"))
    from unittest import mock

    import numpy as np
    import torch
    from torch import profiler

    from benchmarks import lstm_gpu
    from compare import timings
    from numba import cuda

    import numlstm
    from numlstm.kernels import config

    assert str(ROOT / "probe" / label) in numlstm.__file__, numlstm.__file__
    classes = {"train": (lstm_gpu.NumlstmGpuTraining, "train_once"),
               "infer": (lstm_gpu.NumlstmGpuInference, "forward_once"),
               "cudnn-train": (lstm_gpu.TorchCudnnTraining, "train_once"),
               "cudnn-infer": (lstm_gpu.TorchCudnnInference, "forward_once")}
    ready = []
    for kind, size, options, profile in CASES[label]:
        try:
            with mock.patch.dict(config.GPU_OPTIONS, options):
                cls, method = classes[kind]
                bench = cls()
                bench.setup(size)
                getattr(bench, method)()
            ready.append((kind, size, options, profile, bench, method))
        except Exception as exc:
            print(json.dumps({"label": label, "case": [kind, size, options], "setup error": repr(exc)[:300]}),
                  flush=True)
    (pathlib.Path("/tmp") / f"probe_ready_{label}").write_text("1")
    while not (TURN.exists() and TURN.read_text() == label):
        time.sleep(0.05)
    for kind, size, options, profile, bench, method in ready:
        result = {"label": label, "kind": kind, "size": size, "options": options}
        try:
            with mock.patch.dict(config.GPU_OPTIONS, options):
                run = getattr(bench, method)
                result["ms"] = round(float(np.median(timings(run, 0.4))) * 1e3, 4)
                if kind == "infer":
                    enqueue = []
                    for _ in range(200):
                        start = time.perf_counter()
                        bench._forward()
                        enqueue.append(time.perf_counter() - start)
                        cuda.synchronize()
                    result["enqueue_us"] = round(float(np.median(enqueue)) * 1e6, 1)
                if profile:
                    with profiler.profile(activities=[profiler.ProfilerActivity.CPU,
                                                      profiler.ProfilerActivity.CUDA]) as recorded:
                        for _ in range(10):
                            run()
                    rows = []
                    for event in recorded.key_averages():
                        device = getattr(event, "device_time_total", 0) or 0
                        if device > 0:
                            rows.append((round(device / 10, 1), event.count // 10, event.key[-70:]))
                    result["kernels_us_per_call"] = sorted(rows, reverse=True)[:8]
        except Exception as exc:
            result["error"] = repr(exc)[:300]
        print(json.dumps(result), flush=True)
    (pathlib.Path("/tmp") / f"probe_done_{label}").write_text("1")


def drive():
    for path in pathlib.Path("/tmp").glob("probe_*"):
        path.unlink()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    workers = {label: subprocess.Popen([sys.executable, __file__, "worker", label], env=env) for label in CASES}
    deadline = time.time() + 330
    for label in CASES:
        while not (pathlib.Path("/tmp") / f"probe_ready_{label}").exists() and workers[label].poll() is None \
                and time.time() < deadline:
            time.sleep(0.1)
    print(f"# compiled in {time.time() - deadline + 330:.0f} s", flush=True)
    for label in ["new", "head", "old", "nogroup", "new"][:4]:
        TURN.write_text(label)
        while not (pathlib.Path("/tmp") / f"probe_done_{label}").exists() and workers[label].poll() is None \
                and time.time() < deadline + 120:
            time.sleep(0.1)
    for process in workers.values():
        process.kill()


if __name__ == "__main__":
    worker(sys.argv[2]) if sys.argv[1] == "worker" else drive()
