"""``cuda.jit`` for the kernels that ``kernels/cuda`` builds per variant (dtype, launch shapes,
fastmath), with an optional on-disk cache (``GpuKernelOptions.cache``)."""

import functools
import hashlib

import numba
from numba import cuda


def kernel_decorator(variant, fastmath, cache, launch_bounds=None):
    """The decorator of one variant's kernels; ``variant`` is a repr-able description of everything the
    variant's code depends on. ``launch_bounds`` (threads per block, blocks per SM), when given, has the
    compiler fit that many blocks on a multiprocessor, in registers above all.

    With ``cache`` each kernel keeps its compiled code on disk (beside its
    source, or under NUMBA_CACHE_DIR) under a name of its variant's own:
    numba-cuda keys its cache on a kernel's code and closure but not on jit
    options such as fastmath, which two variants can differ in alone.
    """
    options = {"fastmath": fastmath}
    if launch_bounds is not None and not numba.config.ENABLE_CUDASIM:  # the simulator has no registers to bound
        options["launch_bounds"] = launch_bounds
    if not cache:
        return functools.partial(cuda.jit, **options)
    tag = hashlib.sha256(repr(variant).encode()).hexdigest()[:12]

    def decorate(function):
        function.__qualname__ = f"{function.__qualname__}_{tag}"
        return cuda.jit(cache=True, **options)(function)

    return decorate
