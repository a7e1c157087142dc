"""Who runs the work, and how many: Numba's threads over blocks of rows, BLAS on one thread, a thread count
that follows the cores this process may use (affinity, cgroup quota, MPI ranks on the node), waits that end
in sleep."""

import json
import os
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest

import numlstm
from numlstm import threads
from numlstm.functional import _split


@pytest.fixture
def two_threads(monkeypatch):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2")
    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    previous = numba.get_num_threads()
    numba.set_num_threads(2)
    yield
    numba.set_num_threads(previous)


def test_batches_split_over_numba_threads(two_threads):
    assert _split(16, 100, 8, 64, 256) == (2, 2, 2)
    assert _split(2, 100, 8, 64, 256) == (2, 2, 2)


def test_a_single_sequence_loops_on_one_thread_and_splits_only_large_gemms(two_threads):
    assert _split(1, 100, 1, 32, 128) == (1, 1, 1)  # 0.4M multiply-adds: one thread
    assert _split(1, 100, 512, 512, 2048) == (2, 1, 2)
    assert _split(1, 1, 512, 512, 2048) == (1, 1, 1)  # a single row cannot be split
    assert _split(3, 100, 8, 64, 256) == (2, 2, 2)  # no more threads than the pool's


def test_thread_count_is_honoured(two_threads):
    numba.set_num_threads(1)
    assert _split(16, 100, 8, 64, 256) == (1, 1, 1)


def test_threads_follow_the_cores_and_the_ranks_on_the_node(two_threads, monkeypatch):
    monkeypatch.setattr(threads, "_node_ranks", 1)
    assert threads.compute_threads() == 2
    threads.share_node(2)
    assert threads.compute_threads() == 1
    threads.share_node(3)  # more ranks than cores: one thread each, never zero
    assert threads.compute_threads() == 1
    monkeypatch.setattr(threads, "available_cores", lambda: 1)
    threads.share_node(1)
    assert threads.compute_threads() == 1
    monkeypatch.setenv("NUMBA_NUM_THREADS", "2")  # the user's choice stands
    threads.share_node(2)
    assert threads.compute_threads() == 2
    with pytest.raises(ValueError, match="ranks must be a positive"):
        threads.share_node(0)


