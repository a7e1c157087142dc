"""Versions of numlstm timed side by side on one GPU, in one call: did a change make it faster?

    python asv_bench/tools/gpu_ab.py prepare d4df153 HEAD work          # here, before the call
    python asv_bench/tools/gpu_ab.py prepare HEAD 'HEAD{"persistent_units": 4}'   # a version under other options
    python asv_bench/tools/gpu_ab.py run [--cases infer:1024x1x25,train:256x64x150] [--rounds 3]
                                         [--seconds 0.3] [--options '{"split_below": 0}'] [--profile] > ab.md

``prepare`` assembles each version's package (``numlstm/`` with ``kernels/``
inside, as an install lays it out) under ``asv_bench/versions/<label>/``
from a git revision, or from the working tree for ``work``; the folder is
ignored by git, so the device call carries it (``carry:
["asv_bench/versions", ".whl"]``). A revision followed by a JSON object
runs under those GPU option overrides (``numlstm.kernels.options``) (label ``REV+1``,
``+2``, ... in order), beside the same code under its defaults. ``run``,
on the GPU machine, starts one process per version and one for cuDNN
(torch.nn.LSTM, the benchmarks' classes); they compile at the same time,
then take turns, ``--rounds``
times, each timing every case (median of synchronised calls over
``--seconds``) while the others wait: one machine, one process sequence,
medians over the rounds. With ``--profile`` each version also lists its
kernels' device time per call (torch.profiler). The table gives ms and each
version's ratio to the first. Sizes are the benchmarks' ``HxNxT``; the
benchmark harness (``benchmarks/lstm_gpu.py``) is this checkout's for every
version.

Two calls of gpu_session.py cannot be compared to a few percent (the
machines differ by up to 30%; see asv_bench/README.md): this can, for the kernels'
device times (``--profile``). The versions' wall times are less sure: on
an H200 two processes of the same code differed by up to 90 us of host
time a call (fourth GPU session).
"""

import argparse
import contextlib
import json
import pathlib
import shutil
import subprocess
import sys
import tarfile
import tempfile

HERE = pathlib.Path(__file__).resolve().parent  # asv_bench/tools/
ASV_BENCH = HERE.parent  # the suite's benchmarks/ package
ROOT = ASV_BENCH.parent
VERSIONS = ASV_BENCH / "versions"
DEFAULT_CASES = ["infer:512x1x25", "infer:512x4x25", "infer:1024x1x25", "infer:1024x4x25", "train:512x16x25",
                 "train:256x64x150"]
CUDNN = "cuDNN"
PROFILED_CALLS = 10


