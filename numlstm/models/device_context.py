"""``in_device_context``: run a model method inside the context of the device ``numlstm.dispatch`` names."""

from .. import backend, dispatch


def _current_device(*args, **kwargs):
    return dispatch.current_device()


in_device_context = backend.in_context_of(_current_device)