def test_numba_threads_sets_the_count_for_the_block_and_restores_it(two_threads):
    with threads.numba_threads(1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == 2
    with pytest.raises(RuntimeError), threads.numba_threads(1):
        raise RuntimeError("a failed pass")
    assert numba.get_num_threads() == 2
    with threads.numba_threads(numba.config.NUMBA_NUM_THREADS + 5):  # never more than the pool has
        assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS


def _cgroup_v2(root, path, limits):
    (root / "proc").mkdir(parents=True, exist_ok=True)
    (root / "proc" / "cgroup").write_text(f"0::{path}\n")
    folder = root / "fs"
    for part, limit in zip([""] + path.strip("/").split("/"), limits):
        folder = folder / part if part else folder
        folder.mkdir(parents=True, exist_ok=True)
        if limit is not None:
            (folder / "cpu.max").write_text(limit + "\n")
    return {"root": str(root / "fs"), "proc_cgroup": str(root / "proc" / "cgroup")}


def test_cgroup_v2_quota_is_the_smallest_on_the_path(tmp_path):
    paths = _cgroup_v2(tmp_path / "a", "/user.slice/job", [None, "max 100000", "150000 100000"])
    assert threads.cgroup_cpu_limit(**paths) == 1.5
    paths = _cgroup_v2(tmp_path / "b", "/user.slice/job", [None, "50000 100000", "max 100000"])
    assert threads.cgroup_cpu_limit(**paths) == 0.5
    paths = _cgroup_v2(tmp_path / "c", "/user.slice/job", [None, "max 100000", "max 100000"])
    assert threads.cgroup_cpu_limit(**paths) is None


def test_cgroup_v1_quota(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "cgroup").write_text("12:memory:/job\n4:cpu,cpuacct:/job\n")
    folder = tmp_path / "fs" / "cpu,cpuacct" / "job"
    folder.mkdir(parents=True)
    (folder / "cpu.cfs_quota_us").write_text("300000\n")
    (folder / "cpu.cfs_period_us").write_text("100000\n")
    paths = {"root": str(tmp_path / "fs"), "proc_cgroup": str(tmp_path / "proc" / "cgroup")}
    assert threads.cgroup_cpu_limit(**paths) == 3.0
    (folder / "cpu.cfs_quota_us").write_text("-1\n")
    assert threads.cgroup_cpu_limit(**paths) is None
    assert threads.cgroup_cpu_limit(root=str(tmp_path / "none"), proc_cgroup=str(tmp_path / "missing")) is None


def test_available_cores_takes_the_quota_rounded_up(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    for quota, cores in ((None, 4), (1.5, 2), (0.2, 1), (8.0, 4)):
        monkeypatch.setattr(threads, "cgroup_cpu_limit", lambda quota=quota: quota)
        threads.available_cores.cache_clear()
        assert threads.available_cores() == cores
    threads.available_cores.cache_clear()


def test_openmp_wait_defaults_leave_the_users_choice(monkeypatch):
    from numba.np.ufunc import parallel

    monkeypatch.setattr(parallel, "_is_initialized", False)
    environ = {}
    assert threads.set_openmp_wait_defaults(environ) == {"GOMP_SPINCOUNT": str(threads.OPENMP_SPIN_COUNT),
                                                         "KMP_BLOCKTIME": str(threads.OPENMP_BLOCK_TIME)}
    environ = {"GOMP_SPINCOUNT": "5"}
    assert threads.set_openmp_wait_defaults(environ) == {"KMP_BLOCKTIME": str(threads.OPENMP_BLOCK_TIME)}
    assert environ["GOMP_SPINCOUNT"] == "5"
    environ = {"OMP_WAIT_POLICY": "active"}
    assert threads.set_openmp_wait_defaults(environ) == {} and environ == {"OMP_WAIT_POLICY": "active"}
    monkeypatch.setattr(parallel, "_is_initialized", True)  # too late: the pool has read its environment
    assert threads.set_openmp_wait_defaults({}) == {}


_IDLE_AFTER_TRAINING = textwrap.dedent("""
    import json, os, resource, time
    import numpy as np
    import numlstm
    from numlstm import layers
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 30, 16)).astype(np.float32)
    y = rng.standard_normal((64, 200)).astype(np.float32)
    model = numlstm.Sequential([layers.Input((30, 16)), layers.LSTM(64), layers.Dense(256), layers.Dense(200)])
    model.compile("adam", "mse")
    model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    def cpu_seconds():
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    before = cpu_seconds()
    time.sleep(0.5)
    print(json.dumps({"idle_cpu_seconds": cpu_seconds() - before, "spin": os.environ.get("GOMP_SPINCOUNT"),
                      "threads": numlstm.threads.compute_threads()}))
""")


def test_no_thread_pool_spins_after_training():
    """After fit returns, the process sleeping for 0.5 s uses (almost) no CPU: Numba's pool has stopped
    spinning and no BLAS pool was woken (OpenBLAS's threads spin about 0.1 s after a threaded call)."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    completed = subprocess.run([sys.executable, "-c", _IDLE_AFTER_TRAINING], capture_output=True, text=True,
                               env=env, timeout=600, check=True)
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["spin"] == str(threads.OPENMP_SPIN_COUNT)
    assert result["idle_cpu_seconds"] < 0.02, result


def test_single_threaded_blas_puts_every_blas_on_one_thread_and_restores_it():
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()

    def blas_threads():
        return [info["num_threads"] for info in controller.select(user_api="blas").info()]

    with controller.limit(limits=2, user_api="blas"):  # whatever the machine's cores or environment say
        before = blas_threads()
        assert before and set(before) == {2}
        with threads.single_threaded_blas():
            assert blas_threads() == [1] * len(before)
            with threads.single_threaded_blas():
                assert blas_threads() == [1] * len(before)
            assert blas_threads() == [1] * len(before)
        assert blas_threads() == before
        with pytest.raises(RuntimeError), threads.single_threaded_blas():
            raise RuntimeError("a failed time loop")
        assert blas_threads() == before


def test_a_model_call_holds_blas_to_one_thread(monkeypatch):
    """Dense layers' numpy GEMMs run inside fit on one BLAS thread too, so no BLAS pool wakes."""
    from threadpoolctl import ThreadpoolController

    seen = []
    matmul = numlstm.backend.cpu.matmul

    def recording_matmul(*args, **kwargs):
        seen.append([info["num_threads"] for info in ThreadpoolController().select(user_api="blas").info()])
        return matmul(*args, **kwargs)

    monkeypatch.setattr(numlstm.backend.cpu, "matmul", recording_matmul)
    model = numlstm.Sequential([numlstm.layers.Input((4, 2)), numlstm.layers.LSTM(3), numlstm.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.ones((8, 4, 2), np.float32)
    with ThreadpoolController().limit(limits=2, user_api="blas"):
        model.fit(x, np.ones((8, 1), np.float32), epochs=1, verbose=0)
        model.predict(x)
    assert seen and all(counts == [1] * len(counts) for counts in seen), seen


@pytest.mark.parametrize("make_layer, shape", [
    (lambda: numlstm.layers.LSTM(3), (8, 4, 2)),
    (lambda: numlstm.layers.Bidirectional(numlstm.layers.LSTM(3)), (8, 4, 2)),
    (lambda: numlstm.layers.ConvLSTM1D(2, 3, padding="same"), (2, 3, 5, 2)),
], ids=["lstm", "bidirectional", "convlstm1d"])
def test_a_layer_called_alone_runs_its_passes_with_blas_on_one_thread(monkeypatch, make_layer, shape):
    """The recurrent layers call their passes without the functional API's context wrapper (a model holds the
    context already): ``Layer.__call__`` holds it for a layer called on its own."""
    from threadpoolctl import ThreadpoolController

    seen = []
    for module, name in ((numlstm.functional, "_split"), (numlstm.convlstm, "_row_split")):
        split = getattr(module, name)

        def recording_split(*args, _split=split):
            seen.append([info["num_threads"] for info in ThreadpoolController().select(user_api="blas").info()])
            return _split(*args)

        monkeypatch.setattr(module, name, recording_split)
    with ThreadpoolController().limit(limits=2, user_api="blas"):
        make_layer()(np.ones(shape, np.float32))
    assert seen and all(counts == [1] * len(counts) for counts in seen), seen
