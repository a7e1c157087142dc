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


def _call_each(hook):
    """A CallbackList method that calls ``hook`` of every callback in the list, in order, with the same logs."""
    def call_each(self, *args, **kwargs):
        for callback in self.callbacks:
            getattr(callback, hook)(*args, **kwargs)

    call_each.__name__ = call_each.__qualname__ = hook
    call_each.__doc__ = f"Call ``{hook}`` of every callback, in order."
    return call_each


class CallbackList(Callback):
    """Several callbacks called as one, in order: ``fit`` calls its callbacks through one of these.

    Every hook passes the same ``logs`` dict to each callback in turn, so a
    callback sees what those before it added (``History``, last, records
    the learning rate that ``ReduceLROnPlateau`` logged).

    Parameters
    ----------
    callbacks : iterable of Callback, optional
        The callbacks, in the order their hooks run.

    Examples
    --------
    >>> import numlstm
    >>> seen = []
    >>> callbacks = CallbackList([numlstm.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(e)),
    ...                           numlstm.callbacks.History()])
    >>> callbacks.on_train_begin({})
    >>> callbacks.on_epoch_end(0, {"loss": 0.5})
    >>> seen, callbacks.callbacks[1].history
    ([0], {'loss': [0.5]})
    """

    def __init__(self, callbacks=None):
        super().__init__()
        self.callbacks = list(callbacks or [])
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError("callbacks must be numlstm.callbacks.Callback instances, got "
                                f"{type(callback).__name__}")

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)

    @property
    def writes_files(self):
        """Whether the callbacks write files and print (True but on the ranks other than 0 of an MPI fit)."""
        return all(callback.writes_files for callback in self.callbacks)

    @writes_files.setter
    def writes_files(self, value):
        for callback in self.callbacks:
            callback.writes_files = value

    def set_params(self, params):
        """Give ``fit``'s settings to every callback."""
        self.params = params
        for callback in self.callbacks:
            callback.set_params(params)

    def set_model(self, model):
        """Give the model being trained to every callback."""
        self.model = model
        for callback in self.callbacks:
            callback.set_model(model)


# Every hook Callback defines, so that the list passes on whatever fit calls.
for _hook in [name for name in vars(Callback) if name.startswith("on_")]:
    setattr(CallbackList, _hook, _call_each(_hook))
