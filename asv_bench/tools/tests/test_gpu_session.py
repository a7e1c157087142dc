"""asv_bench/tools/gpu_session.py runs end to end in the CUDA simulator, at tiny sizes, and from a checkout.

A GPU session is rare and short: a script that breaks on hardware wastes
it. Here the simulator stands in for the GPU and torch's CPU build for
cuDNN (``.cuda()`` is the identity), so every table is built, every launch
option it forces takes effect and every printed row has its numbers; the
timings themselves mean nothing.
"""

import pathlib
import re
import shutil
import subprocess
import sys
import time

import pytest

from numlstm import dispatch
from helpers.simulated_cublas import SimulatedCublas

in_simulator = pytest.mark.simulator(reason="a smoke test for the simulator")

TOOLS = pathlib.Path(__file__).resolve().parents[1]  # asv_bench/tools/
ROOT = TOOLS.parents[1]


def _once(function, seconds):
    start = time.perf_counter()
    function()
    return [time.perf_counter() - start]


@pytest.fixture
def gpu_session(monkeypatch):
    """gpu_session.py with the simulator as its GPU, torch's CPU build as cuDNN, a stand-in for libcublas,
    tiny sizes."""
    torch = pytest.importorskip("torch", reason="needs the torch extra: pip install -e '.[torch]'")
    from numlstm.kernels.cuda import cublas as cuda_cublas

    monkeypatch.syspath_prepend(str(TOOLS))
    import gpu_session
    from benchmarks import lstm_gpu

    monkeypatch.setattr(dispatch, "gpu_available", lambda: True)
    monkeypatch.setattr(torch.nn.Module, "cuda", lambda self: self)
    monkeypatch.setattr(torch.Tensor, "cuda", lambda self: self)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(gpu_session, "_environment", lambda: "the CUDA simulator")
    cublas = SimulatedCublas()
    monkeypatch.setattr(cuda_cublas, "_library", lambda: cublas)
    monkeypatch.setattr(cuda_cublas, "_address", cublas.address)
    monkeypatch.setattr(cuda_cublas, "usable", lambda: True)
    monkeypatch.setattr(lstm_gpu, "TRAINING", ["3x2x2"])
    monkeypatch.setattr(lstm_gpu, "INFERENCE", ["3x1x2"])
    monkeypatch.setattr(lstm_gpu, "FIT", ["3x2x2"])
    monkeypatch.setattr(lstm_gpu, "_FIT_STEPS", 1)
    monkeypatch.setattr(gpu_session, "timings", _once)
    monkeypatch.setattr(gpu_session, "LAUNCHES_TIMED", 2)
    monkeypatch.setattr(gpu_session, "ROWS_CHOICES", (1, 2))
    monkeypatch.setattr(gpu_session, "STEP_COUNTS", (1, 2, 3))
    # the same shape of column with 8 threads a block, not 128: the simulator runs a Python thread for each
    monkeypatch.setitem(gpu_session.TIME_LOOPS, "persistent, 4 units x 32 slices",
                        {**gpu_session.TIME_LOOPS["persistent, 4 units x 32 slices"], "persistent_slices": 2})
    monkeypatch.setattr(gpu_session, "PROFILED_CALLS", 2)
    monkeypatch.setattr(gpu_session, "HOST_CALLS", 2)
    monkeypatch.setattr(sys, "argv", ["gpu_session.py", "--skip-tests", "--rounds", "1", "--seconds", "0"])
    return gpu_session


