"""``BackupAndRestore``: back up every epoch so that an interrupted ``fit`` resumes exactly."""

import os

from .. import backend, saving, utils
from .callback import Callback


class BackupAndRestore(Callback):
    """Back up the model, optimizer, epoch and random state every epoch; an interrupted fit resumes exactly.

    When ``fit`` starts and a backup exists in ``backup_dir``, training
    continues from the epoch after the backup, with its weights, optimizer
    state and random-number state (so shuffling repeats exactly). The
    backup is one file, written atomically: a crash at any moment leaves
    the previous complete backup.

    Parameters
    ----------
    backup_dir : str or path
        The folder of the backup file (created when needed).
    delete_checkpoint : bool
        Delete the backup once ``fit`` completes.

    Examples
    --------
    Run the same script again after a crash: ``fit`` continues where the last backup left it.

    >>> import numlstm
    >>> backup = numlstm.callbacks.BackupAndRestore("backups/run-1")
    >>> model.fit(x, y, epochs=100, callbacks=[backup])  # doctest: +SKIP
    """

    _STATE_KEY = "backup_and_restore"

    def __init__(self, backup_dir, delete_checkpoint=True):
        super().__init__()
        self.backup_dir, self.delete_checkpoint = os.fspath(backup_dir), delete_checkpoint

    @property
    def _path(self):
        return os.path.join(self.backup_dir, "backup.numlstm")

    def on_train_begin(self, logs=None):
        if not os.path.exists(self._path):
            return
        restored = saving.load_model(self._path)
        state = restored.metadata.get(self._STATE_KEY)
        if not isinstance(state, dict):
            raise saving.FileFormatError(f"{self._path} is not a backup written by BackupAndRestore")
        self.model.set_weights(restored.get_weights())
        self.model.optimizer.iterations = restored.optimizer.iterations
        for variable, saved in zip(self.model.optimizer.variables(), restored.optimizer.variables()):
            backend.assign(variable, saved)
        utils.global_generator().bit_generator.state = state["random_state"]
        self.model.resume_at_epoch(state["epoch"] + 1)

    def on_epoch_end(self, epoch, logs=None):
        if not self.writes_files:
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        state = {"epoch": epoch, "random_state": utils.global_generator().bit_generator.state}
        user_metadata = self.model.metadata
        self.model.metadata = {**user_metadata, self._STATE_KEY: state}
        try:
            self.model.save(self._path)
        finally:
            self.model.metadata = user_metadata

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and self.writes_files and os.path.exists(self._path):
            os.remove(self._path)
