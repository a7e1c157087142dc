"""Callbacks with Keras 3's names, defaults and semantics."""

import csv
import math
import os

import numpy as np


class Callback:
    # False on the ranks other than 0 of a data-parallel fit: callbacks that
    # write files (checkpoints, logs, backups) leave it to rank 0.
    writes_files = True

    def __init__(self):
        self.model = None

    def set_model(self, model):
        self.model = model

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass


class History(Callback):
    """Per-epoch logs of ``fit``: ``history.history["loss"]`` and so on."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.history, self.epoch = {}, []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


class _Monitor(Callback):
    """Shared logic: which log value to watch and which direction is better."""

    def __init__(self, monitor, mode, min_delta):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        self.maximize = mode == "max" or (mode == "auto" and "acc" in monitor)
        self.min_delta = abs(min_delta)

    def _current(self, logs):
        if not logs or self.monitor not in logs:
            names = list(logs or {})
            hint = ("check the name" if not self.monitor.startswith("val_") or any(n.startswith("val_") for n in names)
                    else "pass validation data (validation_data or validation_split) for val_ metrics")
            raise ValueError(f"{type(self).__name__} monitors {self.monitor!r}, which is not in the logs "
                             f"({', '.join(names) or 'none'}); {hint}")
        return logs[self.monitor]

    def _improved(self, value, best):
        if best is None:
            return True
        return value > best + self.min_delta if self.maximize else value < best - self.min_delta


class EarlyStopping(_Monitor):
    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta)
        self.patience, self.baseline = patience, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch
        self.stopped_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait, self.best, self.best_weights, self.stopped_epoch = 0, self.baseline, None, 0

    def on_epoch_end(self, epoch, logs=None):
        value = self._current(logs)
        if epoch < self.start_from_epoch:
            return
        if self._improved(value, self.best):
            self.best, self.wait = value, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None and self.stopped_epoch:
            self.model.set_weights(self.best_weights)


class ReduceLROnPlateau(_Monitor):
    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta)
        if not 0 < factor < 1:
            raise ValueError(f"factor must be in (0, 1), got {factor!r}")
        self.factor, self.patience, self.cooldown, self.min_lr = factor, patience, cooldown, min_lr

    def on_train_begin(self, logs=None):
        self.wait, self.best, self.cooldown_left = 0, None, 0
        if not isinstance(self.model.optimizer.learning_rate, float):
            raise ValueError("ReduceLROnPlateau needs a fixed learning rate, not a schedule")

    def on_epoch_end(self, epoch, logs=None):
        value = self._current(logs)
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.wait = 0
        if self._improved(value, self.best):
            self.best, self.wait = value, 0
        elif self.cooldown_left == 0:
            self.wait += 1
            if self.wait >= self.patience:
                optimizer = self.model.optimizer
                optimizer.learning_rate = max(optimizer.learning_rate * self.factor, self.min_lr)
                self.cooldown_left, self.wait = self.cooldown, 0
        logs["learning_rate"] = self.model.optimizer.learning_rate


class TerminateOnNaN(Callback):
    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.model.stop_training = True


class CSVLogger(Callback):
    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.separator, self.append = os.fspath(filename), separator, append

    def on_train_begin(self, logs=None):
        self._keys = None
        self._file = None
        if not self.writes_files:
            return
        self._new_file = not (self.append and os.path.exists(self.filename))
        self._file = open(self.filename, "a" if self.append else "w", newline="")

    def on_epoch_end(self, epoch, logs=None):
        if self._file is None:
            return
        logs = logs or {}
        if self._keys is None:
            self._keys = sorted(logs)
            self._writer = csv.writer(self._file, delimiter=self.separator)
            if self._new_file:
                self._writer.writerow(["epoch"] + self._keys)
        self._writer.writerow([epoch] + [logs.get(key, np.nan) for key in self._keys])
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()


class LambdaCallback(Callback):
    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None):
        super().__init__()
        for name, function in locals().items():
            if name.startswith("on_") and function is not None:
                setattr(self, name, function)


class ModelCheckpoint(_Monitor):
    """Save the model (or its weights) after each epoch; ``filepath`` may use ``{epoch}`` and log keys."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto"):
        super().__init__(monitor, mode, 0.0)
        self.filepath, self.save_best_only, self.save_weights_only = os.fspath(filepath), save_best_only, save_weights_only

    def on_train_begin(self, logs=None):
        self.best = None

    def on_epoch_end(self, epoch, logs=None):
        if self.save_best_only:
            value = self._current(logs)
            if not self._improved(value, self.best):
                return
            self.best = value
        if not self.writes_files:
            return
        path = self.filepath.format(epoch=epoch + 1, **(logs or {}))
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class BackupAndRestore(Callback):
    """Back up the model, optimizer, epoch and random state every epoch; an interrupted fit resumes exactly.

    When ``fit`` starts and a backup exists in ``backup_dir``, training
    continues from the epoch after the backup, with its weights, optimizer
    state and random-number state (so shuffling repeats exactly). The
    backup is one file, written atomically: a crash at any moment leaves
    the previous complete backup.
    """

    _STATE_KEY = "backup_and_restore"

    def __init__(self, backup_dir, delete_checkpoint=True):
        super().__init__()
        self.backup_dir, self.delete_checkpoint = os.fspath(backup_dir), delete_checkpoint

    @property
    def _path(self):
        return os.path.join(self.backup_dir, "backup.numlstm")

    def on_train_begin(self, logs=None):
        from . import backend, saving, utils

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
        self.model._resume_from_epoch = state["epoch"] + 1

    def on_epoch_end(self, epoch, logs=None):
        from . import utils

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
