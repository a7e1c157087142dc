"""``LambdaCallback``: a callback from plain functions."""

from .callback import Callback


class LambdaCallback(Callback):
    """A callback made of functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``.

    Parameters
    ----------
    on_epoch_begin, on_epoch_end : callable, optional
        Called with ``(epoch, logs)``.
    on_train_begin, on_train_end : callable, optional
        Called with ``(logs)``.
    on_train_batch_begin, on_train_batch_end : callable, optional
        Called with ``(batch, logs)``.
    **kwargs
        Any other hook of :class:`Callback` by name, e.g. ``on_test_end=f``.

    Examples
    --------
    >>> import numlstm
    >>> losses = []
    >>> record = numlstm.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: losses.append(logs["loss"]))
    >>> record.on_epoch_end(0, {"loss": 0.25})
    >>> losses
    [0.25]
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        self.__dict__.update(kwargs)
        hooks = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end, "on_train_begin": on_train_begin,
                 "on_train_end": on_train_end, "on_train_batch_begin": on_train_batch_begin,
                 "on_train_batch_end": on_train_batch_end}
        for name, function in hooks.items():
            if function is not None:
                setattr(self, name, function)
