"""``ReduceLROnPlateau``: lower the learning rate when a monitored quantity stops improving."""

import numpy as np

from . import arguments
from .learning_rate import _fixed_rate, _read_rate
from .monitor_callback import MonitorCallback


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by ``factor`` when a monitored quantity has stopped improving.

    After ``patience`` epochs without improvement the rate becomes
    ``max(lr * factor, min_lr)`` (unless it is already at ``min_lr``), then
    ``cooldown`` epochs pass before epochs count towards patience again.
    Each epoch's logs get the rate of that epoch as ``learning_rate`` (the
    rate before any reduction at its end).

    Parameters
    ----------
    monitor : str
        The quantity to watch; default ``"val_loss"``.
    factor : float
        In (0, 1): the new rate is ``lr * factor``.
    patience : int
        Epochs without improvement before a reduction.
    verbose : int
        1 prints ``Epoch N: ReduceLROnPlateau reducing learning rate to X.``
    mode : {"auto", "min", "max"}
        See :class:`MonitorCallback`.
    min_delta : float
        An improvement must beat the best value by more than this.
    cooldown : int
        Epochs after a reduction during which no epoch counts towards patience.
    min_lr : float
        The rate is never reduced below this.

    Examples
    --------
    >>> import numlstm
    >>> reduce = numlstm.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5, min_lr=1e-4)
    >>> model.fit(x, y, validation_split=0.2, epochs=100, callbacks=[reduce])  # doctest: +SKIP
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, **kwargs):
        super().__init__(monitor, mode, min_delta=min_delta)
        factor = arguments.check_number(self, "factor", factor)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}")
        if not factor > 0:  # Keras accepts it; a rate of zero or less would stop or reverse training
            raise ValueError(f"ReduceLROnPlateau needs a factor in (0, 1). Received factor={factor}")
        self.factor = factor
        self.min_lr = arguments.check_number(self, "min_lr", min_lr)
        self.patience = arguments.check_count(self, "patience", patience)
        self.verbose = arguments.check_count(self, "verbose", verbose)
        self.cooldown = arguments.check_count(self, "cooldown", cooldown)
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self):
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()
        # Keras fails only when the first reduction comes; failing here spares the epochs before it.
        _fixed_rate(self.model.optimizer, "ReduceLROnPlateau")

    def _reduce_lr(self, epoch):
        optimizer = self.model.optimizer
        old_lr = _read_rate(optimizer)
        if old_lr > np.float32(self.min_lr):
            new_lr = max(old_lr * self.factor, self.min_lr)
            optimizer.learning_rate = float(new_lr)
            if self.verbose > 0:
                self._print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
            return True
        return False

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        logs["learning_rate"] = _read_rate(self.model.optimizer)
        current = self._current(logs)
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce_lr(epoch):
                # At min_lr already, nothing is reduced: no cooldown, and
                # the patience count keeps growing.
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def in_cooldown(self):
        """True during the ``cooldown`` epochs after a reduction."""
        return self.cooldown_counter > 0
