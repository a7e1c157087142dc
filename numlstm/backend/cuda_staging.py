"""Uploads that do not wait for the device: small host arrays staged through page-locked buffers.

A copy from ordinary (pageable) host memory starts only once the device
has finished everything queued before it (CUDA's "API synchronization
behavior"), so a layer that uploads in the middle of a training step, a
dropout mask drawn on the host, say, stalls the host until the device
has caught up, and the device then idles while the host queues the rest.
A copy from page-locked memory is queued like a kernel. :func:`upload`
copies an array into a page-locked buffer on the host and queues the
copy from there on the default stream; the buffer serves another upload
once an event recorded after its copy has passed.

Buffers come in powers of two and go with their context; arrays above
``config.GPU_OPTIONS["staged_upload_bytes"]``, and uploads beyond
``BUDGET`` bytes of buffers still in flight, are copied the ordinary way.
"""

import collections
import threading

import numba
import numpy as np
from numba import cuda

BUDGET = 1 << 26
_SMALLEST = 256


class StagingPool:
    """Page-locked buffers of one context, each with the event that marks the end of its last copy."""

    def __init__(self):
        self.in_flight = collections.defaultdict(collections.deque)  # capacity: deque of (buffer, event)
        self.held_bytes = 0
        self._lock = threading.Lock()

    def upload(self, array, largest):
        """A device copy of the C-contiguous ``array``, queued on the default stream; None when the array
        is empty or above ``largest`` bytes, or the budget is spent (the caller copies it the ordinary way)."""
        if not 0 < array.nbytes <= largest:
            return None
        capacity = max(_SMALLEST, 1 << (array.nbytes - 1).bit_length())
        with self._lock:
            buffers = self.in_flight[capacity]
            if buffers and _passed(buffers[0][1]):
                buffer, event = buffers.popleft()
            elif self.held_bytes + capacity <= BUDGET:
                buffer, event = cuda.pinned_array(capacity, np.uint8), _event()
                self.held_bytes += capacity
            else:
                return None
            staged = buffer[:array.nbytes].view(array.dtype).reshape(array.shape)
            staged[...] = array
            out = cuda.device_array(array.shape, array.dtype)
            stream = cuda.default_stream()
            out.copy_to_device(staged, stream=stream)
            event.record(stream)
            buffers.append((buffer, event))
        return out


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
    return cuda.to_device(array) if out is None else out
