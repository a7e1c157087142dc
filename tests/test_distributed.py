"""Data-parallel training over MPI: equivalence with one process, identical ranks, failures that end the job.

Each test runs ``tests/mpi/worker.py`` under ``mpiexec -n 2`` with a
timeout, so that a hang fails. Marked ``mpi``: skipped without mpi4py and mpiexec, an error
instead with NUMLSTM_REQUIRE_MPI=1 (set in CI; tests/conftest.py).
"""

import os
import re
import subprocess
import sys
import pathlib

import numpy as np
import pytest

import numlstm

WORKER = pathlib.Path(__file__).parent / "mpi" / "worker.py"


def run(mode, out=None, ranks=2, env=None, timeout=180):
    command = [sys.executable, str(WORKER), mode] + ([str(out)] if out else [])
    if ranks:
        command = ["mpiexec", "-n", str(ranks)] + command
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "NUMBA_NUM_THREADS": "1", **(env or {})})


@pytest.mark.mpi
def test_two_ranks_train_the_model_one_process_trains(tmp_path):
    single, double = tmp_path / "single", tmp_path / "double"
    single.mkdir()
    double.mkdir()
    plain = run("train", single, ranks=None)  # the same script without mpiexec
    assert plain.returncode == 0, plain.stderr
    completed = run("train", double)
    assert completed.returncode == 0, completed.stderr
    one = np.load(single / "final_rank0.npz")
    assert one["plain_floats"], "the logs and the evaluation hold Python floats, as Keras'"
    for rank in (0, 1):
        two = np.load(double / f"final_rank{rank}.npz")
        for key in one.files:
            np.testing.assert_allclose(two[key], one[key], rtol=1e-10, atol=1e-12, err_msg=f"rank {rank}: {key}")
    epochs = len(one["loss"])
    for epoch in range(epochs):
        first, second = (np.load(double / f"rank{rank}_epoch{epoch}.npy") for rank in (0, 1))
        np.testing.assert_array_equal(first, second, err_msg=f"ranks differ after epoch {epoch}")
    # Rank 0 alone wrote the log (one header, one row per epoch) and the checkpoint.
    assert (double / "log.csv").read_text().count("\n") == epochs + 1
    logs = [np.loadtxt(folder / "log.csv", delimiter=",", skiprows=1) for folder in (single, double)]
    np.testing.assert_allclose(logs[1], logs[0], rtol=1e-10)
    assert (double / "best.numlstm").exists()


def _two_ranks_match_one_process(mode, tmp_path):
    """Runs ``mode`` plainly and under mpiexec -n 2; every rank's results equal the plain run's, which it returns."""
    single, double = tmp_path / "single", tmp_path / "double"
    single.mkdir()
    double.mkdir()
    for folder, ranks in ((single, None), (double, 2)):
        completed = run(mode, folder, ranks=ranks)
        assert completed.returncode == 0, completed.stderr
    one = np.load(single / "final_rank0.npz")
    for rank in (0, 1):
        two = np.load(double / f"final_rank{rank}.npz")
        for key in one.files:
            np.testing.assert_allclose(two[key], one[key], rtol=1e-10, atol=1e-12, err_msg=f"rank {rank}: {key}")
    return one


@pytest.mark.mpi
def test_two_ranks_train_a_functional_model_as_one_process(tmp_path):
    one = _two_ranks_match_one_process("functional", tmp_path)
    assert {"value_loss", "label_loss", "value_mae", "label_accuracy", "val_label_accuracy"} <= set(one.files)


@pytest.mark.mpi
def test_two_ranks_train_a_convlstm_model_as_one_process(tmp_path):
    one = _two_ranks_match_one_process("convlstm", tmp_path)
    assert one["prediction"].shape == (20, 6, 6, 1) and len(one["loss"]) == 2


@pytest.mark.mpi
@pytest.mark.slow
def test_ranks_on_the_gpu_path_train_like_one_cpu_process(tmp_path):
    """Each rank's model on device("cuda") (here the CUDA simulator): gradients and weights cross MPI through
    the host, and the result is the one-process CPU run's."""
    single, double = tmp_path / "single", tmp_path / "double"
    single.mkdir()
    double.mkdir()
    plain = run("small", single, ranks=None)
    assert plain.returncode == 0, plain.stderr
    on_gpu = run("small", double, env={"NUMBA_ENABLE_CUDASIM": "1", "NUMLSTM_DEVICE": "cuda"}, timeout=300)
    assert on_gpu.returncode == 0, on_gpu.stderr
    one = np.load(single / "final_rank0.npz")
    assert not one["on_device"]
    for rank in (0, 1):
        two = np.load(double / f"final_rank{rank}.npz")
        assert two["on_device"], "the model did not run on the GPU path"
        for key in set(one.files) - {"on_device"}:
            np.testing.assert_allclose(two[key], one[key], rtol=1e-9, atol=1e-11, err_msg=f"rank {rank}: {key}")


