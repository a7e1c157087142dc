"""``TerminateOnNaN``: stop training when the loss is NaN or infinite."""

import numpy as np

from .callback import Callback


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is NaN or infinite.

    Parameters
    ----------
    raise_error : bool
        False (default): print ``Batch N: Invalid loss, terminating training``
        and stop gracefully (``on_train_end`` runs). True: raise a
        RuntimeError at once, so no other callback's ``on_train_end`` runs.

    Examples
    --------
    >>> import numlstm
    >>> stop = numlstm.callbacks.TerminateOnNaN(raise_error=True)
    >>> model.fit(x, y, epochs=100, callbacks=[stop])  # doctest: +SKIP
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and (np.isnan(loss) or np.isinf(loss)):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                                   "Terminating training immediately.")
            self._print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
