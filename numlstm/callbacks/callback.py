"""The base class of the callbacks that ``fit`` calls."""


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
