"""Device selection: names, the environment variable, the context manager, and clear errors without a GPU."""

import importlib.util
import os
import subprocess
import sys
import threading
import types
import warnings

import numba
import numpy as np
import pytest

import numlstm
from numlstm import dispatch


@pytest.fixture(autouse=True)
def fresh_default(monkeypatch):
    monkeypatch.setattr(dispatch, "_default", None)
    monkeypatch.setattr(dispatch, "_warned", False)
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


@pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None,
                    reason="needs the cuda extra: pip install -e '.[cuda]'")
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
dispatch._no_nvidia_driver = lambda: False  # as on a machine with a driver
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
    assert "DeviceWarning: device 'auto' runs the LSTM passes on the CPU: this numba-cuda cannot" in done.stderr


def fake_cuda_stack(monkeypatch, available, stack_error=None):
    """Numba's ``numba.cuda`` as dispatch sees it: ``is_available`` answers ``available`` (or raises it, an
    exception), and importing numba.cuda.np.arrayobj raises ``stack_error`` (or succeeds). Returns the list
    of modules dispatch asked importlib for."""
    monkeypatch.setattr(numba.config, "ENABLE_CUDASIM", 0)
    monkeypatch.setattr(dispatch, "_no_nvidia_driver", lambda: False)  # as on a machine with a driver

    def is_available():
        if isinstance(available, BaseException):
            raise available
        return available

    cuda = types.ModuleType("numba.cuda")
    cuda.is_available = is_available
    monkeypatch.setattr(numba, "cuda", cuda, raising=False)  # what `from numba import cuda` finds
    monkeypatch.setitem(sys.modules, "numba.cuda", cuda)
    imported = []

    def import_module(name):
        imported.append(name)
        if stack_error is not None:
            raise stack_error
        return types.ModuleType(name)

    monkeypatch.setattr(dispatch, "importlib", types.SimpleNamespace(import_module=import_module))
    return imported


# What a half-installed CUDA stack raises as numba.cuda.np.arrayobj loads, and what asking for "cuda" then says.
HALF_INSTALLED = {
    "numba's own deprecated numba.cuda, no numba-cuda": (
        ModuleNotFoundError("No module named 'numba.cuda.np'"),
        r"numba-cuda is missing or incomplete \(ModuleNotFoundError: No module named 'numba.cuda.np'\).*"
        r"deprecated CUDA target.*pip install \"numlstm\[cuda\]\""),
    "numba-cuda 0.30 with numpy 2.5": (
        AttributeError("module 'numpy' has no attribute 'row_stack'"),
        r"cannot compile kernels with numpy .*has no attribute 'row_stack'.*pip install \"numpy<2.5\""),
    "a CUDA library that does not load": (
        ImportError("libnvvm.so: cannot open shared object file"),
        r"\(ImportError: libnvvm.so: cannot open shared object file\).*pip install \"numlstm\[cuda\]\""),
    "any other failure as it loads": (
        OSError("CUDA_ERROR_NO_BINARY_FOR_GPU"),
        r"CUDA stack fails to load \(OSError: CUDA_ERROR_NO_BINARY_FOR_GPU\).*pip install \"numlstm\[cuda\]\""),
}


@pytest.mark.parametrize("case", list(HALF_INSTALLED))
def test_a_gpu_the_cuda_stack_cannot_use_sends_auto_to_the_cpu_with_one_warning(monkeypatch, case):
    error, cause = HALF_INSTALLED[case]
    imported = fake_cuda_stack(monkeypatch, True, error)
    assert not dispatch.gpu_available()
    assert imported == ["numba.cuda.np.arrayobj"]
    with pytest.warns(dispatch.DeviceWarning, match="device 'auto' runs the LSTM passes on the CPU: .*" + cause):
        assert numlstm.current_device() == "cpu"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once is enough: no second warning, however "auto" is asked for again
        numlstm.set_device("auto")
        assert numlstm.current_device() == "cpu"
        with numlstm.device("auto") as resolved:
            assert resolved == "cpu"
    with pytest.raises(numlstm.DeviceError, match="device 'cuda' was requested but .*" + cause):
        numlstm.set_device("cuda")
    with pytest.raises(numlstm.DeviceError, match=cause):
        with numlstm.device("cuda"):
            pass


def test_an_lstm_pass_under_auto_runs_on_the_cpu_when_the_cuda_stack_is_half_installed(monkeypatch, rng):
    x, kernel, recurrent_kernel = rng.normal(size=(2, 3, 2)), rng.normal(size=(2, 16)), rng.normal(size=(4, 16))
    with numlstm.device("cpu"):
        expected = numlstm.lstm_forward(x, kernel, recurrent_kernel)[0]
    fake_cuda_stack(monkeypatch, True, ModuleNotFoundError("No module named 'numba.cuda.np'"))
    with pytest.warns(dispatch.DeviceWarning, match="numba-cuda is missing"):
        outputs, _, _, workspace = numlstm.lstm_forward(x, kernel, recurrent_kernel)
    assert isinstance(outputs, np.ndarray) and workspace._options["device"] == "cpu"
    np.testing.assert_array_equal(outputs, expected)


@pytest.mark.parametrize("available", [False, RuntimeError("cuInit failed: CUDA_ERROR_NO_DEVICE")],
                         ids=["no GPU", "a driver that fails"])
def test_no_gpu_at_all_is_silent_under_auto_and_named_under_cuda(monkeypatch, available):
    imported = fake_cuda_stack(monkeypatch, available, ModuleNotFoundError("never asked for"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not dispatch.gpu_available()
        assert numlstm.current_device() == "cpu"
        with numlstm.device("auto") as resolved:
            assert resolved == "cpu"
    assert imported == [], "without a GPU the CUDA stack is not loaded"
    with pytest.raises(numlstm.DeviceError, match=r"no usable CUDA GPU was found: .*pip install \"numlstm\[cuda\]\""):
        numlstm.set_device("cuda")


def test_a_gpu_with_a_whole_cuda_stack_is_what_auto_picks(monkeypatch):
    imported = fake_cuda_stack(monkeypatch, True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert dispatch.gpu_available()
        assert numlstm.current_device() == "cuda"
        numlstm.set_device("cuda")
    assert imported and set(imported) == {"numba.cuda.np.arrayobj"}


def test_without_an_nvidia_driver_numba_cuda_is_not_even_imported(monkeypatch):
    # A second of a first call where numba-cuda is installed: on Linux, no driver files mean no GPU.
    fake_cuda_stack(monkeypatch, True)
    asked = []
    monkeypatch.setattr(dispatch, "_no_nvidia_driver", lambda: asked.append(True) or True)
    monkeypatch.delitem(sys.modules, "numba.cuda")
    monkeypatch.delattr(numba, "cuda", raising=False)
    assert not dispatch.gpu_available()
    assert asked and "numba.cuda" not in sys.modules


@pytest.mark.parametrize("present, expected", [
    ((), True), (("/dev/nvidia0",), False), (("/proc/driver/nvidia",), False), (("/dev/dxg",), False)],
    ids=["nothing", "a device node", "a loaded driver", "WSL"])
def test_the_driver_check_reads_the_driver_files(monkeypatch, present, expected):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("NUMBA_CUDA_DRIVER", raising=False)
    monkeypatch.setattr(dispatch.os.path, "exists", lambda path: path in present)
    monkeypatch.setattr(dispatch.glob, "glob", lambda pattern: [p for p in present if p.startswith("/dev/nvidia")])
    assert dispatch._no_nvidia_driver() is expected
