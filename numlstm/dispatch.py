"""Which device runs the LSTM kernels: ``"cpu"``, ``"cuda"`` or ``"auto"``.

    numlstm.set_device("cuda")        # for the rest of the program
    with numlstm.device("cpu"):       # for a block
        model.fit(x, y)
    NUMLSTM_DEVICE=cuda python train.py

``"auto"`` (the default) picks CUDA only when a real GPU is usable, never
Numba's CUDA simulator. Asking for ``"cuda"`` without a GPU raises
:class:`DeviceError` with what to install and how to check. With
``NUMBA_ENABLE_CUDASIM=1`` (set before numba is imported) ``"cuda"`` runs
the GPU kernels in the simulator: slow, for tests only.

Two places ask this module: :mod:`numlstm.functional` (where an LSTM pass on
host arrays runs) and ``Sequential`` (where it keeps its weights). Layers,
losses and optimizers compute through :mod:`numlstm.backend`, which follows
the data, so they do not know which device runs.
"""

import contextlib
import importlib
import os
import threading

import numba

DEVICES = ("auto", "cpu", "cuda")
_INSTALL_HINT = ('install the CUDA extra (pip install "numlstm[cuda]") on a machine with an NVIDIA GPU and driver, '
                 "and check what Numba sees with `numba -s` (section __CUDA Information__)")

_state = threading.local()
_default = None


class DeviceError(RuntimeError):
    """The requested device cannot run here."""


def simulator_enabled():
    return bool(numba.config.ENABLE_CUDASIM)


def gpu_available():
    """True when a real CUDA GPU is usable (the simulator does not count)."""
    return not simulator_enabled() and _gpu_problem() is None


def _gpu_problem():
    """None when a real CUDA GPU is usable, else why not."""
    try:
        from numba import cuda

        if not cuda.is_available():
            return f"no usable CUDA GPU was found: {_INSTALL_HINT}"
    except Exception:  # no numba-cuda, no driver, a broken driver: all mean no GPU
        return f"no usable CUDA GPU was found: {_INSTALL_HINT}"
    try:
        # Registers the numpy functions numba-cuda compiles: numba-cuda 0.30 names np.row_stack, which numpy
        # 2.5 removed, and then every kernel fails to compile deep in its typing (seen on an H200).
        importlib.import_module("numba.cuda.np.arrayobj")
    except AttributeError as exc:
        import numpy

        return (f"this numba-cuda cannot compile kernels with numpy {numpy.__version__} ({exc}): "
                'pip install "numpy<2.5", or a numba-cuda that supports this numpy')
    return None


def _resolve(name, where):
    if name not in DEVICES:
        raise ValueError(f"{where} must be one of {', '.join(DEVICES)}, got {name!r}")
    if name == "auto":
        return "cuda" if gpu_available() else "cpu"
    if name == "cuda" and not (simulator_enabled() or gpu_available()):
        raise DeviceError(f"device 'cuda' was requested but {_gpu_problem() or 'no usable CUDA GPU was found'}")
    return name


def set_device(name):
    """Run every following LSTM pass on ``name`` ("auto", "cpu" or "cuda")."""
    global _default
    _default = _resolve(name, "device")


def current_device():
    """The device ("cpu" or "cuda") the next LSTM pass runs on."""
    global _default
    stack = getattr(_state, "stack", None)
    if stack:
        return stack[-1]
    if _default is None:
        _default = _resolve(os.environ.get("NUMLSTM_DEVICE", "auto"), "NUMLSTM_DEVICE")
    return _default


@contextlib.contextmanager
def device(name):
    """Within the block (and this thread), run LSTM passes on ``name``."""
    resolved = _resolve(name, "device")
    stack = getattr(_state, "stack", None)
    if stack is None:
        stack = _state.stack = []
    stack.append(resolved)
    try:
        yield resolved
    finally:
        stack.pop()
