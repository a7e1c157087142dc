"""Host memory of the CPU passes: large arrays without huge-page stalls, and workspaces kept for the next pass.

A training step's workspaces are the same size step after step. Freed, a buffer larger than malloc's mmap
threshold goes back to the operating system, and the next step's first touch of its replacement faults in
every page again: at the xlarge benchmark size (B=64, T=25, 512 features, 512 units) the two workspaces of a
step are 50 MB, and the page faults cost the float32 training step 15-20% (2-core Zen 3, against the same run
with glibc told to keep its memory). ``POOL`` keeps such buffers once their pass is done, for the next
pass of the same size; smaller ones come back from malloc's heap without faults, and are not kept.
"""

import collections
import functools
import math
import threading

import numpy as np

from .kernels.cpu.alignment import CACHE_LINE_BYTES, elements_to_alignment

# numpy's switch for advising the kernel to back its large arrays with transparent huge pages (numpy 2).
_SET_HUGE_PAGE_ADVICE = getattr(getattr(getattr(np, "_core", None), "multiarray", None), "_set_madvise_hugepage",
                                None)
_HUGE_PAGE_ADVICE_BYTES = 1 << 22  # numpy advises from this size on (alloc.c, indicate_hugepages)

#: Smallest workspace buffer the pool keeps, in bytes (below it malloc's heap reuses memory without faults:
#: the "large" benchmark size, 20 MB a step in buffers below 32 MB, ran as fast with glibc keeping its memory).
POOL_MIN_BYTES = 1 << 22
#: Most bytes the pool holds; the buffers used longest ago go first.
POOL_MAX_BYTES = 1 << 28


def empty(shape, dtype):
    """``np.empty`` without numpy's huge-page advice.

    With it, a pass's fresh arrays of tens of MiB made the kernel compact memory to find huge pages (THP
    defrag "madvise", Linux's default): ConvLSTM forward passes of the "large" benchmark size took 3x their
    time until the kernel's pool of free huge pages had grown, alternating with other processes kept them
    slow (asv_bench/README.md), and float64 LSTM training steps at (B=64, H=256) took 1.6-1.8x their time.
    Without it a ConvLSTM pass is up to 12% slower at best and never stalls; a float32 LSTM step is as fast.

    Parameters
    ----------
    shape : int or tuple of int
    dtype : numpy dtype

    Returns
    -------
    numpy.ndarray
    """
    elements = math.prod(shape) if isinstance(shape, tuple) else shape
    if _SET_HUGE_PAGE_ADVICE is None or elements * np.dtype(dtype).itemsize < _HUGE_PAGE_ADVICE_BYTES:
        return np.empty(shape, dtype)
    previous = _SET_HUGE_PAGE_ADVICE(False)
    try:
        return np.empty(shape, dtype)
    finally:
        _SET_HUGE_PAGE_ADVICE(previous)


class BufferPool:
    """Workspace buffers of finished passes, one per size and dtype, for the next pass of that size.

    Parameters
    ----------
    min_bytes : int
        Smaller buffers are not kept.
    max_bytes : int
        Most bytes held; the buffers given back longest ago are dropped first.

    Examples
    --------
    >>> import numpy as np
    >>> pool = BufferPool(min_bytes=0, max_bytes=1 << 20)
    >>> buffer = pool.take(1000, np.float32)
    >>> pool.give(buffer)
    >>> pool.take(1000, np.float32) is buffer
    True
    """

    def __init__(self, min_bytes=POOL_MIN_BYTES, max_bytes=POOL_MAX_BYTES):
        self.min_bytes, self.max_bytes = min_bytes, max_bytes
        self._free = collections.OrderedDict()  # (elements, dtype) -> buffer, the newest last
        self._bytes = 0
        self._lock = threading.Lock()

    def take(self, elements, dtype):
        """A 1-D buffer of ``elements`` items of ``dtype``: one given back earlier, or a new one (:func:`empty`)."""
        dtype = np.dtype(dtype)
        if elements * dtype.itemsize >= self.min_bytes:
            with self._lock:
                buffer = self._free.pop((elements, dtype), None)
                if buffer is not None:
                    self._bytes -= buffer.nbytes
                    return buffer
        return empty(elements, dtype)

    def give(self, buffer):
        """Keep ``buffer`` (from :meth:`take`) for a later pass; nothing may use it after this call."""
        if buffer.nbytes < self.min_bytes or buffer.nbytes > self.max_bytes:
            return
        with self._lock:
            previous = self._free.pop((buffer.size, buffer.dtype), None)
            if previous is not None:
                self._bytes -= previous.nbytes
            self._free[buffer.size, buffer.dtype] = buffer
            self._bytes += buffer.nbytes
            while self._bytes > self.max_bytes:
                _, oldest = self._free.popitem(last=False)
                self._bytes -= oldest.nbytes

    def clear(self):
        """Drop every buffer held (their memory goes back to the system as numpy frees them)."""
        with self._lock:
            self._free.clear()
            self._bytes = 0

    @property
    def nbytes(self):
        """Bytes held now."""
        return self._bytes


#: The pool of the LSTM passes' workspaces; ``POOL.clear()`` hands its memory back.
POOL = BufferPool()


def carve(dtype, *shapes):
    """One buffer from ``POOL``, and C-contiguous arrays of the given shapes cut from it.

    Each array starts on a cache line (kernels/cpu/alignment.py).

    Parameters
    ----------
    dtype : numpy dtype
    *shapes : tuple of int

    Returns
    -------
    buffer : numpy.ndarray
        Give it back with ``POOL.give(buffer)`` once no array cut from it is used any more.
    arrays : list of numpy.ndarray
    """
    itemsize = np.dtype(dtype).itemsize
    total, layout = _carve_layout(itemsize, shapes)
    buffer = POOL.take(total + CACHE_LINE_BYTES // itemsize, dtype)
    base = elements_to_alignment(buffer, CACHE_LINE_BYTES)
    return buffer, [buffer[base + start:base + end].reshape(shape) for start, end, shape in layout]


@functools.lru_cache(maxsize=64)
def _carve_layout(itemsize, shapes):
    """(elements, [(start, end, shape)]) of :func:`carve`: a pass asks for the same shapes call after call."""
    step = CACHE_LINE_BYTES // itemsize
    layout = []
    offset = 0
    for shape in shapes:
        size = math.prod(shape)
        layout.append((offset, offset + size, shape))
        offset += -(-size // step) * step
    return offset, tuple(layout)
