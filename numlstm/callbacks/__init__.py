"""Callbacks with Keras 3's names, defaults and semantics.

The callbacks that watch a logged quantity (``EarlyStopping``,
``ReduceLROnPlateau``, ``ModelCheckpoint``) take the same decisions as
Keras 3.15's on the same sequence of values: the same epoch to stop, the
same learning rates, the same files, the same messages (``verbose=1``).
Where numlstm differs on purpose, it is stricter: a monitored quantity
missing from the logs, or an unknown ``mode``, is an error rather than a
warning.
"""

from .backup_and_restore import BackupAndRestore
from .callback import Callback, CallbackList
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .history import History
from .lambda_callback import LambdaCallback
from .learning_rate_scheduler import LearningRateScheduler
from .model_checkpoint import ModelCheckpoint
from .monitor_callback import MonitorCallback
from .reduce_lr_on_plateau import ReduceLROnPlateau
from .terminate_on_nan import TerminateOnNaN

__all__ = ["Callback", "CallbackList", "History", "MonitorCallback", "EarlyStopping", "ReduceLROnPlateau", "LearningRateScheduler",
           "TerminateOnNaN", "CSVLogger", "LambdaCallback", "ModelCheckpoint", "BackupAndRestore"]