def _expected_rows(time_loops):
    """(table, regex) of a row each table of gpu_session.py must print."""
    number = r"\d+\.\d+"
    loops = rf" {number} \|" * time_loops  # one cell per time loop
    return [
        # numlstm, cuDNN, the ratio, cuDNN without TF32 and its ratio (none beside a torch loop)
        ("cudnn", rf"cuDNN without TF32, ms \| ratio \|\n.*\n"
                  rf"\| training step \| 3x2x2 \| {number} \| {number} \| {number} \| {number} \| {number} \|\n"
                  rf"\| inference \| 3x1x2 \| {number} \| {number} \| {number} \| {number} \| {number} \|\n"
                  rf"\| fit epoch \(1 steps\) \| 3x2x2 \| {number} \| {number} \| {number} \| - \| - \|"),
        # calls each; numlstm, cuDNN and cuDNN without TF32; the two ratios
        ("interleaved", rf"\| 3x1x2 \| \d+ \| {number} \| {number} \| {number} \| {number} \| {number} \|"),
        # the time loops; their persistent plans; cuDNN; the ratio
        ("forward", rf"\| 3x1x2 \|{loops} \(\d+, \d+\)( / \(\d+, \d+\))* \| {number} \| {number} \|"),
        # Numba GEMMs, cuBLAS GEMMs, cuBLAS and GEMM steps, both on TF32; cuDNN; the ratio
        ("cublas", rf"\| training step \| 3x2x2 \| {number} \| {number} \| {number} \| {number} \| {number} \| "
                   rf"{number} \| {number} \|"),
        ("cublas", rf"\| inference \| 3x1x2 \| {number} \| {number} \| {number} \| {number} \| {number} \| "
                   rf"{number} \| {number} \|"),
        # the pool, numba-cuda's allocator, with frees held back; cuDNN; the ratio; then fit epochs
        ("deallocations", rf"Device memory: numlstm's pool.*\n\n.*\n.*\n\| training step \| 3x2x2 \| {number} \| "
                          rf"{number} \| {number} \| {number} \| {number} \|(.*\n)*?\| fit epoch \(1 steps\) \| 3x2x2 \| "
                          rf"{number} \| {number} \| {number} \| {number} \| {number} \|"),
        # staged uploads, ordinary uploads; torch; the ratio
        ("uploads", rf"\| LSTM, Dropout, Dense \| 3x2x2 \| {number} \| {number} \| {number} \| {number} \|"),
        # both GEMM block shapes (the first whole too), numlstm's cuBLAS call, torch.matmul, the ratio
        ("gemm", rf"\| 3x2x2, weight gradient \| 3 x 12 x 4 \| {number} \({number}\) \| {number} \({number}\) "
                 rf"\| {number} \({number}\) \| {number} \({number}\) \| {number} \({number}\) \| {number} \|"),
        ("gemm", rf"One kernel launch from Python through numba-cuda \(an empty copy_rows\): {number} us; "
                 rf"through cuda/launch.py's template: {number} us; "
                 rf"one 1 x 1 x 1 GEMM through numlstm's cuBLAS call: {number} us"),
        ("rows", rf"Rows per thread.*\n\n.*\n.*\n\| 3x2x2 \| {number} \| {number} \|"),
        # training steps: the loops, the backward plans, cuDNN, the ratio
        ("training", rf"Training-step time loops.*\n\n.*\n.*\n\| 3x2x2 \|{loops} \(\d+, \d+\)( / \(\d+, \d+\))* "
                     rf"\| {number} \| {number} \|"),
        ("fastmath", rf"\| True \| {number}e[-+]\d+ \| {number}e[-+]\d+ \| {number} \|"),  # fastmath on
        ("compile", rf"\| compiled, no cache \| {number} \| {number} \| {number} \|"),
        ("compile", rf"\| loaded from that cache \| {number} \| {number} \| {number} \|"),
        # numlstm and cuDNN at each step count, no barriers (the simulator's defaults run split steps); what a
        # step adds to each
        ("steps", rf"\| 3 \|( {number} \|){{6}}( - \|){{3}} -?{number}, -?{number}, - \|"),
        ("profile", rf"### training step 3x2x2, {{'persistent_below': \d+}}: {number} ms a call \(median\)\n\n"
                    r"Device, 2 calls:\n\n```\n"),  # empty: the kernels of the simulator are Python
        ("profile", rf"### inference 3x1x2, defaults: {number} ms a call.*\n\nDevice, 2 calls:\n\n```\n(.*\n)*?```\n\n"
                    r"Host Python, 2 calls:\n\n```\n +ncalls +tottime"),
        # the whole call, cuda/lstm.py's forward, its pieces replayed (its arrays among them), torch's call
        ("host", rf"### inference 3x1x2\n\n.*\n.*\n\| lstm_forward \(the benchmark's call\) \| {number} \|\n"
                 rf"\| cuda.lstm.forward alone \| {number} \|\n"
                 rf"\| in_context around nothing \(part of each piece below\) \| {number} \|\n"
                 rf"(.*\n)*?\| cuda.lstm.device_array \| {number} \|\n"
                 rf"(.*\n)*?\| torch.nn.LSTM on cuDNN \(its whole call\) \| {number} \|\n"
                 rf"\| the pieces above, added up \| {number} \|"),
    ]