@pytest.mark.mpi
@pytest.mark.parametrize("mode,message", [
    ("fail-in-fit", "RuntimeError: boom from rank 1"),
    ("fail-outside-fit", "RuntimeError: outside fit, rank 1"),
    ("stateful", "stateful layers (lstm, backward_lstm) cannot train data-parallel"),
])
def test_an_error_on_one_rank_ends_the_job_with_its_message(mode, message):
    completed = run(mode, timeout=120)  # a hang would raise TimeoutExpired
    assert completed.returncode != 0
    assert message in completed.stderr


@pytest.mark.mpi
@pytest.mark.slow
def test_a_restarted_job_resumes_from_its_backup(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "crashed").mkdir()
    assert run("resume", tmp_path / "full").returncode == 0
    crashed = run("resume", tmp_path / "crashed", env={"CRASH_AT_EPOCH": "1"})
    assert crashed.returncode != 0 and "simulated crash" in crashed.stderr
    assert (tmp_path / "crashed" / "backup" / "backup.numlstm").exists()
    restarted = run("resume", tmp_path / "crashed")
    assert restarted.returncode == 0, restarted.stderr
    full, resumed = np.load(tmp_path / "full" / "resumed.npz"), np.load(tmp_path / "crashed" / "resumed.npz")
    for key in full.files:
        np.testing.assert_array_equal(resumed[key], full[key])


def test_distribute_must_be_a_strategy():
    model = numlstm.Sequential([numlstm.layers.Input((3, 2)), numlstm.layers.LSTM(2)])
    model.compile("sgd", "mse")
    with pytest.raises(TypeError, match="distribute must be a numlstm.distributed.MPIStrategy"):
        model.fit(np.zeros((4, 3, 2)), np.zeros((4, 2)), distribute="mpi", verbose=0)


@pytest.mark.parametrize("local_rank,gpus,expected", [(0, 4, 0), (5, 4, 1), (3, 1, 0)])
def test_ranks_on_a_node_take_its_gpus_in_turn(monkeypatch, local_rank, gpus, expected):
    """Local rank modulo the node's GPU count; with one visible GPU (CUDA_VISIBLE_DEVICES per rank) nothing
    is switched."""
    from numba import cuda

    from numlstm import dispatch
    from numlstm.distributed import MPIStrategy

    selected = []
    monkeypatch.setattr(dispatch, "gpu_available", lambda: True)
    monkeypatch.setattr(cuda, "gpus", [object()] * gpus, raising=False)
    monkeypatch.setattr(cuda, "select_device", selected.append, raising=False)
    assert MPIStrategy._select_gpu(local_rank) == expected
    assert selected == ([expected] if gpus > 1 else [])


def test_without_a_gpu_a_rank_has_none(monkeypatch):
    from numlstm import dispatch
    from numlstm.distributed import MPIStrategy

    monkeypatch.setattr(dispatch, "gpu_available", lambda: False)
    assert MPIStrategy._select_gpu(2) is None


@pytest.mark.mpi
def test_ranks_on_one_node_share_its_cores():
    """Without thread variables, two ranks on this node each compute on half its cores (at least one
    thread); NUMBA_NUM_THREADS, where set, stands."""
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_NUM_THREADS"}
    command = ["mpiexec", "-n", "2", sys.executable, str(WORKER), "threads"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=180, env=env)
    assert completed.returncode == 0, completed.stderr
    cores = numlstm.threads.available_cores()
    # mpiexec may forward the two ranks' lines interleaved on one line (seen in CI): match the reports, not lines
    lines = sorted(re.findall(r"rank \d+: local_ranks \d+ threads \d+ cores \d+", completed.stdout))
    assert lines == [f"rank {rank}: local_ranks 2 threads {max(1, cores // 2)} cores {cores}" for rank in (0, 1)]
    completed = run("threads")  # run() sets NUMBA_NUM_THREADS=1
    assert completed.returncode == 0, completed.stderr
    assert "local_ranks 2 threads 1 " in completed.stdout
