"""Device selection: names, the environment variable, the context manager, and clear errors without a GPU."""

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
