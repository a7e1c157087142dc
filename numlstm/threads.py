"""How many threads numlstm computes with, and how they wait, so that a busy machine slows it gracefully.

numlstm's CPU parallelism is Numba's thread pool alone: a pass splits its
batch rows (and the rows of its large GEMMs) into one block per thread, and
BLAS runs on one thread inside every pass and every model call. Users'
machines are never quiet (a notebook, another job, several MPI ranks per
node), and threads that wait for a partner the OS has descheduled, or spin
while the thread with the work waits for a core, turn a few percent of
lost CPU into a collapse. So:

- **Threads.** :func:`compute_threads` is Numba's thread count
  (``NUMBA_NUM_THREADS``, ``numba.set_num_threads``) capped by the cores
  this process may use: its affinity mask, a cgroup CPU quota (containers,
  batch schedulers), and its share of the node when ``MPIStrategy`` found
  other ranks there (:func:`share_node`). A ``NUMBA_NUM_THREADS`` set in
  the environment is taken as it is.
- **Waiting.** A Numba pool on GNU OpenMP spins ``GOMP_SPINCOUNT``
  iterations before it sleeps; libgomp's default (300,000, milliseconds)
  keeps a finished thread on its core while its partner, or the Python
  code between two passes, waits for one. numlstm sets
  ``GOMP_SPINCOUNT`` to ``OPENMP_SPIN_COUNT`` (and Intel OpenMP's
  ``KMP_BLOCKTIME`` to ``OPENMP_BLOCK_TIME``) when it is imported before
  Numba's pool starts and neither the variable nor ``OMP_WAIT_POLICY`` was
  set: long enough to bridge the few microseconds between the regions of
  one pass, short enough that no pool is left spinning when a pass ends.
- **BLAS.** OpenBLAS's threads spin about 0.1 s after every multi-threaded
  call; a pass and a model call hold every loaded BLAS to one thread
  (:func:`single_threaded_blas`, entered by ``backend.in_context_of``, which
  wraps both on the CPU), and their large GEMMs are split over Numba's
  threads instead, so BLAS pools are never woken by numlstm.

Measured figures, contended and quiet, are in ``asv_bench/README.md``.
"""

import contextlib
import functools
import math
import os
import pathlib
import threading

import numba

#: Spin iterations of a waiting GNU OpenMP thread before it sleeps (``GOMP_SPINCOUNT``).
OPENMP_SPIN_COUNT = 1_000
#: Milliseconds a waiting Intel OpenMP thread spins before it sleeps (``KMP_BLOCKTIME``; its default is
#: 200). Unmeasured: Numba runs on GNU OpenMP on every machine this was timed on.
OPENMP_BLOCK_TIME = 1

_node_ranks = 1


def set_openmp_wait_defaults(environ=os.environ):
    """Bound how long Numba's OpenMP threads spin, unless the user chose; returns what was set.

    Effective only before Numba's thread pool starts (its OpenMP runtime
    reads the environment once): ``numlstm`` calls this when imported.

    Parameters
    ----------
    environ : mapping, default os.environ
        The environment to read and set.

    Returns
    -------
    dict
        The variables set (``GOMP_SPINCOUNT``, ``KMP_BLOCKTIME``) and their
        values; empty when the pool had started or ``OMP_WAIT_POLICY`` is set.
    """
    from numba.np.ufunc import parallel

    if parallel._is_initialized or "OMP_WAIT_POLICY" in environ:
        return {}
    chosen = {}
    for name, value in (("GOMP_SPINCOUNT", OPENMP_SPIN_COUNT), ("KMP_BLOCKTIME", OPENMP_BLOCK_TIME)):
        if name not in environ:
            environ[name] = chosen[name] = str(value)
    return chosen


def cgroup_cpu_limit(root="/sys/fs/cgroup", proc_cgroup="/proc/self/cgroup"):
    """The CPU quota of this process's cgroup, in cores (a float), or None when it has none.

    cgroup v2 (``cpu.max``) and v1 (``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``); the
    smallest quota on the path from the process's cgroup up to the root counts.

    Parameters
    ----------
    root : str or path, default "/sys/fs/cgroup"
        Where the cgroup file systems are mounted.
    proc_cgroup : str or path, default "/proc/self/cgroup"
        The file naming the process's cgroups.
    """
    try:
        lines = pathlib.Path(proc_cgroup).read_text().splitlines()
    except OSError:
        return None
    root = pathlib.Path(root)
    limits = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # v2: one unified hierarchy
            limits += [_v2_limit(folder) for folder in _up_to(root / path.lstrip("/"), root)]
        elif "cpu" in controllers.split(","):
            base = next((root / name for name in ("cpu,cpuacct", "cpu", "cpuacct,cpu") if (root / name).is_dir()),
                        None)
            if base is not None:
                limits += [_v1_limit(folder) for folder in _up_to(base / path.lstrip("/"), base)]
    limits = [limit for limit in limits if limit is not None]
    return min(limits) if limits else None


def _up_to(folder, root):
    while True:
        yield folder
        if folder == root or root not in folder.parents:
            return
        folder = folder.parent


def _read(path):
    try:
        return path.read_text().split()
    except OSError:
        return None


def _v2_limit(folder):
    fields = _read(folder / "cpu.max")
    if not fields or fields[0] == "max":
        return None
    return int(fields[0]) / int(fields[1])


def _v1_limit(folder):
    quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
    if not quota or not period or int(quota[0]) <= 0:
        return None
    return int(quota[0]) / int(period[0])