# Two halves of the tables, each a test of its own: pytest -n 2 runs them side by side (all of them took 85 s
# in one test).
_TABLE_HALVES = (("cudnn", "interleaved", "forward", "cublas", "deallocations", "uploads"),
                 ("training", "fastmath", "rows", "gemm", "compile", "steps", "profile", "host"))


def test_the_halves_name_every_table_once(gpu_session):
    assert sorted(sum(_TABLE_HALVES, ())) == sorted(gpu_session.TABLES)
    assert {table for table, _ in _expected_rows(1)} == set(gpu_session.TABLES)


@pytest.mark.slow  # over 10 s in the simulator on two cores
@in_simulator
@pytest.mark.parametrize("tables", _TABLE_HALVES, ids=["first-half", "second-half"])
def test_gpu_session_prints_every_table(gpu_session, monkeypatch, capsys, tables):
    monkeypatch.setattr(sys, "argv", [*sys.argv, "--tables", ",".join(tables)])
    gpu_session.main()

    printed = capsys.readouterr().out
    print(printed)
    assert "Traceback" not in printed and "Failed" not in printed
    for table, row in _expected_rows(len(gpu_session.TIME_LOOPS)):
        if table in tables:
            assert re.search(row, printed), (table, row)


@in_simulator
def test_the_steps_table_times_bare_barriers_on_the_persistent_forward_s_grid(gpu_session, monkeypatch):
    from numlstm.kernels import options

    monkeypatch.setattr(options, "SIMULATOR_PRESET", options.SIMULATOR_PRESET.replace(persistent_below=10**9))
    table = gpu_session.steps_table(0)
    number = r"-?\d+\.\d+"
    assert re.search(rf"\| 3 \|( {number} \|){{9}} {number}, {number}, {number} \|", table), table


@in_simulator
def test_a_time_loop_failing_on_hardware_costs_only_its_own_cells(gpu_session, monkeypatch):
    from numlstm.kernels.cuda import plans as cuda_plans

    def rejected(*args):
        raise RuntimeError("cooperative launch too large")

    monkeypatch.setattr(cuda_plans, "persistent_plan", rejected)
    table = gpu_session.forward_loops_table(0)
    number = r"\d+\.\d+"
    persistent_loops = sum(name.startswith("persistent") for name in gpu_session.TIME_LOOPS)
    assert persistent_loops == 4
    assert re.search(rf"\| 3x1x2 \| {number} \| {number} \| {number} \|{' failed |' * persistent_loops} [^|]+ \| "
                     rf"{number} \| {number} \|", table), table
    assert "Failed: 3x1x2, persistent: RuntimeError: cooperative launch too large" in table


