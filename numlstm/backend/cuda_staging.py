"""Transfers that wait only for what they copy: small arrays staged through page-locked host buffers.

A copy from ordinary (pageable) host memory starts only once the device
has finished everything queued before it, and a copy to pageable memory
returns only once the device has finished everything queued before it too
(CUDA's "API synchronization behavior"). So a layer that uploads in the
middle of a training step (a dropout mask drawn on the host) stalls the
host until the device has caught up, and a loss read at the end of a step
waits for the whole backward pass and update, after which the device
idles while the host prepares the next step. A copy from or to
page-locked memory is queued like a kernel:

- :func:`upload` copies a host array into a page-locked buffer and queues
  the copy to the device from there;
- :func:`download` queues the copy of a device array into a page-locked
  buffer and returns a :class:`Download`, whose ``result()`` waits for
  that copy alone (an event recorded after it), not for the launches
  queued after it.

A buffer serves again once the event after its last copy has passed and,
for a download, once its result has been taken (or the download dropped).
Buffers come in powers of two and go with their context; arrays above the
caller's ``largest`` (``GpuMemoryOptions.staged_transfer_bytes``),
and transfers beyond ``BUDGET`` bytes of buffers, are copied the ordinary
way.
"""

import collections
import threading

import numba
import numpy as np
from numba import cuda

from ..kernels.cuda.memory import device_array, to_device
from .cpu import Ready

BUDGET = 1 << 26
_SMALLEST = 256


class StagingPool:
    """Page-locked buffers of one context, each with the event that marks the end of its last copy."""

    def __init__(self):
        self.idle = collections.defaultdict(collections.deque)  # capacity: deque of (buffer, event)
        self.held_bytes = 0
        self._lock = threading.Lock()

    def upload(self, array, largest):
        """A device copy of the C-contiguous host ``array``, queued on the default stream; None when the
        array is empty or above ``largest`` bytes, or the budget is spent (the caller copies it the ordinary
        way)."""
        taken = self._take(array.nbytes, largest)
        if taken is None:
            return None
        capacity, buffer, event = taken
        staged = _view(buffer, array)
        staged[...] = array
        out = device_array(array.shape, array.dtype)
        stream = cuda.default_stream()
        out.copy_to_device(staged, stream=stream)
        event.record(stream)
        self.give_back(capacity, buffer, event)
        return out

    def download(self, array, largest):
        """A :class:`Download` of the device ``array``, its copy queued on the default stream; None as for
        :meth:`upload`, and for an array that is not C-contiguous."""
        taken = self._take(array.nbytes, largest) if array.is_c_contiguous() else None
        if taken is None:
            return None
        capacity, buffer, event = taken
        staged = _view(buffer, array)
        stream = cuda.default_stream()
        array.copy_to_host(staged, stream=stream)
        event.record(stream)
        return Download(self, capacity, buffer, event, staged)

    def give_back(self, capacity, buffer, event):
        """``buffer`` serves again once ``event`` has passed."""
        with self._lock:
            self.idle[capacity].append((buffer, event))

    def _take(self, nbytes, largest):
        """(capacity, buffer, event): an idle buffer whose last copy has passed, else a new one; None."""
        if not 0 < nbytes <= largest:
            return None
        capacity = max(_SMALLEST, 1 << (nbytes - 1).bit_length())
        with self._lock:
            buffers = self.idle[capacity]
            if buffers and _passed(buffers[0][1]):
                return (capacity, *buffers.popleft())
            if self.held_bytes + capacity > BUDGET:
                return None
            self.held_bytes += capacity
        return capacity, cuda.pinned_array(capacity, np.uint8), _event()


class Download:
    """A host copy of a device array, queued into a page-locked buffer. ``result()`` waits for that copy
    alone, then gives (always the same) numpy copy of it."""

    def __init__(self, pool, capacity, buffer, event, staged):
        self._pool, self._capacity, self._buffer, self._event, self._staged = pool, capacity, buffer, event, staged
        self._result = None

    def result(self):
        if self._result is None:
            self._event.synchronize()
            self._result = self._staged.copy()
            self._release()
        return self._result

    def _release(self):
        if self._pool is not None:
            self._pool.give_back(self._capacity, self._buffer, self._event)
            self._pool = self._buffer = self._staged = None

    def __del__(self):  # dropped unread: the buffer serves again once its copy has passed
        self._release()


def _view(buffer, array):
    return buffer[:array.nbytes].view(array.dtype).reshape(array.shape)


def _event():
    # no timing: cheaper to record and query; the simulator's events take no options
    return cuda.event() if numba.config.ENABLE_CUDASIM else cuda.event(timing=False)


def _passed(event):
    # The simulator's events have no query: all its work is done when a call returns.
    query = getattr(event, "query", None)
    return query is None or query()


_simulator_pool = StagingPool()


def pool():
    """The staging pool of numba's current context, kept in the context's own ``extras``: it goes with the
    context (a reset starts a fresh one)."""
    context = cuda.current_context()
    extras = getattr(context, "extras", None)
    if extras is None:  # the simulator makes a stand-in context per call, and never resets
        return _simulator_pool
    staging = extras.get("numlstm.staging")
    if staging is None:
        staging = extras["numlstm.staging"] = StagingPool()
    return staging


def upload(array, largest):
    """``array`` (host, C-contiguous) on the device, staged when it is at most ``largest`` bytes: the copy
    does not wait for the device to finish the work queued before it."""
    out = pool().upload(array, largest)
    return to_device(array) if out is None else out


def download(array, largest):
    """A host copy of the device ``array`` to be taken by ``result()``: staged when it is C-contiguous and
    at most ``largest`` bytes, so that ``result()`` waits only for the copy, else copied the ordinary way
    now."""
    pending = pool().download(array, largest)
    return Ready(array.copy_to_host()) if pending is None else pending
