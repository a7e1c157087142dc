"""The GPU tools' tests, outside the product's suite (pyproject.toml's testpaths is tests/ only).

    python -m pytest asv_bench/tools/tests                              # from the repository root
    NUMBA_ENABLE_CUDASIM=1 python -m pytest asv_bench/tools/tests       # the simulator smoke tests too

The tools (gpu_session.py, gpu_ab.py, kernel_resources.py) are scripts in
asv_bench/tools/, imported here by name; they use the asv suite
(asv_bench/benchmarks/) and the product's shared test code (tests/helpers/),
both put on sys.path too. pyproject.toml passes ``--strict-markers``, so the
markers these tests use are registered here, as tests/conftest.py registers
them for the product's tests: ``simulator`` (skipped outside Numba's CUDA
simulator, with the same reason) and ``slow``. In the simulator, new device
arrays hold NaN, as in the product's GPU tests: tests/gpu/conftest.py's
``poisoned_device_arrays`` applies here too.
"""

import importlib.util
import pathlib
import sys

import pytest

TOOLS = pathlib.Path(__file__).resolve().parents[1]
ROOT = TOOLS.parents[1]
for _path in (ROOT / "tests", ROOT / "asv_bench", TOOLS):  # TOOLS first
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

MARKERS = {
    "simulator": "runs in Numba's CUDA simulator only",
    "slow": "over about 10 s on a 2-core machine; deselect with -m 'not slow'",
}
_SIMULATOR_ONLY = "runs in Numba's CUDA simulator only (NUMBA_ENABLE_CUDASIM=1)"


def _gpu_conftest():
    spec = importlib.util.spec_from_file_location("numlstm_tests_gpu_conftest", ROOT / "tests" / "gpu" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


poisoned_device_arrays = _gpu_conftest().poisoned_device_arrays  # autouse


def pytest_configure(config):
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")


def pytest_collection_modifyitems(config, items):
    """Skips this folder's ``simulator`` tests outside the simulator, with the marker's reason."""
    from numlstm import dispatch

    if dispatch.simulator_enabled():
        return
    here = pathlib.Path(__file__).resolve().parent
    for item in items:
        markers = list(item.iter_markers("simulator"))
        if markers and pathlib.Path(item.path).resolve().is_relative_to(here):
            given = next((m.kwargs["reason"] for m in markers if "reason" in m.kwargs), None)
            item.add_marker(pytest.mark.skip(reason=f"{_SIMULATOR_ONLY}: {given}" if given else _SIMULATOR_ONLY))