def test_an_uninstalled_checkout_is_assembled_into_an_importable_package(tmp_path):
    """Where numlstm is not installed (a lent GPU machine), the checkout's own numlstm/ lacks kernels/:
    the script assembles the package elsewhere and imports that."""
    code = f"""
import sys
# As if numlstm were not installed: no editable-install finder, the checkout's incomplete tree first.
sys.meta_path = [finder for finder in sys.meta_path if "editable" not in getattr(finder, "__module__", "")]
sys.path.insert(0, {str(TOOLS)!r})
import gpu_session
package = gpu_session.importable_checkout()
import numlstm, numlstm.kernels.cuda.lstm
assert package is not None and numlstm.__file__.startswith(str(package)), (package, numlstm.__file__)
print("assembled", package)
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "assembled" in done.stdout
    shutil.rmtree(done.stdout.split()[-1])


@in_simulator
def test_a_rerun_can_ask_for_some_tables(gpu_session, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["gpu_session.py", "--skip-tests", "--seconds", "0", "--tables", "fastmath"])
    gpu_session.main()
    printed = capsys.readouterr().out
    assert printed.startswith("fastmath at H x N x T") and "cuDNN" not in printed
    monkeypatch.setattr(sys, "argv", ["gpu_session.py", "--tables", "fastmath,nonsense"])
    with pytest.raises(SystemExit):
        gpu_session.main()
    assert "unknown tables ['nonsense']" in capsys.readouterr().err


@in_simulator
def test_gpu_tests_that_hang_are_stopped_and_the_tables_still_run(gpu_session, monkeypatch, capsys):
    """A kernel that hangs on hardware (a grid barrier some block never reaches) must not cost the session
    its measurements: the tests run in a child process with a time limit."""
    ran = []

    def hung(command, cwd, timeout):
        ran.append((command, timeout))
        return f"stopped after {timeout:g} s"

    monkeypatch.setattr(gpu_session, "_run_tests", hung)
    monkeypatch.setattr(sys, "argv", ["gpu_session.py", "--seconds", "0", "--tests-timeout", "5",
                                      "--tables", "fastmath"])
    gpu_session.main()
    captured = capsys.readouterr()
    (command, timeout), = ran
    assert timeout == 5 and command[-2:] == ["--ignore", str(ROOT / "tests" / "gpu" / "test_ptx.py")]
    assert "GPU tests exit status: stopped after 5 s" in captured.err
    assert captured.out.startswith("fastmath at H x N x T")


def test_stopped_tests_take_every_process_they_started_with_them(tmp_path):
    """xdist's workers are the tests' children: one waiting on a hung kernel would hold the GPU through the
    tables unless it is killed too."""
    sys.path.insert(0, str(TOOLS))
    import gpu_session

    pid_file = tmp_path / "worker.pid"
    tests = ("import pathlib, subprocess, sys, time; "
             "worker = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
             f"pathlib.Path({str(pid_file)!r}).write_text(str(worker.pid)); time.sleep(60)")
    assert gpu_session._run_tests([sys.executable, "-c", tests], tmp_path, 3) == "stopped after 3 s"
    worker = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while pathlib.Path(f"/proc/{worker}").exists() and "Z" not in _process_state(worker):
        assert time.monotonic() < deadline, "the tests' worker outlived them"
        time.sleep(0.1)
    assert gpu_session._run_tests([sys.executable, "-c", "raise SystemExit(3)"], tmp_path, 30) == 3


def _process_state(pid):
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


def test_gpu_tests_spread_over_workers_only_where_xdist_is_installed(monkeypatch):
    sys.path.insert(0, str(TOOLS))
    import gpu_session

    root = ROOT
    installed = {"xdist", "pytest_timeout"}
    monkeypatch.setattr(gpu_session.importlib.util, "find_spec", lambda name: name in installed or None)
    command = gpu_session._test_command(root, 12)
    assert command[command.index("-n") + 1] == "12"
    assert command[command.index("--timeout-method") + 1] == "thread"
    assert command[-3:] == [str(root / "tests" / "gpu"), "--ignore", str(root / "tests" / "gpu" / "test_ptx.py")]
    installed.clear()
    assert "-n" not in gpu_session._test_command(root, 12) and "--timeout" not in gpu_session._test_command(root, 12)
    installed.update({"xdist", "pytest_timeout"})
    assert "-n" not in gpu_session._test_command(root, 1)


def test_a_table_that_hangs_ends_its_process_with_its_stacks(tmp_path):
    """The watchdog of --table-timeout: the table's process exits with the stacks of its threads on stderr,
    the tables it finished printed and the hung one recorded as started."""
    progress = tmp_path / "started"
    code = f"""
