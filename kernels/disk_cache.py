"""Numba's on-disk cache of compiled kernels, made safe for processes that compile at the same time.

Numba keeps one index file per function, mapping each signature to a data file numbered in order, and
rewrites the index without a lock. Two processes that compile one function for two signatures at once
(float32 in one pytest-xdist worker, float64 in another; two MPI ranks) both read the same index, both
take data file 1, and the index ends with one signature pointing at the other's code: every later
process then loads code of the wrong types, and its calls fail with "can't unbox array" or worse.

:class:`KernelCache` closes both ends of that race:

- a data file is named after its signature and target (and a closure's values), not numbered, so two
  signatures never share one: a concurrent write can drop an index entry (the next process compiles
  it again) but never swap one;
- a loaded entry whose signature is not the one asked for (an index written before this module, or
  by plain Numba) counts as a miss: the kernel compiles again and the entry is overwritten.

:func:`njit` is ``numba.njit`` with this cache; every CPU kernel is compiled through it, and
:func:`njit_variant` names each variant of a kernel made by a closure apart.
"""

import hashlib

import numba
from numba.core import sigutils
from numba.core.caching import FunctionCache, IndexDataCacheFile


class _SignatureNamedFiles(IndexDataCacheFile):
    """Numba's index and data files, with each data file named after its signature and target."""

    def save(self, key, data):
        # key is (signature, target description, (hash of the bytecode, hash of the closure's values)). The
        # closure's hash tells apart the kernels one factory makes; the bytecode's stays out of the name, so
        # that an edited or upgraded function overwrites its old files instead of adding new ones.
        signature, target, (_, closure) = key
        digest = hashlib.sha256(repr((str(signature), target, closure)).encode()).hexdigest()[:16]
        data_name = self._data_name_pattern.replace("{number:d}", digest)
        # Data first: an index entry never points at a file not yet written.
        self._save_data(data_name, data)
        overloads = self._load_index()
        overloads[key] = data_name
        self._save_index(overloads)


class KernelCache(FunctionCache):
    """Numba's ``FunctionCache``, safe when processes compile the same kernel at once (see the module).

    Parameters
    ----------
    py_func : function
        The Python function the dispatcher compiles.
    """

    def __init__(self, py_func):
        super().__init__(py_func)
        self._cache_file = _SignatureNamedFiles(cache_path=self.cache_path,
                                                filename_base=self._impl.filename_base,
                                                source_stamp=self._impl.locator.get_source_stamp())

    def _load_overload(self, sig, target_context):
        compiled = super()._load_overload(sig, target_context)
        if compiled is None:
            return None
        args, _ = sigutils.normalize_signature(sig)
        if tuple(compiled.signature.args) != tuple(args):
            return None
        return compiled


def njit(**options):
    """``numba.njit(**options)``, with :class:`KernelCache` as the disk cache where ``cache=True``.

    Parameters
    ----------
    **options
        Keyword arguments of ``numba.njit`` (the kernels pass ``options.JIT_KWARGS`` and their own).

    Returns
    -------
    callable
        The decorator: it turns a function into a Numba dispatcher.

    Examples
    --------
    >>> from numlstm.kernels.disk_cache import njit
    >>> @njit(nogil=True)
    ... def twice(x):
    ...     return 2 * x
    >>> twice(21)
    42
    """
    cache = options.pop("cache", False)
    decorate = numba.njit(**options)

    def compile_with_kernel_cache(function):
        dispatcher = decorate(function)
        if cache:
            # What Dispatcher.enable_caching does, with the safe cache.
            dispatcher._cache = KernelCache(dispatcher.py_func)
        return dispatcher

    return compile_with_kernel_cache


def njit_variant(function, variant, **options):
    """:func:`njit` of ``function`` under a name of its own per variant: ``forward_rows_cifg`` for ``forward_rows``
    and ``variant="cifg"``.

    A kernel's variants are closures over constants of their code (the LSTM's and ConvLSTM's ``cifg``). Numba
    names a function's cache index after its qualified name: under one name, the variants would share one
    index, which two processes compiling two variants at once (``pytest -n 2``, MPI ranks) rewrite over each
    other, dropping entries.

    Parameters
    ----------
    function : callable
        The closure; renamed in place.
    variant : str
        Appended to its name.
    **options
        Keyword arguments of :func:`njit`.
    """
    function.__name__ = function.__qualname__ = f"{function.__name__}_{variant}"
    return njit(**options)(function)