def assemble(source, destination):
    """``source``'s numlstm/ and kernels/ as an importable package under ``destination`` (kernels/ installs
    as numlstm.kernels, so a source tree does not import as it is)."""
    shutil.copytree(source / "numlstm", destination / "numlstm", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(source / "kernels", destination / "numlstm" / "kernels",
                    ignore=shutil.ignore_patterns("__pycache__"))


def prepare(revisions, root=ROOT, versions=VERSIONS):
    """Each revision's package under ``versions``/label (``work``: the working tree), and a manifest of
    (label, revision, commit, options); returns the manifest. A revision may end in a JSON object of
    options (``HEAD{"rows": 2}``)."""
    shutil.rmtree(versions, ignore_errors=True)
    versions.mkdir(parents=True)
    manifest = []
    variants = 0
    for given in revisions:
        revision, brace, options = given.partition("{")
        try:
            options = json.loads(brace + options) if brace else {}
        except json.JSONDecodeError as exc:
            raise SystemExit(f"{given}: the options after a revision must be a JSON object ({exc})") from exc
        label = revision.replace("/", "_").replace("~", "-").replace("^", "-")
        if options:
            variants += 1
            label += f"+{variants}"
        if revision == "work":
            commit = "working tree on " + _git(root, "rev-parse", "--short", "HEAD")
            assemble(root, versions / label)
        else:
            commit = _git(root, "rev-parse", "--short", revision)
            with tempfile.TemporaryDirectory() as scratch:
                archive = pathlib.Path(scratch) / "source.tar"
                _git(root, "archive", "--output", str(archive), commit, "numlstm", "kernels")
                with tarfile.open(archive) as tar:
                    tar.extractall(pathlib.Path(scratch) / "source", filter="data")
                assemble(pathlib.Path(scratch) / "source", versions / label)
        manifest.append({"label": label, "revision": revision, "commit": commit, "options": options})
    (versions / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def _git(root, *args):
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


def _benches(label, cases, options):
    """(case, bench, method) for each case, compiled and warmed up: numlstm's classes, or torch's for cuDNN."""
    from benchmarks import lstm_gpu

    names = {"train": ("Training", "train_once"), "infer": ("Inference", "forward_once")}
    prepared = []
    for case in cases:
        kind, size = case.split(":")
        suffix, method = names[kind]
        bench = getattr(lstm_gpu, ("TorchCudnn" if label == CUDNN else "NumlstmGpu") + suffix)()
        with _options(label, options):
            bench.setup(size)
            getattr(bench, method)()
        prepared.append((case, bench, method))
    return prepared


def _options(label, options):
    """``options`` patched into numlstm's GPU options while a version runs; nothing for cuDNN."""
    from unittest import mock

    if label == CUDNN or not options:
        return contextlib.nullcontext()
    try:
        from numlstm.kernels import options as kernel_options
    except ImportError:  # a revision from before kernels/options.py, whose options were a dict
        from numlstm.kernels import config

        return mock.patch.dict(config.GPU_OPTIONS, options)
    return kernel_options.overridden(**options)


def _kernel_times(run):
    """[(device us per call, launches per call, kernel name)] of ``run``, most time first."""
    from torch import profiler

    with profiler.profile(activities=[profiler.ProfilerActivity.CUDA]) as recorded:
        for _ in range(PROFILED_CALLS):
            run()
    rows = [(round(event.device_time_total / PROFILED_CALLS, 1), event.count / PROFILED_CALLS, event.key)
            for event in recorded.key_averages() if event.device_time_total > 0]
    return sorted(rows, reverse=True)[:8]


def worker(label, cases, options, seconds, commands=sys.stdin, results=sys.stdout):
    """Compile every case, say so, then at each "time" line on ``commands`` time them all and print one JSON
    line of {case: seconds}; at "profile", their kernels; at "quit" (or the end of input) return."""
    import numpy as np

    from benchmarks.common import timings

    prepared = _benches(label, cases, options)
    print(json.dumps({"ready": label}), file=results, flush=True)
    for command in commands:
        command = command.strip()
        if command == "time":
            measured = {}
            for case, bench, method in prepared:
                with _options(label, options):
                    measured[case] = float(np.median(timings(getattr(bench, method), seconds)))
            print(json.dumps(measured), file=results, flush=True)
        elif command == "profile":
            profiles = {}
            for case, bench, method in prepared:
                with _options(label, options):
                    profiles[case] = _kernel_times(getattr(bench, method))
            print(json.dumps(profiles), file=results, flush=True)
        else:
            return


def _worker_command(label, cases, options, seconds):
    return [sys.executable, str(pathlib.Path(__file__).resolve()), "worker", label, ",".join(cases),
            json.dumps(options), str(seconds)]


def drive(labels, cases, rounds, seconds, options, profile, command=_worker_command):
    """{label: {"times": {case: [seconds per round]}, "profiles": {case: rows}}}: the workers of ``labels``
    (each under ``options[label]``) started together, then timing in turns, ``rounds`` times; a worker that
    fails is reported and left out."""
    workers = {label: subprocess.Popen(command(label, cases, options.get(label, {}), seconds),
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for label in labels}
    results, failed = {}, {}

    def answer(label):
        line = workers[label].stdout.readline()
        if not line:
            failed[label] = f"exit status {workers[label].wait()}"
            return None
        return json.loads(line)

    for label in labels:
        if answer(label) is not None:
            results[label] = {"times": {case: [] for case in cases}, "profiles": {}}
    for _ in range(rounds):
        for label in list(results):
            workers[label].stdin.write("time\n")
            workers[label].stdin.flush()
            measured = answer(label)
            if measured is None:
                del results[label]
                continue
            for case, value in measured.items():
                results[label]["times"][case].append(value)
    if profile:
        for label in list(results):
            workers[label].stdin.write("profile\n")
            workers[label].stdin.flush()
            results[label]["profiles"] = answer(label) or {}
    for process in workers.values():
        if process.poll() is None:
            process.stdin.close()
            process.wait(timeout=60)
    return results, failed


def table(results, failed, cases, manifest):
    """The markdown report: ms per case and version (median over rounds), each version's ratio to the first,
    then any profiles and failures."""
    import statistics

    labels = list(results)
    if not labels:
        return "\n".join(f"Failed: {label}: {why}" for label, why in failed.items())
    lines = ["Versions: " + "; ".join(f"{entry['label']} = {entry['commit']}"
                                      + (f" with {json.dumps(entry['options'])}" if entry.get("options") else "")
                                      for entry in manifest), "",
             "| case | " + " | ".join(f"{label}, ms" for label in labels) + " | "
             + " | ".join(f"{label} / {labels[0]}" for label in labels[1:]) + " |",
             "| --- |" + " ---: |" * (2 * len(labels) - 1)]
    for case in cases:
        medians = [statistics.median(results[label]["times"][case]) for label in labels]
        lines.append(f"| {case} | " + " | ".join(f"{value * 1e3:.3f}" for value in medians) + " | "
                     + " | ".join(f"{value / medians[0]:.2f}" for value in medians[1:]) + " |")
    for label in labels:
        for case, rows in results[label]["profiles"].items():
            lines += ["", f"Kernels of {label}, {case} (device us per call, launches per call, kernel):", "```"]
            lines += [f"{us:10.1f} {count:5.1f}  {name[-110:]}" for us, count, name in rows]
            lines.append("```")
    lines += [f"\nFailed: {label}: {why}" for label, why in failed.items()]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    prepare_parser = commands.add_parser("prepare", help="assemble versions here, before the device call")
    prepare_parser.add_argument("revisions", nargs="+", help="git revisions, or work for the working tree")
    run_parser = commands.add_parser("run", help="time the prepared versions and cuDNN (on the GPU machine)")
    run_parser.add_argument("--cases", default=",".join(DEFAULT_CASES))
    run_parser.add_argument("--rounds", type=int, default=3)
    run_parser.add_argument("--seconds", type=float, default=0.3)
    run_parser.add_argument("--options", default="{}", help="GPU option overrides for every version, JSON")
    run_parser.add_argument("--profile", action="store_true")
    worker_parser = commands.add_parser("worker")
    for name in ("label", "cases", "options"):
        worker_parser.add_argument(name)
    worker_parser.add_argument("seconds", type=float)
    args = parser.parse_args(argv)
    if args.command == "prepare":
        for entry in prepare(args.revisions):
            print(f"{entry['label']}: {entry['commit']} -> {VERSIONS / entry['label']}")
        return
    sys.path.insert(0, str(ASV_BENCH))
    if args.command == "worker":
        if args.label != CUDNN:
            sys.path.insert(0, str(VERSIONS / args.label))
            import numlstm

            if not pathlib.Path(numlstm.__file__).is_relative_to(VERSIONS / args.label):
                raise SystemExit(f"numlstm imported from {numlstm.__file__}, not from version {args.label}")
        worker(args.label, args.cases.split(","), json.loads(args.options), args.seconds)
        return
    manifest = json.loads((VERSIONS / "manifest.json").read_text())
    cases = args.cases.split(",")
    labels = [entry["label"] for entry in manifest] + [CUDNN]
    shared = json.loads(args.options)
    options = {entry["label"]: {**shared, **entry.get("options", {})} for entry in manifest}
    results, failed = drive(labels, cases, args.rounds, args.seconds, options, args.profile)
    print(table(results, failed, cases, manifest + [{"label": CUDNN, "commit": "torch.nn.LSTM"}]))


if __name__ == "__main__":
    main()
