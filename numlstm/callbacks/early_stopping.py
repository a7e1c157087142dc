"""``EarlyStopping``: stop training when a monitored quantity stops improving."""

from . import arguments
from .monitor_callback import MonitorCallback


class EarlyStopping(MonitorCallback):
    """Stop training when a monitored quantity has stopped improving.

    Training stops at the end of the epoch that makes ``patience`` epochs in
    a row without improvement (with ``patience=0``, the first epoch that
    does not improve, never epoch 0).

    Parameters
    ----------
    monitor : str
        The quantity to watch; default ``"val_loss"``.
    min_delta : float
        An improvement must beat the best value by more than this.
    patience : int
        Epochs without improvement after which training stops.
    verbose : int
        1 prints ``Epoch N: early stopping`` and, when weights are restored,
        ``Restoring model weights from the end of the best epoch: K.``
    mode : {"auto", "min", "max"}
        See :class:`MonitorCallback`.
    baseline : float, optional
        A value to beat: an epoch that improves on the best so far but not
        on ``baseline`` does not reset the patience count, so a run that
        never beats it stops after ``patience`` epochs.
    restore_best_weights : bool
        At the end of training (stopped early or not), set the weights of
        the best epoch; if none improved on ``baseline``, of the best epoch
        seen. False keeps the last epoch's weights.
    start_from_epoch : int
        Epochs to ignore at the start (a warm-up with no improvement expected).

    Examples
    --------
    >>> import numlstm
    >>> stop = numlstm.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    >>> model.fit(x, y, validation_split=0.2, epochs=100, callbacks=[stop])  # doctest: +SKIP
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = arguments.check_count(self, "patience", patience)
        self.verbose = arguments.check_count(self, "verbose", verbose)
        self.baseline = arguments.check_number(self, "baseline", baseline, optional=True)
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = arguments.check_flag(self, "restore_best_weights", restore_best_weights)
        self.best_weights = None
        self.start_from_epoch = arguments.check_count(self, "start_from_epoch", start_from_epoch)

    def on_train_begin(self, logs=None):
        # A new fit starts from scratch: the same instance may serve several.
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = self._current(logs)
        if self.monitor_op is None:  # here, not earlier: the model's metrics are known by now
            self._set_monitor_op()
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Until an epoch improves, the first monitored one counts as the best.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # The patience count restarts only once the baseline is beaten too.
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def get_monitor_value(self, logs):
        """The monitored value in ``logs``; a ValueError naming the keys there if it is missing."""
        return self._current(logs)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            self._print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                self._print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)