@functools.cache
def available_cores():
    """Cores this process may use: its affinity mask, capped by its cgroup's CPU quota.

    The quota is rounded up, as Go and the JVM round it. Computed once.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = cgroup_cpu_limit()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return cores


def share_node(ranks):
    """Share this node's cores among ``ranks`` processes, unless the thread count was set in the environment.

    Parameters
    ----------
    ranks : int
        The processes on this node; ``MPIStrategy`` calls it with the ranks
        it finds there.
    """
    global _node_ranks
    if ranks < 1:
        raise ValueError(f"ranks must be a positive number of processes on this node, got {ranks}")
    _node_ranks = int(ranks)


def user_set_threads(environ=os.environ):
    """True when the environment fixes numlstm's thread count (``NUMBA_NUM_THREADS``).

    Parameters
    ----------
    environ : mapping, default os.environ
    """
    return "NUMBA_NUM_THREADS" in environ


def compute_threads(at_most=None):
    """How many of Numba's threads the next pass runs on.

    Numba's count, capped by this process's share of the cores it may use,
    unless ``NUMBA_NUM_THREADS`` is set. It does not step aside for other processes' load: under the OS's fair
    share, a pass on fewer threads gets less of the machine (measured with
    two competitors on 2 cores: one thread's training step at medium size
    took 39-74 ms by where the OS put it, two threads' 45-53 ms).

    Parameters
    ----------
    at_most : int, optional
        The most threads the pass's work can use (its blocks).

    Returns
    -------
    int
        At least 1.
    """
    threads = numba.get_num_threads()
    if at_most is not None:
        threads = min(threads, at_most)
    cap = available_cores() // _node_ranks
    if threads <= cap or user_set_threads():  # the cap first: the environment's lookup costs 2 us a pass
        return max(1, threads)
    return max(1, cap)


@functools.cache
def _blas_libraries():
    from threadpoolctl import ThreadpoolController

    from .kernels.cpu.blas import load_scipy_blas

    load_scipy_blas()  # the BLAS that the kernels call: loaded before looking for it

    return tuple(ThreadpoolController().select(user_api="blas").lib_controllers)


@functools.cache
def _blas_thread_functions():
    """(get, set) of each loaded BLAS's thread count: for OpenBLAS the library's own C functions, looked up
    once (threadpoolctl looks them up on every call: 2 us a call, 9 us a block on two libraries); the
    controllers' methods for any other BLAS."""
    functions = []
    for library in _blas_libraries():
        get, set_ = library.get_num_threads, library.set_num_threads
        if library.internal_api == "openblas" and hasattr(library, "_get_symbol"):
            openmp = getattr(library, "threading_layer", None) == "openmp"
            raw_get = library._get_symbol("omp_get_max_threads" if openmp else "openblas_get_num_threads")
            raw_set = library._get_symbol("omp_set_num_threads" if openmp else "openblas_set_num_threads")
            if raw_get is not None and raw_set is not None:
                get, set_ = raw_get, raw_set
        functions.append((get, set_))
    return tuple(functions)


_blas_held = threading.local()  # .depth: how many single_threaded_blas blocks this Python thread is inside


class _SingleThreadedBlas:
    """The context manager :func:`single_threaded_blas` returns (a class: a generator-based one costs a few
    microseconds more a use, and every LSTM pass uses one)."""

    __slots__ = ("_restore",)

    def __enter__(self):
        depth = getattr(_blas_held, "depth", 0)
        _blas_held.depth = depth + 1
        restore = ()
        if not depth:
            for get, set_ in _blas_thread_functions():
                threads = get()
                if threads != 1:
                    set_(1)
                    restore += ((set_, threads),)
        self._restore = restore
        return self

    def __exit__(self, *exc_info):
        _blas_held.depth -= 1
        for set_, threads in self._restore:
            set_(threads)
        return False


def single_threaded_blas():
    """A context manager: every loaded BLAS on one thread inside, back to its own count after.

    It calls the libraries' own get/set functions (``_blas_thread_functions``):
    threadpoolctl's ``limit`` surveys every thread pool of the process twice
    per use, about 20 us, a tenth of a tiny model's training step. Inside
    another such block of the same Python thread (a pass inside a model call)
    it does nothing.
    """
    return _SingleThreadedBlas()


@contextlib.contextmanager
def numba_threads(count):
    """A context manager: Numba's parallel regions inside run ``count`` threads (this Python thread only).

    So a pass on fewer blocks than the pool has threads wakes no idle ones.

    Parameters
    ----------
    count : int
        Capped at the pool's size.
    """
    count = min(count, numba.config.NUMBA_NUM_THREADS)
    previous = numba.get_num_threads()
    if count != previous:
        numba.set_num_threads(count)
    try:
        yield
    finally:
        if count != previous:
            numba.set_num_threads(previous)


def numba_threads_for(blocks):
    """:func:`numba_threads` for a pass of ``blocks`` blocks of work, or for one block a context that does nothing.

    A pass of one block runs the serial entry points, which never wake the pool: setting and restoring the
    count would cost about 6 us, a tenth of a tiny model's forward pass.

    Parameters
    ----------
    blocks : int
        How many blocks the pass splits its work into.
    """
    return numba_threads(blocks) if blocks > 1 else _UNCHANGED_THREADS


_UNCHANGED_THREADS = contextlib.nullcontext()  # reusable: it holds no state
