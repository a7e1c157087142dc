"""Device selection: names, the environment variable, the context manager, and clear errors without a GPU."""

import os
import subprocess
import sys
import threading

import numba
import pytest

import numlstm
from numlstm import dispatch


@pytest.fixture(autouse=True)
def fresh_default(monkeypatch):
    monkeypatch.setattr(dispatch, "_default", None)
    monkeypatch.delenv("NUMLSTM_DEVICE", raising=False)


no_gpu = pytest.mark.skipif(dispatch.gpu_available() or dispatch.simulator_enabled(),
                            reason="this machine has a GPU or runs the simulator")


def test_unknown_names_list_the_valid_ones(monkeypatch):
    with pytest.raises(ValueError, match="device must be one of auto, cpu, cuda, got 'tpu'"):
        numlstm.set_device("tpu")
    monkeypatch.setenv("NUMLSTM_DEVICE", "gpu")
    with pytest.raises(ValueError, match="NUMLSTM_DEVICE must be one of auto, cpu, cuda, got 'gpu'"):
        numlstm.current_device()


@no_gpu
def test_without_a_gpu_auto_is_the_cpu_and_cuda_says_what_to_do(monkeypatch):
    assert numlstm.current_device() == "cpu"
    numlstm.set_device("auto")
    assert numlstm.current_device() == "cpu"
    with pytest.raises(numlstm.DeviceError, match=r'pip install "numlstm\[cuda\]".*numba -s'):
        numlstm.set_device("cuda")
    with pytest.raises(numlstm.DeviceError):
        with numlstm.device("cuda"):
            pass
    monkeypatch.setattr(dispatch, "_default", None)  # as in a fresh process
    monkeypatch.setenv("NUMLSTM_DEVICE", "cuda")
    with pytest.raises(numlstm.DeviceError):
        numlstm.current_device()


def test_environment_variable_and_nested_blocks(monkeypatch):
    monkeypatch.setenv("NUMLSTM_DEVICE", "cpu")
    assert numlstm.current_device() == "cpu"
    monkeypatch.setattr(dispatch, "gpu_available", lambda: True)  # pretend, to exercise the stack
    with numlstm.device("cuda"):
        assert numlstm.current_device() == "cuda"
        with numlstm.device("cpu"):
            assert numlstm.current_device() == "cpu"
        assert numlstm.current_device() == "cuda"
        seen = []
        thread = threading.Thread(target=lambda: seen.append(numlstm.current_device()))
        thread.start()
        thread.join()
        assert seen == ["cpu"], "a block applies to its own thread only"
    assert numlstm.current_device() == "cpu"


def test_auto_never_picks_the_simulator(monkeypatch):
    monkeypatch.setattr(numba.config, "ENABLE_CUDASIM", 1)
    assert not dispatch.gpu_available()
    numlstm.set_device("auto")
    assert numlstm.current_device() == "cpu"
    numlstm.set_device("cuda")  # asked for by name, the simulator is allowed (tests)
    assert numlstm.current_device() == "cuda"


def test_a_numpy_that_numba_cuda_cannot_compile_with_is_named(tmp_path):
    """numba-cuda 0.30 names np.row_stack, which numpy 2.5 removed: on a GPU every kernel then failed to
    compile with an AttributeError deep in numba's typing. Asking for "cuda" says so instead, and "auto"
    stays on the CPU. Here, in a fresh process, numpy loses row_stack and Numba is told a GPU is there."""
    code = """
import numpy, numba.cuda
del numpy.row_stack
numba.cuda.is_available = lambda: True
import numlstm
from numlstm import dispatch
assert not dispatch.gpu_available()
numlstm.set_device("auto")
assert numlstm.current_device() == "cpu"
try:
    numlstm.set_device("cuda")
except numlstm.DeviceError as exc:
    print(exc)
"""
    env = {name: value for name, value in os.environ.items() if name != "NUMBA_ENABLE_CUDASIM"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "device 'cuda' was requested but this numba-cuda cannot compile kernels with numpy" in done.stdout
    assert "has no attribute 'row_stack'" in done.stdout and 'pip install "numpy<2.5"' in done.stdout
