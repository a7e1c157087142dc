"""``LearningRateScheduler``: set the learning rate from a function of the epoch."""

import numpy as np

from .callback import Callback
from .learning_rate import _fixed_rate, _read_rate


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch from ``schedule``.

    Parameters
    ----------
    schedule : callable
        ``schedule(epoch, lr)`` returns the rate of ``epoch`` (counted from
        0) given the current one, ``lr`` (read as Keras does, through
        float32). A one-argument ``schedule(epoch)`` works too. It must
        return a float (Python or numpy); anything else is a ValueError.
    verbose : int
        1 prints ``Epoch N: LearningRateScheduler setting learning rate to X.``

    Notes
    -----
    The optimizer must have a float learning rate, not a
    ``LearningRateSchedule``. Each epoch's logs get the rate as
    ``learning_rate``.

    Examples
    --------
    >>> import numlstm
    >>> def halve_after_ten(epoch, lr):
    ...     return lr if epoch < 10 else lr * 0.5
    >>> scheduler = numlstm.callbacks.LearningRateScheduler(halve_after_ten)
    >>> model.fit(x, y, epochs=20, callbacks=[scheduler])  # doctest: +SKIP
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        _fixed_rate(optimizer, "LearningRateScheduler")
        try:
            learning_rate = self.schedule(epoch, _read_rate(optimizer))
        except TypeError:  # the one-argument form, schedule(epoch)
            learning_rate = self.schedule(epoch)
        if not isinstance(learning_rate, (float, np.float32, np.float64)):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {learning_rate}")
        optimizer.learning_rate = float(learning_rate)
        if self.verbose > 0:
            self._print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {learning_rate}.")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        logs["learning_rate"] = _read_rate(self.model.optimizer)
