"""The kernels' disk cache (numlstm.kernels.disk_cache) against processes that compile at the same time."""

import os
import pickle
import subprocess
import sys
import textwrap

import numba
import pytest

from numlstm.kernels.disk_cache import _SignatureNamedFiles

# A kernel in a module of its own, so that its cache lands in the test's folder; it prints what a
# float32 and a float64 call write and whether each came from the disk cache.
_KERNEL_MODULE = textwrap.dedent("""
    import numpy as np
    from numlstm.kernels.disk_cache import njit
    from numlstm.kernels.options import JIT_KWARGS


    @njit(**JIT_KWARGS)
    def half_sum(values, out):
        out[0] = values.sum() / 2
""")

_CALL_BOTH = textwrap.dedent("""
    import sys
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    import kernel_module
    for dtype in sys.argv[2:]:
        out = np.zeros(1, dtype)
        kernel_module.half_sum(np.arange(4, dtype=dtype), out)
        signature = kernel_module.half_sum.signatures[-1]
        hits = kernel_module.half_sum.stats.cache_hits[signature]
        print(dtype, out[0], "hit" if hits else "compiled")
""")


def _call(tmp_path, *dtypes):
    environment = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    completed = subprocess.run([sys.executable, "-c", _CALL_BOTH, str(tmp_path), *dtypes], env=environment,
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout.splitlines()


def _index_path(tmp_path):
    (index,) = (tmp_path / "cache").rglob("*half_sum*.nbi")
    return index


def _read_index(index):
    with open(index, "rb") as file:
        version = pickle.load(file)
        stamp, overloads = pickle.loads(file.read())
    return version, stamp, overloads


def _write_index(index, version, stamp, overloads):
    with open(index, "wb") as file:
        pickle.dump(version, file, protocol=-1)
        file.write(pickle.dumps((stamp, overloads), protocol=-1))


@pytest.fixture
def kernel_folder(tmp_path):
    (tmp_path / "kernel_module.py").write_text(_KERNEL_MODULE)
    return tmp_path


@pytest.mark.slow
def test_each_signature_has_a_data_file_of_its_own_that_a_new_process_loads(kernel_folder):
    assert _call(kernel_folder, "float32", "float64") == ["float32 3.0 compiled",
                                                          "float64 3.0 compiled"]
    data_files = sorted(path.name for path in (kernel_folder / "cache").rglob("*half_sum*.nbc"))
    assert len(data_files) == 2
    assert not any(name.split(".")[-2].isdigit() for name in data_files)  # not Numba's numbered names
    assert _call(kernel_folder, "float64", "float32") == ["float64 3.0 hit", "float32 3.0 hit"]


@pytest.mark.slow
def test_an_index_entry_pointing_at_another_signatures_code_is_compiled_again(kernel_folder):
    """What Numba's numbered files left behind after two processes raced: float32 mapped to float64's data."""
    _call(kernel_folder, "float32", "float64")
    index = _index_path(kernel_folder)
    version, stamp, overloads = _read_index(index)
    key32, key64 = sorted(overloads, key=lambda key: str(key[0]))
    assert "float32" in str(key32[0]) and "float64" in str(key64[0])
    overloads[key32] = overloads[key64]
    _write_index(index, version, stamp, overloads)

    assert _call(kernel_folder, "float32") == ["float32 3.0 compiled"]
    assert _call(kernel_folder, "float32", "float64") == ["float32 3.0 hit", "float64 3.0 hit"]


def test_a_save_from_a_stale_index_never_overwrites_another_signatures_data(tmp_path):
    """Two processes read the same empty index, then save in turn: the second drops the first's index
    entry (it recompiles later) but leaves its data file alone."""
    files = _SignatureNamedFiles(cache_path=str(tmp_path), filename_base="kernel-1.py3", source_stamp=(1, 2))
    key32 = ("(array(float32, 1d, C),)", ("x86_64", "znver3", ""), ("code", "closure values"))
    key64 = ("(array(float64, 1d, C),)", ("x86_64", "znver3", ""), ("code", "closure values"))
    files.save(key32, "float32 code")
    os.remove(tmp_path / "kernel-1.py3.nbi")  # as the second process saw it: no index yet
    files.save(key64, "float64 code")

    assert files.load(key32) is None
    assert files.load(key64) == "float64 code"
    files.save(key32, "float32 code")
    assert (files.load(key32), files.load(key64)) == ("float32 code", "float64 code")
    assert len(list(tmp_path.glob("*.nbc"))) == 2


def test_the_same_signature_keeps_its_data_file_when_the_code_changes(tmp_path):
    files = _SignatureNamedFiles(cache_path=str(tmp_path), filename_base="kernel-1.py3", source_stamp=(1, 2))
    files.save(("(float64,)", ("x86_64", "znver3", ""), ("old code", "closure values")), "old")
    files.save(("(float64,)", ("x86_64", "znver3", ""), ("new code", "closure values")), "new")
    assert len(list(tmp_path.glob("*.nbc"))) == 1


def test_kernels_made_by_one_factory_keep_data_files_apart(tmp_path):
    files = _SignatureNamedFiles(cache_path=str(tmp_path), filename_base="kernel-1.py3", source_stamp=(1, 2))
    standard = ("(float64,)", ("x86_64", "znver3", ""), ("code", "cifg=False"))
    cifg = ("(float64,)", ("x86_64", "znver3", ""), ("code", "cifg=True"))
    files.save(standard, "standard")
    files.save(cifg, "cifg")
    assert (files.load(standard), files.load(cifg)) == ("standard", "cifg")


def test_every_cpu_kernel_dispatcher_uses_the_kernel_cache():
    from numlstm.kernels import activations, optimizer_updates
    from numlstm.kernels.cpu import convlstm, ctc, lstm, packed_gemm
    from numlstm.kernels.disk_cache import KernelCache

    dispatchers = [value for module in (activations, optimizer_updates, convlstm, ctc, lstm, packed_gemm)
                   for value in vars(module).values() if isinstance(value, numba.core.dispatcher.Dispatcher)]
    assert len(dispatchers) > 20
    assert all(isinstance(dispatcher._cache, KernelCache) for dispatcher in dispatchers)
