"""Callbacks with Keras 3's names, defaults and semantics.

The callbacks that watch a logged quantity (``EarlyStopping``,
``ReduceLROnPlateau``, ``ModelCheckpoint``) take the same decisions as
Keras 3.15's on the same sequence of values: the same epoch to stop, the
same learning rates, the same files, the same messages (``verbose=1``).
Where numlstm differs on purpose, it is stricter: a monitored quantity
missing from the logs, or an unknown ``mode``, is an error rather than a
warning.
"""

import collections
import csv
import os
import warnings

import numpy as np

from . import backend, saving, utils
from .optimizers import LearningRateSchedule


class Callback:
    """Base class of the callbacks ``fit`` calls: override the hooks you need.

    ``fit`` gives each callback the model (``self.model``) before training
    and then calls ``on_train_begin``, ``on_epoch_begin``,
    ``on_train_batch_begin``/``on_train_batch_end`` around every step,
    ``on_epoch_end`` with the epoch's logs (``loss``, metrics, ``val_``
    versions) and ``on_train_end``. Epochs count from 0, as in Keras.

    Examples
    --------
    >>> import numlstm
    >>> class PrintLoss(numlstm.callbacks.Callback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         print(epoch, logs["loss"])
    """

    # False on the ranks other than 0 of a data-parallel fit: callbacks that
    # write files (checkpoints, logs, backups) or print messages leave it to
    # rank 0, so a job writes each file and each message once.
    writes_files = True

    def __init__(self):
        self.model = None
        self.params = None

    def set_params(self, params):
        """Keep ``fit``'s settings (``epochs``, ``steps``, ``verbose``) as ``self.params``."""
        self.params = params

    def set_model(self, model):
        """Keep the model being trained as ``self.model``."""
        self.model = model

    def _print(self, message):
        """Keras' ``io_utils.print_msg``: the message and a newline on stdout, on rank 0 only."""
        if self.writes_files:
            print(message, flush=True)

    def on_train_begin(self, logs=None):
        """Called once when ``fit`` starts."""

    def on_train_end(self, logs=None):
        """Called once when ``fit`` ends, stopped early or not."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of epoch ``epoch`` (counted from 0)."""

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of epoch ``epoch`` with its logs: ``loss``, the metrics, their ``val_`` versions."""

    # As in Keras, the train-batch hooks call the older on_batch_* names, so a
    # subclass written against either set of names is called.
    def on_train_batch_begin(self, batch, logs=None):
        """Called before training step ``batch`` of the epoch; calls ``on_batch_begin``."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        """Called after training step ``batch`` with the epoch's logs so far; calls ``on_batch_end``."""
        self.on_batch_end(batch, logs=logs)

    def on_batch_begin(self, batch, logs=None):
        """Keras' older name of ``on_train_batch_begin``, which calls it."""

    def on_batch_end(self, batch, logs=None):
        """Keras' older name of ``on_train_batch_end``, which calls it."""

    def on_test_begin(self, logs=None):
        """Keras' hook at the start of ``evaluate``; numlstm's ``evaluate`` takes no callbacks, so never called."""

    def on_test_end(self, logs=None):
        """Keras' hook at the end of ``evaluate``; never called (see ``on_test_begin``)."""

    def on_test_batch_begin(self, batch, logs=None):
        """Keras' hook before each batch of ``evaluate``; never called (see ``on_test_begin``)."""

    def on_test_batch_end(self, batch, logs=None):
        """Keras' hook after each batch of ``evaluate``; never called (see ``on_test_begin``)."""

    def on_predict_begin(self, logs=None):
        """Keras' hook at the start of ``predict``; numlstm's ``predict`` takes no callbacks, so never called."""

    def on_predict_end(self, logs=None):
        """Keras' hook at the end of ``predict``; never called (see ``on_predict_begin``)."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Keras' hook before each batch of ``predict``; never called (see ``on_predict_begin``)."""

    def on_predict_batch_end(self, batch, logs=None):
        """Keras' hook after each batch of ``predict``; never called (see ``on_predict_begin``)."""


class History(Callback):
    """Per-epoch logs of ``fit``: ``history.history["loss"]`` and so on.

    ``fit`` adds one and returns it. As in Keras, ``history.epoch`` restarts
    with every ``fit`` while ``history.history`` keeps growing when the same
    instance is passed to several, and the model's ``history`` attribute
    points at it.
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


# Keras' metrics declare which way is better (``_direction``); numlstm's
# metrics of the same names follow it by class, subclasses included.
_UP = {"Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
       "SparseTopKCategoricalAccuracy", "Precision", "Recall", "AUC", "PrecisionAtRecall", "RecallAtPrecision",
       "SensitivityAtSpecificity", "SpecificityAtSensitivity", "FBetaScore", "F1Score", "IoU", "MeanIoU",
       "BinaryIoU", "OneHotIoU", "OneHotMeanIoU", "CosineSimilarity", "R2Score", "PearsonCorrelation",
       "ConcordanceCorrelation"}
_DOWN = {"MeanAbsoluteError", "MeanSquaredError", "RootMeanSquaredError", "MeanAbsolutePercentageError",
         "MeanSquaredLogarithmicError", "LogCoshError", "Hinge", "SquaredHinge", "CategoricalHinge",
         "KLDivergence", "Poisson", "BinaryCrossentropy", "CategoricalCrossentropy",
         "SparseCategoricalCrossentropy"}


def _metric_direction(metric):
    """"up" or "down" for a metric object, as Keras decides it; None if the metric does not say."""
    direction = getattr(metric, "_direction", None)
    if direction is not None:
        return direction
    for cls in type(metric).__mro__:
        if cls.__name__ in _UP:
            return "up"
        if cls.__name__ in _DOWN:
            return "down"
    return None


def _model_metrics(model):
    """The model's metric objects, those inside containers (as Keras' CompileMetrics) included."""
    found = []
    for metric in getattr(model, "metrics", None) or []:
        inner = getattr(metric, "metrics", None)
        found.extend(inner if isinstance(inner, (list, tuple)) else [metric])
    return found


def _metrics_named(model, name):
    """The model's metrics logged as ``name`` (a model with several outputs logs ``{output}_{metric}``)."""
    lookup = getattr(model, "metric_for_log_key", None)
    keyed = lookup(name) if lookup is not None else None
    if keyed is not None:
        return [keyed]
    return [metric for metric in _model_metrics(model) if getattr(metric, "name", None) == name]


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


