"""``ModelCheckpoint``: save the model, or its best version, every epoch."""

import os
import warnings

import numpy as np

from . import arguments
from .monitor_callback import MonitorCallback


class ModelCheckpoint(MonitorCallback):
    """Save the model (or its weights) at the end of every epoch, or of every epoch that improves.

    Parameters
    ----------
    filepath : str or path
        Where to save. It may hold format fields filled with the epoch
        (counted from 1) and the epoch's log values, e.g.
        ``"ckpt-{epoch:02d}-{val_loss:.2f}.numlstm"``; a field the logs lack
        is a KeyError. Missing folders are created.
    monitor : str
        The quantity that decides the best model; default ``"val_loss"``.
    verbose : int
        1 prints Keras' messages: ``Epoch N: val_loss improved from A to B,
        saving model to PATH``, ``... did not improve from A``, ``Epoch N:
        saving model to PATH`` and ``Epoch N: finished saving model to PATH``.
    save_best_only : bool
        Save only when the monitored quantity improves on the best so far
        (which carries over between ``fit`` calls, as in Keras).
    save_weights_only : bool
        ``model.save_weights(path)`` instead of ``model.save(path)``.
    mode : {"auto", "min", "max"}
        See :class:`MonitorCallback`.
    save_freq : "epoch"
        Only ``"epoch"``: numlstm does not checkpoint every N batches.
    initial_value_threshold : float, optional
        With ``save_best_only``, the value the first saved epoch must beat.

    Examples
    --------
    >>> import numlstm
    >>> checkpoint = numlstm.callbacks.ModelCheckpoint("best.numlstm", monitor="val_loss", save_best_only=True)
    >>> model.fit(x, y, validation_split=0.2, epochs=50, callbacks=[checkpoint])  # doctest: +SKIP
    >>> best = numlstm.load_model("best.numlstm")  # doctest: +SKIP
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose = arguments.check_count(self, "verbose", verbose)
        self.filepath = arguments.check_path(self, "filepath", filepath)
        self.save_best_only = arguments.check_flag(self, "save_best_only", save_best_only)
        self.save_weights_only = arguments.check_flag(self, "save_weights_only", save_weights_only)
        if isinstance(save_freq, int) and not isinstance(save_freq, bool):
            raise ValueError(f"ModelCheckpoint saves once per epoch: save_freq must be 'epoch' in numlstm, "
                             f"got {save_freq}")
        if save_freq != "epoch":
            raise ValueError(f"Unrecognized save_freq: {save_freq}. Expected save_freq is 'epoch'")
        self.save_freq = save_freq

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        self._save_model(epoch, logs or {})

    def _get_file_path(self, epoch, logs):
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". Reason: {e}') from None

    def _should_save_model(self, epoch, logs, filepath):
        if not self.save_best_only:
            if self.verbose > 0:
                self._print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = self._current(logs)
        if np.ndim(current) > 0:
            warnings.warn(f"Can save best model only when `monitor` is a scalar value. Received: {current}. "
                          "Falling back to `save_best_only=False`.", stacklevel=3)
            return True
        best_str = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                self._print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best_str} to {current:.5f}, "
                            f"saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            self._print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best_str}")
        return False

    def _save_model(self, epoch, logs):
        filepath = self._get_file_path(epoch, logs)
        # Every rank decides (and so keeps the same best); rank 0 writes.
        if not self._should_save_model(epoch, logs, filepath) or not self.writes_files:
            return
        try:
            dirname = os.path.dirname(filepath)
            if dirname and not os.path.exists(dirname):
                os.makedirs(dirname)
            if self.save_weights_only:
                self.model.save_weights(filepath)
            else:
                self.model.save(filepath)
        except IsADirectoryError:
            raise IOError("Please specify a non-directory filepath for ModelCheckpoint. "
                          f"Filepath used is an existing directory: {filepath}") from None
        if self.verbose > 0:
            self._print(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")
