"""Which device runs the LSTM kernels: ``"cpu"``, ``"cuda"`` or ``"auto"``.

::

    numlstm.set_device("cuda")        # for the rest of the program
    with numlstm.device("cpu"):       # for a block
        model.fit(x, y)
    NUMLSTM_DEVICE=cuda python train.py

``"auto"`` (the default) picks CUDA only when a real GPU is usable, never
Numba's CUDA simulator; when Numba sees a GPU that the CUDA stack installed
here cannot use (numba-cuda missing, or a numpy it cannot compile with), it
warns once (:class:`DeviceWarning`) and runs on the CPU. Asking for
``"cuda"`` without a usable GPU raises :class:`DeviceError` with what to
install and how to check. With ``NUMBA_ENABLE_CUDASIM=1`` (set before
numba is imported) ``"cuda"`` runs the GPU kernels in the simulator: slow,
for tests only.

Two places ask this module: ``numlstm.functional`` (where an LSTM pass on
host arrays runs) and ``Sequential`` (where it keeps its weights). Layers,
losses and optimizers compute through ``numlstm.backend``, which follows
the data, so they do not know which device runs.
"""

import contextlib
import glob
import importlib
import os
import sys
import threading
import warnings

import numba

DEVICES = ("auto", "cpu", "cuda")
_INSTALL_HINT = ('install the CUDA extra (pip install "numlstm[cuda]") on a machine with an NVIDIA GPU and driver, '
                 "and check what Numba sees with `numba -s` (section __CUDA Information__)")


class _ThreadState(threading.local):
    # A class attribute, so that a thread that never entered a ``device`` block reads None without the
    # AttributeError that ``getattr(local, name, None)`` raises and catches (1 us of every pass).
    stack = None  # this thread's stack of ``device`` blocks


_state = _ThreadState()
_default = None
_warned = False  # "auto" has warned that it fell back to the CPU from a GPU it cannot use


class DeviceError(RuntimeError):
    """The requested device cannot run here."""


class DeviceWarning(UserWarning):
    """``"auto"`` saw a CUDA GPU that the CUDA stack installed here cannot use, and runs on the CPU."""


def simulator_enabled():
    """True when Numba's CUDA simulator is on (``NUMBA_ENABLE_CUDASIM=1``), which runs GPU kernels on the CPU."""
    return bool(numba.config.ENABLE_CUDASIM)


def gpu_available():
    """True when a real CUDA GPU is usable (the simulator does not count)."""
    return not simulator_enabled() and _gpu_problem() is None


def _no_nvidia_driver():
    """True on a Linux machine with no NVIDIA driver loaded: no ``/proc/driver/nvidia``, no ``/dev/nvidia*``
    device, not WSL (``/dev/dxg``) and no driver library named by ``NUMBA_CUDA_DRIVER``. Then there is no GPU,
    and importing numba.cuda to ask (a second on a first call) can be spared."""
    if not sys.platform.startswith("linux") or os.environ.get("NUMBA_CUDA_DRIVER"):
        return False
    if os.path.exists("/proc/driver/nvidia") or os.path.exists("/dev/dxg"):
        return False
    return not glob.glob("/dev/nvidia*")


def _gpu_problem():
    """None when a real CUDA GPU is usable, else ``(seen, why)``: ``seen`` is True when Numba sees a GPU
    that the CUDA stack installed here cannot use, False when there is simply no GPU."""
    if _no_nvidia_driver():
        return False, f"no usable CUDA GPU was found: {_INSTALL_HINT}"
    try:
        from numba import cuda

        seen = cuda.is_available()
    except Exception:  # no numba.cuda at all, no driver, a broken driver: all mean no GPU
        seen = False
    if not seen:
        return False, f"no usable CUDA GPU was found: {_INSTALL_HINT}"
    try:
        # Registers the numpy functions numba-cuda compiles: numba-cuda 0.30 names np.row_stack, which numpy
        # 2.5 removed, and then every kernel fails to compile deep in its typing (seen on an H200).
        importlib.import_module("numba.cuda.np.arrayobj")
    except AttributeError as exc:
        import numpy

        return True, (f"this numba-cuda cannot compile kernels with numpy {numpy.__version__} ({exc}): "
                      'pip install "numpy<2.5", or a numba-cuda that supports this numpy')
    except ImportError as exc:
        # Numba's own deprecated CUDA target (numba-cuda not installed) sees the GPU, but has no
        # numba.cuda.np: numlstm's kernels need numba-cuda.
        return True, (f"Numba sees a CUDA GPU but numba-cuda is missing or incomplete ({type(exc).__name__}: {exc}); "
                      "Numba's own deprecated CUDA target cannot run numlstm's kernels: "
                      'pip install "numlstm[cuda]" (numba-cuda, with numpy<2.5)')
    except Exception as exc:  # a half-installed CUDA stack may fail in any way as it loads
        return True, f"Numba sees a CUDA GPU but its CUDA stack fails to load ({type(exc).__name__}: {exc}): {_INSTALL_HINT}"
    return None


def _resolve(name, where):
    if name not in DEVICES:
        raise ValueError(f"{where} must be one of {', '.join(DEVICES)}, got {name!r}")
    if name == "cpu":
        return name
    if gpu_available():
        return "cuda"
    if simulator_enabled():  # "auto" never picks the simulator; asked for by name, it is allowed (tests)
        return "cpu" if name == "auto" else "cuda"
    seen, why = _gpu_problem() or (False, f"no usable CUDA GPU was found: {_INSTALL_HINT}")
    if name == "cuda":
        raise DeviceError(f"device 'cuda' was requested but {why}")
    if seen:  # a GPU is there but this CUDA stack cannot use it: say so (once); no GPU at all is no news
        _warn_once(f"device 'auto' runs the LSTM passes on the CPU: {why}")
    return "cpu"


def _warn_once(message):
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(message, DeviceWarning, stacklevel=4)


def set_device(name):
    """Run every following LSTM pass on ``name``, for the rest of the program.

    Parameters
    ----------
    name : {"auto", "cpu", "cuda"}
        ``"auto"`` picks a usable GPU, else the CPU. ``"cuda"`` without a
        usable GPU raises :class:`DeviceError`.
    """
    global _default
    _default = _resolve(name, "device")


def current_device():
    """The device ("cpu" or "cuda") the next LSTM pass runs on."""
    global _default
    stack = _state.stack
    if stack:
        return stack[-1]
    if _default is None:
        _default = _resolve(os.environ.get("NUMLSTM_DEVICE", "auto"), "NUMLSTM_DEVICE")
    return _default


@contextlib.contextmanager
def device(name):
    """Within the block (and this thread), run LSTM passes on ``name``: a context manager.

    Parameters
    ----------
    name : {"auto", "cpu", "cuda"}
        As for :func:`set_device`; the block gets the device it resolves
        to (``with device("auto") as where:``).

    Examples
    --------
    >>> import numlstm
    >>> with numlstm.device("cpu") as where:
    ...     print(where, numlstm.current_device())
    cpu cpu
    """
    resolved = _resolve(name, "device")
    stack = _state.stack
    if stack is None:
        stack = _state.stack = []
    stack.append(resolved)
    try:
        yield resolved
    finally:
        stack.pop()
