"""The shared logic of the callbacks that watch a logged quantity."""

import numpy as np

from . import arguments
from .callback import Callback


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

    Examples
    --------
    A callback that prints each new best value of the monitored quantity:

    >>> class PrintBest(MonitorCallback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         if self.monitor_op is None:
    ...             self._set_monitor_op()
    ...         current = self._current(logs)
    ...         if self._is_improvement(current, self.best):
    ...             self.best = current
    ...             print(f"epoch {epoch}: best {self.monitor} {current}")
    >>> callback = PrintBest(monitor="loss", mode="min")
    >>> callback.on_epoch_end(0, {"loss": 0.5})
    epoch 0: best loss 0.5
    >>> callback.on_epoch_end(1, {"loss": 0.7})
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            # Keras warns and falls back to "auto"; a misspelt mode is more
            # likely a mistake than a wish for "auto".
            raise ValueError(f"{type(self).__name__}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor = arguments.check_name(self, "monitor", monitor)
        self.mode = mode
        self.best = arguments.check_number(self, "baseline", baseline, optional=True)
        self.min_delta = abs(arguments.check_number(self, "min_delta", min_delta))
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
