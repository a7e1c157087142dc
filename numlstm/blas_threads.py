"""Keep BLAS single-threaded while Numba's threads run the time loop.

Numba's np.dot calls scipy's BLAS. Called from several Numba threads at
once, a multi-threaded OpenBLAS wakes its own thread pool in each call and
the two pools fight over the cores (measured 8x slower on 2 cores). While a
parallel time loop runs, BLAS gets one thread per caller; the large GEMMs
before and after it keep every thread.

The limit is process-wide for its duration (BLAS offers no per-thread
switch that every build has), so BLAS work in other Python threads during
a parallel time loop also runs on one thread.
"""

import contextlib
import functools


@functools.cache
def _blas_libraries():
    # Import the BLAS that Numba's np.dot uses before looking for it.
    import scipy.linalg.cython_blas  # noqa: F401
    from threadpoolctl import ThreadpoolController

    return tuple(ThreadpoolController().select(user_api="blas").lib_controllers)


@contextlib.contextmanager
def single_threaded_blas():
    """Every loaded BLAS on one thread inside, back to its own count after. Calls the libraries' own
    get/set functions: threadpoolctl's ``limit`` surveys every thread pool of the process twice per use,
    about 20 us, a tenth of a tiny model's training step, which enters this twice."""
    libraries = _blas_libraries()
    previous = [library.get_num_threads() for library in libraries]
    for library, threads in zip(libraries, previous):
        if threads != 1:
            library.set_num_threads(1)
    try:
        yield
    finally:
        for library, threads in zip(libraries, previous):
            if threads != 1:
                library.set_num_threads(threads)
