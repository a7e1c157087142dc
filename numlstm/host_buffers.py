"""Host memory of the CPU passes: large arrays without huge-page stalls, and workspaces kept for the next pass.

A training step's workspaces are the same shapes step after step. ``POOL`` keeps each pass's workspace once the
pass is done, for the next pass of the same shapes, which saves two costs:

- Freed, a buffer larger than malloc's mmap threshold goes back to the operating system, and the next step's
  first touch of its replacement faults in every page again: at the xlarge benchmark size (B=64, T=25,
  512 features, 512 units) the two workspaces of a step are 50 MB, and the page faults cost the float32
  training step 15-20% (2-core Zen 3, against the same run with glibc told to keep its memory).
- Cutting a buffer into a pass's arrays (alignment, slices, reshapes) took 8-10 us of a tiny model's
  forward pass of 80 us (B=1, T=100, H=32); a kept workspace comes back already cut.
"""

import collections
import math
import threading
from typing import NamedTuple

import numpy as np

from .kernels.cpu.alignment import CACHE_LINE_BYTES, elements_to_alignment

# numpy's switch for advising the kernel to back its large arrays with transparent huge pages (numpy 2).
_SET_HUGE_PAGE_ADVICE = getattr(getattr(getattr(np, "_core", None), "multiarray", None), "_set_madvise_hugepage",
                                None)
_HUGE_PAGE_ADVICE_BYTES = 1 << 22  # numpy advises from this size on (alloc.c, indicate_hugepages)

#: Most bytes the pool holds; the buffers given back longest ago go first.
POOL_MAX_BYTES = 1 << 28
#: Most buffers the pool holds (a model's passes need a few shapes: its layers', and the last batch's).
POOL_MAX_BUFFERS = 64


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


class CarvedBuffer(NamedTuple):
    """One buffer and the C-contiguous arrays cut from it.

    Each array starts on a cache line (kernels/cpu/alignment.py).

    Attributes
    ----------
    buffer : numpy.ndarray
        1-D; every array is a view of it.
    arrays : tuple of numpy.ndarray
        One per shape, in order.
    shapes : tuple of tuple of int
    """

    buffer: np.ndarray
    arrays: tuple
    shapes: tuple


class BufferPool:
    """The carved buffers of finished passes, one per dtype and list of shapes, for the next pass of those shapes.

    Parameters
    ----------
    max_bytes : int
        Most bytes held; the buffers given back longest ago are dropped first.
    max_buffers : int
        Most buffers held, likewise.

    Examples
    --------
    >>> import numpy as np
    >>> pool = BufferPool(max_bytes=1 << 20)
    >>> carved = pool.take(np.float32, ((2, 3), (4,)))
    >>> [a.shape for a in carved.arrays]
    [(2, 3), (4,)]
    >>> pool.give(carved)
    >>> pool.take(np.float32, ((2, 3), (4,))) is carved
    True
    """

    def __init__(self, max_bytes=POOL_MAX_BYTES, max_buffers=POOL_MAX_BUFFERS):
        self.max_bytes, self.max_buffers = max_bytes, max_buffers
        self._free = collections.OrderedDict()  # (dtype, shapes) -> CarvedBuffer, the newest last
        self._bytes = 0
        self._lock = threading.Lock()

    def take(self, dtype, shapes):
        """A :class:`CarvedBuffer` of ``dtype`` cut into arrays of ``shapes``: one given back, or a new one.

        Parameters
        ----------
        dtype : numpy dtype
        shapes : tuple of tuple of int
        """
        dtype = np.dtype(dtype)
        with self._lock:
            carved = self._free.pop((dtype, shapes), None)
            if carved is not None:
                self._bytes -= carved.buffer.nbytes
                return carved
        return _new_carved_buffer(dtype, shapes)

    def give(self, carved):
        """Keep ``carved`` (from :meth:`take`) for a later pass.

        Nothing may use it or its arrays after this call.
        """
        nbytes = carved.buffer.nbytes
        if nbytes > self.max_bytes:
            return
        key = (carved.buffer.dtype, carved.shapes)
        with self._lock:
            previous = self._free.pop(key, None)
            if previous is not None:
                self._bytes -= previous.buffer.nbytes
            self._free[key] = carved
            self._bytes += nbytes
            while self._bytes > self.max_bytes or len(self._free) > self.max_buffers:
                _, oldest = self._free.popitem(last=False)
                self._bytes -= oldest.buffer.nbytes

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
    """One buffer cut into C-contiguous arrays of the given shapes, from ``POOL``.

    Parameters
    ----------
    dtype : numpy dtype
    *shapes : tuple of int

    Returns
    -------
    CarvedBuffer
        Give it back with ``POOL.give(carved)`` once no array cut from it is used any more.
    """
    return POOL.take(dtype, shapes)


def _new_carved_buffer(dtype, shapes):
    step = CACHE_LINE_BYTES // dtype.itemsize
    layout = []
    total = 0
    for shape in shapes:
        size = math.prod(shape)
        layout.append((total, total + size, shape))
        total += -(-size // step) * step
    buffer = empty(total + step, dtype)
    base = elements_to_alignment(buffer, CACHE_LINE_BYTES)
    arrays = tuple(buffer[base + start:base + end].reshape(shape) for start, end, shape in layout)
    return CarvedBuffer(buffer, arrays, shapes)
