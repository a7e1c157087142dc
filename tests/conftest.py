"""The suite's markers, registered here with their skip conditions, each written once.

- ``gpu``: needs a CUDA GPU or Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``).
- ``real_gpu``: needs a CUDA GPU; the simulator will not do.
- ``simulator``: runs in Numba's CUDA simulator only.
- ``mpi``: needs mpi4py and mpiexec; with NUMLSTM_REQUIRE_MPI=1 (set in CI) their absence is an error.
- ``slow``: over about 10 s on a 2-core machine; never skipped, CI runs them (``-m "not slow"`` leaves them out).

A module takes one with ``pytestmark = pytest.mark.gpu``, a test with a decorator; a device marker may say
why the test needs it: ``@pytest.mark.real_gpu(reason="the simulator has no CUDA driver")``. pyproject.toml
passes ``--strict-markers``: an unregistered marker is an error. Shared test code lives in tests/helpers/
(``from helpers.cases import random_lstm_args``).
"""

import functools
import importlib.util
import os
import shutil
import zlib

import numpy as np
import pytest

# The checks in tests/helpers/ (finite differences, against the reference or the CPU) fail with pytest's
# detailed assertion messages, as they did in the test modules they came from.
pytest.register_assert_rewrite("helpers")

_CUDA = "pip install -e '.[cuda]'"
_MPI = 'pip install -e ".[mpi]" and an MPI implementation'


def _have_mpi():
    return importlib.util.find_spec("mpi4py") is not None and shutil.which("mpiexec") is not None


def _gpu_or_simulator():
    from numlstm import dispatch

    return dispatch.simulator_enabled() or dispatch.gpu_available()


def _gpu():
    from numlstm import dispatch

    return dispatch.gpu_available()


def _simulator():
    from numlstm import dispatch

    return dispatch.simulator_enabled()


# name: (description, condition or None, why it is skipped when its condition does not hold)
MARKERS = {
    "gpu": ("needs a CUDA GPU or Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1)", _gpu_or_simulator,
            f"needs a CUDA GPU ({_CUDA}) or NUMBA_ENABLE_CUDASIM=1"),
    "real_gpu": ("needs a CUDA GPU; the simulator will not do", _gpu, f"needs a CUDA GPU ({_CUDA})"),
    "simulator": ("runs in Numba's CUDA simulator only", _simulator,
                  "runs in Numba's CUDA simulator only (NUMBA_ENABLE_CUDASIM=1)"),
    "mpi": ("needs mpi4py and mpiexec (an error instead of a skip with NUMLSTM_REQUIRE_MPI=1)", _have_mpi,
            f"needs mpi4py and mpiexec ({_MPI})"),
    "slow": ("over about 10 s on a 2-core machine; deselect with -m 'not slow'", None, None),
}


@functools.cache
def _met(name):
    """Whether a marker's condition holds, evaluated once per process, at collection."""
    return MARKERS[name][1]()


def pytest_configure(config):
    """Registers the markers. With NUMLSTM_REQUIRE_KERAS=1 (set in CI) a missing Keras oracle fails the run
    instead of skipping its parity tests: the ports and the differential suite must run there;
    NUMLSTM_REQUIRE_MPI=1 (also set in CI) does the same for the MPI tests."""
    for name, (description, _, _) in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    if os.environ.get("NUMLSTM_REQUIRE_MPI") == "1" and not _have_mpi():
        raise pytest.UsageError(f"NUMLSTM_REQUIRE_MPI=1 but mpi4py or mpiexec is missing: {_MPI}")
    if os.environ.get("NUMLSTM_REQUIRE_KERAS") != "1":
        return
    os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        import keras
    except ImportError as exc:
        raise pytest.UsageError(f"NUMLSTM_REQUIRE_KERAS=1 but Keras cannot be imported ({exc}); "
                                'pip install -e ".[keras]"') from None
    if keras.backend.backend() != "jax":
        raise pytest.UsageError(f"NUMLSTM_REQUIRE_KERAS=1 but Keras runs on {keras.backend.backend()}, not jax")


def pytest_collection_modifyitems(config, items):
    """Skips each test whose gpu, real_gpu, simulator or mpi condition does not hold (the first such marker
    in MARKERS' order), saying what to install or set and, where the closest marker gives one, why."""
    for item in items:
        for name, (_, condition, skip_reason) in MARKERS.items():
            markers = list(item.iter_markers(name)) if condition else []
            if markers and not _met(name):
                given = next((m.kwargs["reason"] for m in markers if "reason" in m.kwargs), None)
                item.add_marker(pytest.mark.skip(reason=f"{skip_reason}: {given}" if given else skip_reason))
                break


@pytest.fixture
def rng():
    return np.random.default_rng(20261125)


@pytest.fixture(autouse=True)
def _module_rng_seeded_per_test(request, monkeypatch):
    """A test module's own ``rng`` (a module-level Generator) starts afresh for each test, seeded by the test's
    id: without this a test's data would depend on which tests ran before it in its process, which pytest-xdist
    decides anew each run."""
    module = request.module
    if isinstance(getattr(module, "rng", None), np.random.Generator):
        monkeypatch.setattr(module, "rng", np.random.default_rng(zlib.crc32(request.node.nodeid.encode())))


@pytest.fixture(params=[True, False], ids=["fused-projection", "gemm-projection"])
def input_projection(request, monkeypatch):
    """Project the LSTM's input inside the CPU time loop, or in one GEMM before it, whatever the shape would
    choose (``numlstm.functional.fuses_input_projection``)."""
    import numlstm.functional

    monkeypatch.setattr(numlstm.functional, "fuses_input_projection", lambda *shape: request.param)
    return request.param
