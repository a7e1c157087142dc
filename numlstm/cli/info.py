"""``numlstm info``: versions, threads, BLAS, CUDA status and where compiled kernels are cached."""

import os
import platform
import sys
from importlib import metadata


def _version(distribution):
    """Installed version, read from package metadata (importing torch just to ask would take seconds)."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cuda_status():
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return "Numba's CUDA simulator is on (NUMBA_ENABLE_CUDASIM=1): no real GPU is used"
    try:
        from numba import cuda
    except ImportError as exc:  # numba without its CUDA part
        return f"numba.cuda cannot be imported ({exc})"
    try:
        if cuda.is_available():
            names = ", ".join(device.name.decode() if isinstance(device.name, bytes) else str(device.name)
                              for device in cuda.list_devices())
            return f"GPU found: {names}"
    except Exception as exc:  # a broken driver must not stop `info`
        return f"no usable GPU ({type(exc).__name__}: {exc})"
    return 'no GPU found (for a GPU: pip install "numlstm[cuda]"; check with `numba -s`)'


def _threads():
    """(Numba's thread count, its threading layer: omp, tbb or workqueue), or why they are unknown.

    ``numba.threading_layer()`` names the layer only once Numba has started its threads, which
    ``numba.get_num_threads()`` does; ``numba.config.THREADING_LAYER`` is only what was asked for ("default").
    """
    import numba

    try:
        return numba.get_num_threads(), numba.threading_layer()
    except Exception as exc:  # no threading layer loads (NUMBA_THREADING_LAYER=tbb without tbb): `info` goes on
        reason = (str(exc).strip().splitlines() or [""])[0]
        return numba.config.NUMBA_NUM_THREADS, f"none could start ({type(exc).__name__}: {reason})"


def info():
    import numba
    import threadpoolctl

    import numlstm

    from ..kernels import options as kernel_options
    from ..kernels.cpu import lstm as cpu_kernels

    print(f"numlstm {numlstm.__version__} at {os.path.dirname(numlstm.__file__)}")
    print(f"python {platform.python_version()} ({sys.executable}) on {platform.machine()} {platform.system()}")
    for module in ("numpy", "numba", "numba-cuda", "llvmlite", "scipy", "tqdm", "matplotlib", "mpi4py", "torch"):
        print(f"  {module:<11} {_version(module)}")
    threads, layer = _threads()
    asked = numba.config.THREADING_LAYER
    print(f"CPU cores: {os.cpu_count()}; Numba threads: {threads} (NUMBA_NUM_THREADS to change), threading layer: "
          f"{layer}" + (f" (NUMBA_THREADING_LAYER={asked})" if asked != "default" else ""))
    quota = numlstm.threads.cgroup_cpu_limit()
    waits = ", ".join(f"{name}={os.environ[name]}" for name in ("GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_WAIT_POLICY")
                      if name in os.environ) or "the OpenMP runtime's defaults"
    print(f"numlstm passes: {numlstm.threads.compute_threads()} threads, BLAS on one (cores this process may use: "
          f"{numlstm.threads.available_cores()}; cgroup CPU quota: {'none' if quota is None else f'{quota:g}'}); "
          f"how long an idle thread spins before it sleeps: {waits}")
    for pool in threadpoolctl.threadpool_info():
        if pool.get("user_api") == "blas":
            print(f"BLAS: {pool.get('internal_api')} {pool.get('version')} ({pool.get('architecture')}; "
                  f"{pool.get('num_threads')} threads outside numlstm's passes, 1 inside) from {pool.get('filepath')}")
    from ..dispatch import current_device

    try:
        chosen = current_device()
    except Exception as exc:  # a bad NUMLSTM_DEVICE must not stop `info`
        chosen = f"none ({exc})"
    print(f"CUDA: {_cuda_status()}; LSTM passes run on: {chosen} (NUMLSTM_DEVICE or numlstm.set_device to change)")
    kernels = os.path.dirname(cpu_kernels.__file__)
    cache = numba.config.CACHE_DIR or (os.path.join(kernels, "__pycache__") if os.access(kernels, os.W_OK) else None)
    if cache is None:
        print(f"JIT cache: the user cache folder Numba picks (set NUMBA_CACHE_DIR to choose) "
              f"(cache={kernel_options.CPU_JIT.cache})")
    else:
        print(f"JIT cache: {cache} (cache={kernel_options.CPU_JIT.cache}; {_cached_kernels(cache)})")


def _cached_kernels(folder):
    """How many compiled kernels ``folder`` holds: Numba writes one index file (.nbi) per kernel, in subfolders
    under a NUMBA_CACHE_DIR."""
    count = sum(name.endswith(".nbi") for _, _, names in os.walk(folder) for name in names)
    return f"{count} kernels stored" if count else "empty: the first run compiles the kernels and stores them"