import argparse, sys, time
sys.path.insert(0, {str(TOOLS)!r})
import gpu_session
gpu_session.TABLES = {{"quick": lambda args: "quick table", "hung": lambda args: time.sleep(60),
                       "never": lambda args: "never printed"}}
gpu_session._print_tables(["quick", "hung", "never"], argparse.Namespace(table_timeout=1, progress={str(progress)!r},
                                                                  cautious=False))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stdout == "quick table\n\n"
    assert "Timeout (0:00:01)!" in done.stderr and "in _print_tables" in done.stderr, done.stderr
    assert progress.read_text().split() == ["quick", "hung"]


def test_a_table_that_hangs_costs_only_itself(monkeypatch, capsys):
    """With --table-timeout, the tables run in a child; after a child ends mid-table, a new one takes up the
    tables after it. Here the children are simulated: the first hangs in "forward", the second in "gemm"
    (its last table), the third finishes."""
    sys.path.insert(0, str(TOOLS))
    import gpu_session

    children = []

    def child(command):
        children.append(command[command.index("--tables") + 1].split(","))
        progress = pathlib.Path(command[command.index("--progress") + 1])
        runs = {1: (["cudnn", "forward"], 1), 2: (["training", "cublas", "gemm"], 1), 3: (["rows"], 0)}
        started, status = runs[len(children)]
        with progress.open("a") as file:
            file.write("".join(f"{name}\n" for name in started))
        return subprocess.CompletedProcess(command, status)

    monkeypatch.setattr(gpu_session.subprocess, "run", child)
    monkeypatch.setattr(sys, "argv", ["gpu_session.py", "--skip-tests", "--table-timeout", "7",
                                      "--tables", "cudnn,forward,training,cublas,gemm,rows"])
    gpu_session.main()
    printed = capsys.readouterr().out
    assert children == [["cudnn", "forward", "training", "cublas", "gemm", "rows"],
                        ["training", "cublas", "gemm", "rows"], ["rows"]]
    assert "Table forward: no result" in printed and "Table gemm: no result" in printed
    assert "stopped after 7 s" in printed and "Table cudnn" not in printed


def test_a_tables_process_that_fails_at_once_is_not_restarted(monkeypatch, capsys):
    sys.path.insert(0, str(TOOLS))
    import gpu_session

    children = []
    monkeypatch.setattr(gpu_session.subprocess, "run",
                        lambda command: children.append(command) or subprocess.CompletedProcess(command, 1))
    monkeypatch.setattr(sys, "argv", ["gpu_session.py", "--skip-tests", "--table-timeout", "7"])
    gpu_session.main()
    assert len(children) == 1
    assert "failed (exit status 1) before its first table" in capsys.readouterr().out


def _session_module():
    sys.path.insert(0, str(TOOLS))
    import gpu_session

    return gpu_session


