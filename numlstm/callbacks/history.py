"""``History``: the epoch logs of a ``fit``, which ``fit`` returns."""

from .callback import Callback


class History(Callback):
    """Per-epoch logs of ``fit``: ``history.history["loss"]`` and so on.

    ``fit`` adds one and returns it. As in Keras, ``history.epoch`` restarts
    with every ``fit`` while ``history.history`` keeps growing when the same
    instance is passed to several, and the model's ``history`` attribute
    points at it.

    Examples
    --------
    >>> import numpy as np
    >>> import numlstm
    >>> model = numlstm.Sequential([numlstm.Input((3,)), numlstm.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> history = model.fit(np.zeros((8, 3)), np.zeros((8, 1)), epochs=2, verbose=0)
    >>> history.epoch, len(history.history["loss"])
    ([0, 1], 2)
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self
