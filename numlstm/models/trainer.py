"""Keras' compile / fit for every model (Model and Sequential share it).

A model provides ``_forward(xs, training)`` (outputs and a tape) and
``_backward(tape, d_outputs, ops)`` (weight gradients); :class:`Trainer`
turns data, losses, metrics and callbacks into steps over them, with the
per-batch steps from :mod:`.training_steps` and ``evaluate``/``predict``
from :mod:`.inference`.
"""

import collections
import math
import sys
import time

import numpy as np

from .. import backend, dispatch, functional, losses, optimizers, utils
from ..callbacks import CallbackList, History
from .batches import ArrayBatches, IterableBatches
from .compile_notice import CompileNotice
from .compiled_metrics import CompiledMetrics
from .device_context import in_device_context
from .fit_arguments import (_auto_verbosity, _bar_size, _batch_size_argument, _count_argument, _integer_argument,
                            _per_step, _strategy)
from .inference import Inference
from .training_steps import TrainingSteps


class Trainer(TrainingSteps, Inference):
    """Keras' ``compile``, ``fit``, ``evaluate`` and ``predict``, shared by ``Model`` and ``Sequential``."""

    def __init__(self):
        self.optimizer = None
        self.stop_training = False
        self._losses = None  # one Loss (or None) per output, once compiled
        self._accepted_targets = None  # (the losses, shape, dtype) of the last targets that passed the checks
        self._loss_weights = None
        self._metrics = None  # CompiledMetrics, once compiled
        self._resume_from_epoch = None  # where the fit in progress starts, once a callback restored a backup

    # -- compile ---------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, weighted_metrics=None):
        """Set the optimizer, the loss(es) and the metrics, as Keras' ``compile``.

        Parameters
        ----------
        optimizer : str or Optimizer
        loss : str, Loss, or a list/dict of them aligned with the outputs
            One loss for several outputs applies to each of them. A dict may
            leave outputs out (they get no loss).
        metrics : list of str or Metric; for several outputs a list of lists or a dict
        loss_weights : list or dict of floats, optional
            The total loss is the weighted sum of the outputs' losses.
        weighted_metrics : like ``metrics``, optional
            Metrics that weigh each sample by ``sample_weight`` (and ``class_weight``); ``metrics`` do not.
        """
        self.optimizer = optimizers.get(optimizer)
        if loss is None:
            raise ValueError(f"{self.name}.compile needs a loss")
        self._compile_settings = (loss, metrics, loss_weights, weighted_metrics)
        if self._layers is not None:
            self._compile_for_outputs()

    def _compile_for_outputs(self):
        """Resolve the compile settings against the outputs (Sequential knows them once built)."""
        loss, metrics, loss_weights, weighted_metrics = self._compile_settings
        outputs = self._output_structure
        if isinstance(loss, (list, tuple)) and len(outputs) == 1:
            if len(loss) != 1:  # Keras takes a one-item list for one output, as it does loss_weights
                raise ValueError(f"loss holds {len(loss)} items; the model has one output ({outputs.names[0]})")
            given = list(loss)
        elif isinstance(loss, (list, tuple, dict)):
            given = outputs.aligned(loss, "loss", allow_missing=True)
        else:
            given = [loss] * len(outputs)
        self._losses = [None if item is None else losses.get(item) for item in given]
        if all(item is None for item in self._losses):
            raise ValueError(f"{self.name}.compile: the loss names no output; outputs: {outputs.names}")
        if loss_weights is None:
            weights = [1.0] * len(outputs)
        elif len(outputs) == 1 and not isinstance(loss_weights, dict):
            single = loss_weights[0] if isinstance(loss_weights, (list, tuple)) and len(loss_weights) == 1 \
                else loss_weights
            if isinstance(single, bool) or not isinstance(single, (int, float)):
                raise ValueError(f"loss_weights must be a number (or a one-item list) for one output, got "
                                 f"{loss_weights!r}")
            weights = [float(single)]
        else:
            weights = [1.0 if w is None else float(w)
                       for w in outputs.aligned(loss_weights, "loss_weights", allow_missing=True)]
        self._loss_weights = weights
        self._metrics = CompiledMetrics(outputs, self._losses, metrics, weighted_metrics)
        self._relayout_if_trainable_changed()
        if self._params is not None:
            self.optimizer.build(self._trainable_params, self._trainable_sizes())

    def get_compile_config(self):
        """The compile settings as data, as saved files record them; None before they are resolved.

        A Sequential model compiled before it was built resolves its settings
        against its outputs when it builds, and has none to report until then.

        Returns
        -------
        dict or None
            ``optimizer`` and one ``loss`` entry per output (None for an
            output without a loss), each ``{"class_name": ..., "config":
            {...}}``; ``loss_weights``, one float per output; ``metrics`` and
            ``weighted_metrics``, each output's metric names.

        Examples
        --------
        >>> model = numlstm.Sequential([numlstm.Input((4, 2)), numlstm.layers.LSTM(3), numlstm.layers.Dense(1)])
        >>> model.compile("adam", "mse", metrics=["mae"])
        >>> config = model.get_compile_config()
        >>> config["loss"], config["metrics"]
        ([{'class_name': 'MeanSquaredError', 'config': {}}], [['mae']])
        """
        if self._losses is None:
            return None
        return {
            "optimizer": {"class_name": type(self.optimizer).__name__, "config": self.optimizer.get_config()},
            "loss": [None if loss is None else {"class_name": type(loss).__name__, "config": loss.get_config()}
                     for loss in self._losses],
            "loss_weights": self._loss_weights,
            "metrics": self._metrics.saved_names(weighted=False),
            "weighted_metrics": self._metrics.saved_names(weighted=True),
        }

    def resume_at_epoch(self, epoch):
        """Make the ``fit`` in progress continue at ``epoch`` (counted from 0), not at ``initial_epoch``.

        For a callback's ``on_train_begin`` that restored the weights and
        optimizer state of a backup (:class:`numlstm.callbacks.BackupAndRestore`);
        each ``fit`` forgets it when it starts.

        Parameters
        ----------
        epoch : int
            The first epoch to run.

        Examples
        --------
        >>> class StartLater(numlstm.callbacks.Callback):
        ...     def on_train_begin(self, logs=None):
        ...         self.model.resume_at_epoch(3)
        """
        self._resume_from_epoch = int(epoch)

    def metric_for_log_key(self, key):
        """The metric logged under ``key`` (``label_accuracy`` for several outputs), or None."""
        return None if self._metrics is None else self._metrics.for_key(key)

    def _metric_logs(self):
        return self._metrics.logs()

    @property
    def loss(self):
        """The loss of a single-output model (the first output's for several), or None before compile."""
        if not self._losses:
            return None
        return self._losses[0] if len(self._losses) == 1 else self._losses

    @property
    def metrics(self):
        """The compiled metric objects (weighted ones included), every output's, in log order."""
        return [] if self._metrics is None else self._metrics.all

    def _require_compiled(self, what):
        if self._losses is None and getattr(self, "_compile_settings", None) is None:
            raise ValueError(f"{self.name}: call compile(optimizer, loss) before {what}")

    # -- fit -------------------------------------------------------------------------
    @in_device_context
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1,
            distribute=None):
        """Keras' fit: mini-batch training; returns the History callback.

        Parameters
        ----------
        x, y : arrays (lists or dicts of arrays for several inputs or outputs)
            ``x`` may instead be an iterable or generator of ``(x, y)`` or
            ``(x, y, sample_weight)`` batches (``y`` None then); a generator
            needs ``steps_per_epoch``, a re-iterable object is read anew each
            epoch.
        batch_size : int, optional
            A positive integer (None: 32, as in Keras).
        epochs : int
            The epoch to stop before, an integer >= 0 (0 trains nothing, as in Keras).
        verbose : "auto", 0, 1 or 2
            1, a progress bar per epoch (steps, ETA, time per step, loss and
            metrics); 2, one line per epoch; 0, silent; "auto" (the default), 1
            when standard output is a terminal (or a notebook) and 2 otherwise,
            so that a log file gets one line per epoch, as in Keras.
        validation_data : (x, y) or (x, y, sample_weight), optional
            Or an iterable or generator of such batches (a generator needs ``validation_steps``).
        validation_split : float
            The fraction of the samples (the last ones, before shuffling) held out for validation.
        shuffle : bool
            Draw a new order of the samples every epoch.
        callbacks : list of numlstm.callbacks.Callback, optional
        class_weight : dict, optional
            Class index -> weight of its samples' losses (single-output models).
        sample_weight : array (samples,), optional
            Each sample's weight in the loss (a list or dict, one per output, for several).
        initial_epoch : int
            The epoch to start at (resuming an earlier fit).
        steps_per_epoch : int, optional
            Batches per epoch (needed for a generator).
        validation_steps : int, optional
            Batches per validation (needed for a validation generator).
        validation_batch_size : int, optional
            Rows per validation batch (``batch_size`` by default).
        validation_freq : int
            Validate after every ``validation_freq``-th epoch.
        distribute : numlstm.distributed.MPIStrategy, optional
            Data-parallel training over MPI (``batch_size`` stays the global batch).
        """
        strategy = _strategy(distribute)
        try:
            return self._fit(strategy, x=x, y=y, batch_size=batch_size, epochs=epochs, verbose=verbose,
                             callbacks=callbacks, validation_split=validation_split, validation_data=validation_data,
                             shuffle=shuffle, class_weight=class_weight, sample_weight=sample_weight,
                             initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
                             validation_steps=validation_steps, validation_batch_size=validation_batch_size,
                             validation_freq=validation_freq)
        except BaseException as exc:
            strategy.abort(exc)  # one process: re-raises; MPI: this rank's error ends every rank
            raise

    def _fit(self, strategy, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data, shuffle,
             class_weight, sample_weight, initial_epoch, steps_per_epoch, validation_steps, validation_batch_size,
             validation_freq):
        self._require_compiled("fit")
        batch_size = _batch_size_argument(batch_size)
        validation_batch_size = batch_size if validation_batch_size is None else \
            _batch_size_argument(validation_batch_size)
        validation_freq = _integer_argument(validation_freq, "validation_freq", 1, "a positive integer")
        if validation_steps is not None:
            validation_steps = _integer_argument(validation_steps, "validation_steps", 1, "a positive integer or None")
        epochs = _count_argument(epochs, "epochs")
        initial_epoch = _count_argument(initial_epoch, "initial_epoch")
        if steps_per_epoch is not None:
            steps_per_epoch = _integer_argument(steps_per_epoch, "steps_per_epoch", 1, "a positive integer or None")
        if verbose not in ("auto", 0, 1, 2):
            raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
        validation_split = utils._real_argument(validation_split, "validation_split")
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")
        if IterableBatches.takes(x):
            if y is not None or sample_weight is not None or validation_split:
                raise ValueError("fit on an iterable of batches takes y and sample weights from the batches; "
                                 "leave y, sample_weight and validation_split unset")
            if strategy.size > 1:
                raise ValueError("distribute takes arrays; split an iterable of batches over the ranks yourself")
            batches = IterableBatches(x, steps_per_epoch, self, class_weight)
        else:
            xs, ys, weights = self._batch_arrays(x, y, sample_weight, class_weight)
            if validation_data is None and validation_split > 0:
                split = int(math.floor(len(xs[0]) * (1 - validation_split)))
                head = [[None if a is None else a[:split] for a in group] for group in (xs, ys, weights)]
                tail = [[None if a is None else a[split:] for a in group] for group in (xs, ys, weights)]
                (xs, ys, weights), validation_data = head, ArrayBatches(*tail, validation_batch_size)
            batches = ArrayBatches(xs, ys, weights, batch_size, steps_per_epoch)
        if IterableBatches.takes(validation_data):
            if strategy.size > 1:
                raise ValueError("distribute takes validation arrays, not an iterable of batches")
            validation_data = IterableBatches(validation_data, validation_steps, self, None)
        elif validation_data is not None and not isinstance(validation_data, ArrayBatches):
            validation_data = self._validation_batches(validation_data, validation_batch_size, validation_steps)
        if strategy.size > 1:
            self._check_distributable()
        history = History()
        # History last, as in Keras: it records what the others logged.
        callbacks = CallbackList(list(callbacks or []) + [history])
        callbacks.set_model(self)
        callbacks.set_params({"verbose": verbose, "epochs": epochs, "steps": batches.steps})
        callbacks.writes_files = strategy.is_main
        verbose = _auto_verbosity() if verbose == "auto" else verbose
        if not strategy.is_main:
            verbose = 0
        if isinstance(self.optimizer, optimizers.LBFGS):
            if not isinstance(batches, ArrayBatches):
                raise ValueError("L-BFGS is full-batch: give fit arrays, not an iterable of batches")
            return self._fit_lbfgs(batches, epochs, initial_epoch, verbose, callbacks, validation_data, history)
        announced = bool(verbose) and dispatch.current_device() == "cpu" and self._say_if_compiling()
        self.stop_training = False
        self._resume_from_epoch = None
        self._place()  # the weights in this model's buffer on its device before ranks share them
        callbacks.on_train_begin({})
        strategy.start(self)
        if self._resume_from_epoch is not None:  # a callback restored a backup in on_train_begin
            initial_epoch = self._resume_from_epoch
        # Later steps may compile more (a batch of several rows, a second dtype): said if it takes long.
        with CompileNotice(enabled=bool(verbose) and not announced):
            for epoch in range(initial_epoch, epochs):
                started = time.perf_counter()
                validating = validation_data is not None and (epoch + 1) % validation_freq == 0
                logs, done = self._fit_epoch(epoch, epochs, batches, shuffle, verbose, callbacks,
                                             validation_data if validating else None, strategy)
                callbacks.on_epoch_end(epoch, logs)
                if verbose == 2:  # after the callbacks, as Keras' progress logger: it shows what they logged
                    elapsed = time.perf_counter() - started
                    print(f"Epoch {epoch + 1}/{epochs} - {done}/{batches.steps or done} - {elapsed:.0f}s - "
                          f"{_per_step(elapsed / done)} - " + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
                if self.stop_training:
                    break
        callbacks.on_train_end({})
        return history

    def _validation_batches(self, validation_data, batch_size, steps):
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("validation_data must be (x, y), (x, y, sample_weight) or an iterable of such batches")
        return ArrayBatches(*self._batch_arrays(*validation_data), batch_size, steps)

    def _check_distributable(self):
        stateful = [layer.name for layer in self._inner_layers() if getattr(layer, "stateful", False)]
        if stateful:
            raise ValueError(f"stateful layers ({', '.join(stateful)}) cannot train data-parallel: their state "
                             "would follow one rank's share of the batch; use stateful=False")
        if isinstance(self.optimizer, optimizers.LBFGS):
            raise ValueError("L-BFGS is full-batch and single-process; use another optimizer with distribute")

    def _fit_epoch(self, epoch, epochs, batches, shuffle, verbose, callbacks, validation_data, strategy):
        callbacks.on_epoch_begin(epoch, {})
        for metric in self.metrics:
            metric.reset()
        steps = batches.steps
        totals, seen = collections.defaultdict(float), 0
        from tqdm.auto import tqdm  # here, not at import: it takes a tenth of numlstm's import time

        bar = tqdm(total=steps, desc=f"Epoch {epoch + 1}/{epochs}", unit="step", file=sys.stdout,
                   disable=verbose != 1, leave=True, **_bar_size())
        logs = {}
        order = strategy.broadcast_order(batches.order(shuffle, utils.global_generator()))
        step = -1
        for step, batch in enumerate(batches.epoch(order)):
            callbacks.on_train_batch_begin(step, {})
            batch_logs, flat = self._batch_gradient(batch, strategy)
            self._step(flat)
            rows = batch[3]
            batch_logs = {k: float(v) for k, v in batch_logs.items()}  # the step's one wait for the device
            for key, value in batch_logs.items():
                totals[key] += value * rows
            seen += rows
            logs = {**{k: v / seen for k, v in totals.items()}, **self._metric_logs()}
            bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
            bar.update(1)
            callbacks.on_train_batch_end(step, {**logs, **batch_logs})
            if self.stop_training:
                break
        if step < 0:
            raise ValueError("fit got no batches in this epoch: the iterable of batches is empty or exhausted "
                             "(a generator needs steps_per_epoch, and must yield that many batches every epoch)")
        if strategy.size > 1:  # the epoch's metrics over every rank's shares
            self._reduce_metrics(strategy, [])
            logs.update(self._metric_logs())
        if validation_data is not None:
            logs.update({f"val_{k}": v for k, v in self._evaluate_logs(validation_data, strategy).items()})
            bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=True)
        bar.close()
        logs = strategy.broadcast_logs(logs)
        strategy.synchronize(self)
        return logs, step + 1

    def _say_if_compiling(self):
        """Print that the first step compiles the CPU kernels, when it will (a silent minute looks like a hang);
        whether it did."""
        from ..kernels.cpu import convlstm as convlstm_kernels
        from ..layers.conv_lstm import ConvLSTM

        inner = [getattr(layer, "forward_layer", layer) for layer in self.layers]
        if any(isinstance(layer, ConvLSTM) for layer in inner):
            kernels, loops, duration = "ConvLSTM", convlstm_kernels.FORWARD_LOOP.values(), "about 15 s on two cores"
        else:
            kernels, loops, duration = "LSTM", None, "about 8 s on two cores"
        if not functional.first_pass_compiles(loops):
            return False
        print(f"numlstm: compiling the {kernels} kernels for this machine before the first step ({duration}, "
              "once: later runs load them from Numba's cache)", flush=True)
        return True

    def _fit_lbfgs(self, batches, epochs, initial_epoch, verbose, callbacks, validation_data, history):
        from scipy.optimize import minimize

        xs, ys, weights = batches.xs, batches.ys, batches.weights
        trainable = self._trainable_params

        def loss_and_gradient(flat):
            backend.assign(trainable, flat.astype(trainable.dtype))
            value, _, grads = self._loss_and_flat_grads(xs, ys, weights, update_metrics=False)
            return float(value), backend.to_host(grads).astype(np.float64)

        epoch = [initial_epoch]
        everything = ArrayBatches(xs, ys, weights, batches.rows)

        def after_iteration(flat):
            backend.assign(trainable, flat.astype(trainable.dtype))
            self.optimizer.iterations += 1
            logs = self._evaluate_logs(everything)
            if validation_data is not None:
                logs.update({f"val_{k}": v for k, v in self._evaluate_logs(validation_data).items()})
            if verbose:
                print(f"L-BFGS iteration {epoch[0] + 1}/{epochs} - "
                      + " - ".join(f"{k}: {v:.6g}" for k, v in logs.items()))
            callbacks.on_epoch_end(epoch[0], logs)
            epoch[0] += 1
            if self.stop_training:
                raise StopIteration

        callbacks.on_train_begin({})
        settings = self.optimizer
        if epochs > initial_epoch:
            minimize(loss_and_gradient, backend.to_host(trainable).astype(np.float64), jac=True, method="L-BFGS-B",
                     callback=after_iteration,
                     options={"maxiter": epochs - initial_epoch, "maxcor": settings.maxcor, "gtol": settings.gtol,
                              "ftol": settings.ftol})
        callbacks.on_train_end({})
        return history

    # -- saving ----------------------------------------------------------------------
    def save(self, path):
        """Write one ``.numlstm`` zip file: structure, weights, compile settings and optimizer state.

        Parameters
        ----------
        path : str or path-like
            Written atomically: a crash never leaves a half-written file.
        """
        from ..saving import save_model

        save_model(self, path)

    def save_weights(self, path):
        """Write the weights alone (an ``.npz`` file, atomically).

        Parameters
        ----------
        path : str or path-like
        """
        from ..saving import save_weights

        save_weights(self, path)

    def load_weights(self, path):
        """Read weights written by ``save_weights`` into this model (the same architecture).

        Parameters
        ----------
        path : str or path-like
        """
        from ..saving import load_weights

        load_weights(self, path)