def test_a_table_failing_under_the_defaults_runs_again_cautiously(monkeypatch, capsys):
    """A default that only hardware rejects (here: the memory pool) must not cost the session the table's
    figures: its error is printed, then the table runs again with the untried defaults off."""
    import argparse

    from numlstm.kernels import options as kernel_options
    from numlstm.kernels.cuda import launch as cuda_launch

    gpu_session = _session_module()
    seen = []

    def table(args):
        memory_pool = kernel_options.gpu_options().memory.memory_pool
        seen.append((memory_pool, cuda_launch._FastLaunch.for_kernel(None, 1, 1, (), 0, 0)))
        if memory_pool:
            raise RuntimeError("CUDA_ERROR_ILLEGAL_ADDRESS")
        return "| the table |"

    monkeypatch.setitem(gpu_session.TABLES, "flaky", table)
    args = argparse.Namespace(progress=None, table_timeout=0, cautious=False)
    with kernel_options.overridden(memory_pool=True):  # the device's default, in the simulator too
        gpu_session._print_tables(["flaky"], args)
        pool_after = kernel_options.gpu_options().memory.memory_pool
    printed = capsys.readouterr().out
    assert "RuntimeError: CUDA_ERROR_ILLEGAL_ADDRESS" in printed
    assert printed.index("ILLEGAL_ADDRESS") < printed.index("Table flaky again, with") < printed.index("| the table |")
    assert seen[1] == (False, None) and pool_after  # the defaults are back afterwards


def test_after_a_failed_table_a_child_leaves_the_rest_to_fresh_processes(monkeypatch, tmp_path, capsys):
    """A CUDA error can leave the context unusable: the child that ran the failed table stops, a fresh one
    runs that table again cautiously, and another the tables after it; none is called lost."""
    import argparse

    gpu_session = _session_module()
    monkeypatch.setitem(gpu_session.TABLES, "broken", lambda args: 1 / 0)
    monkeypatch.setitem(gpu_session.TABLES, "after", lambda args: "| after |")
    progress = tmp_path / "started"
    progress.touch()
    child = argparse.Namespace(progress=str(progress), table_timeout=0, cautious=False)
    with pytest.raises(SystemExit) as stopped:
        gpu_session._print_tables(["broken", "after"], child)
    assert stopped.value.code == gpu_session._TABLE_FAILED
    printed = capsys.readouterr().out
    assert progress.read_text().split() == ["broken"] and "ZeroDivisionError" in printed and "again" not in printed

    children = []

    def run(command):
        tables = command[command.index("--tables") + 1].split(",")
        children.append((tables, "--cautious" in command))
        started = pathlib.Path(command[command.index("--progress") + 1])
        started.write_text(started.read_text() + tables[0] + "\n")
        return subprocess.CompletedProcess(command, gpu_session._TABLE_FAILED if len(children) == 1 else 0)

    monkeypatch.setattr(gpu_session.subprocess, "run", run)
    parent = argparse.Namespace(rounds=1, seconds=0.0, table_timeout=5)
    gpu_session._print_tables_in_children(["broken", "after"], parent)
    assert children == [(["broken", "after"], False), (["broken"], True), (["after"], False)]
    printed = capsys.readouterr().out
    assert "Table broken again, with" in printed and "no result" not in printed


@in_simulator
def test_a_gpu_ab_worker_times_each_case_when_told_and_stops_at_quit(gpu_session, monkeypatch):
    """gpu_ab.py's worker (one version, or cuDNN): ready once its cases are compiled, then one JSON line of
    {case: seconds} per "time" line, under the options given."""
    import io
    import json

    import gpu_ab
    from benchmarks import common
    from numlstm.kernels.cuda import plans as cuda_plans

    monkeypatch.setattr(common, "timings", _once)
    forced = []
    monkeypatch.setattr(cuda_plans, "persistent_plan",
                        lambda *args: forced.append(args) or cuda_plans.PersistentPlan(1, 0, 0))
    cases = ["infer:3x1x2", "train:3x2x2"]
    for label in ("work", gpu_ab.CUDNN):
        results = io.StringIO()
        gpu_ab.worker(label, cases, {"persistent_below": 10**9}, 0,
                      io.StringIO("time\ntime\nquit\ntime\n"), results)
        lines = [json.loads(line) for line in results.getvalue().splitlines()]
        assert lines[0] == {"ready": label}
        assert len(lines) == 3  # nothing after "quit"
        for measured in lines[1:]:
            assert set(measured) == set(cases) and all(value > 0 for value in measured.values())
    assert forced  # numlstm's worker ran under the options; cuDNN's ignores them
