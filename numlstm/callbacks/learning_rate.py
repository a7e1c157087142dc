"""Reading and checking an optimizer's learning rate, for the callbacks that set it."""

import numpy as np

from ..optimizers import LearningRateSchedule


def _read_rate(optimizer):
    """The optimizer's learning rate as Keras reads it.

    Keras holds the rate in a float32 variable and computes from what it
    reads back; going through float32 here gives the same rates, logs and
    messages (0.01 reads as 0.009999999776482582, as in Keras).
    """
    rate = optimizer.learning_rate
    if isinstance(rate, LearningRateSchedule):
        rate = optimizer.current_learning_rate()
    return float(np.float32(rate))


def _fixed_rate(optimizer, callback):
    """Fail early, with the reason, where the callback could not set the learning rate."""
    rate = getattr(optimizer, "learning_rate", None)
    if isinstance(rate, LearningRateSchedule):
        raise ValueError(f"{callback} sets the learning rate, which this optimizer takes from a schedule "
                         f"({type(rate).__name__}); give the optimizer a float learning rate")
    if not isinstance(rate, (float, int, np.floating)) or isinstance(rate, bool):
        raise ValueError(f"{callback} needs an optimizer with a learning rate; "
                         f"{type(optimizer).__name__} has {rate!r}")