class MonitorCallback(Callback):
    """Shared logic of the callbacks that watch a logged quantity (Keras' ``MonitorCallback``).

    Parameters
    ----------
    monitor : str
        The key of the epoch logs to watch, e.g. ``"val_loss"``.
    mode : {"auto", "min", "max"}
        Whether smaller or larger is better. ``"auto"`` decides as Keras
        does, at the first epoch's end: ``loss`` and ``val_loss`` are
        minimised; for other names, the model's metric of that name (without
        ``val_``) says (accuracies are maximised; mae, mse, rmse minimised;
        a custom metric may set ``_direction = "up"`` or ``"down"``);
        anything else is an error asking for an explicit mode.
    baseline : float, optional
        The initial best value.
    min_delta : float
        An improvement must beat the best by more than this.
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            # Keras warns and falls back to "auto"; a misspelt mode is more
            # likely a mistake than a wish for "auto".
            raise ValueError(f"{type(self).__name__}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        if self.mode == "min":
            self.monitor_op = np.less
        elif self.mode == "max":
            self.monitor_op = np.greater
        else:
            metric_name = self.monitor.removeprefix("val_")
            if metric_name == "loss":
                self.monitor_op = np.less
            for metric in _metrics_named(self.model, metric_name):
                direction = _metric_direction(metric)
                if direction is not None:
                    self.monitor_op = np.greater if direction == "up" else np.less
            if self.monitor_op is None:
                raise ValueError(
                    f"{type(self).__name__} callback received monitor={self.monitor}, but numlstm isn't able to "
                    "automatically determine whether that metric should be maximized or minimized. Pass "
                    "`mode='max'` in order to monitor based on the highest metric value, or pass `mode='min'` "
                    "in order to use the lowest value.")
        if self.monitor_op is np.less:
            self.min_delta *= -1

    def _is_improvement(self, monitor_value, reference_value):
        if reference_value is None:
            return True
        # Keras compares through keras.ops, which makes float32 tensors of
        # Python floats (JAX, TensorFlow, torch): values closer than float32
        # resolves are equal there, and so here.
        return bool(self.monitor_op(np.float32(monitor_value - self.min_delta), np.float32(reference_value)))

    def _current(self, logs):
        if not logs or self.monitor not in logs:
            names = list(logs or {})
            hint = ("check the name" if not self.monitor.startswith("val_") or any(n.startswith("val_") for n in names)
                    else "pass validation data (validation_data or validation_split) for val_ metrics")
            raise ValueError(f"{type(self).__name__} monitors {self.monitor!r}, which is not in the logs "
                             f"({', '.join(names) or 'none'}); {hint}")
        return logs[self.monitor]


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
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = restore_best_weights
        self.best_weights = None
        self.start_from_epoch = start_from_epoch

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
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}")
        if not factor > 0:  # Keras accepts it; a rate of zero or less would stop or reverse training
            raise ValueError(f"ReduceLROnPlateau needs a factor in (0, 1). Received factor={factor}")
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
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


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is NaN or infinite.

    Parameters
    ----------
    raise_error : bool
        False (default): print ``Batch N: Invalid loss, terminating training``
        and stop gracefully (``on_train_end`` runs). True: raise a
        RuntimeError at once, so no other callback's ``on_train_end`` runs.
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


class CSVLogger(Callback):
    """Write each epoch's logs as a row of a CSV file, as Keras does.

    The columns are ``epoch`` and the log keys in sorted order, fixed by the
    first epoch; when that epoch has no ``val_`` keys, ``val_`` columns are
    added for every key (Keras' provision for validation that starts
    later). A missing value is written ``NA``.

    Parameters
    ----------
    filename : str or path
    separator : str
        The field delimiter.
    append : bool
        Append to an existing file (its header is kept, and written only
        if the file is empty) instead of overwriting it.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = None
        self.writer = None
        self.keys = None
        if not self.writes_files:
            return
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename) as existing:
                    self.append_header = not bool(len(existing.readline()))
            mode = "a"
        else:
            mode = "w"
        self.csv_file = open(self.filename, mode, newline="")

    def on_epoch_end(self, epoch, logs=None):
        if self.csv_file is None:
            return
        logs = logs or {}

        def handle_value(value):
            if isinstance(value, str):
                return value
            if isinstance(value, collections.abc.Iterable) and not (isinstance(value, np.ndarray) and value.ndim == 0):
                return f'"[{", ".join(map(str, value))}]"'
            return value

        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys.extend([f"val_{key}" for key in self.keys])
        if not self.writer:
            class Dialect(csv.excel):
                delimiter = self.sep

            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + (self.keys or []), dialect=Dialect)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, handle_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


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
        self.verbose = verbose
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
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
        self.model._resume_from_epoch = state["epoch"] + 1

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
