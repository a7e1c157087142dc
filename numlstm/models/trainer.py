"""Keras' compile / fit / evaluate for every model (Model and Sequential share it).

A model provides ``_forward(xs, training)`` (outputs and a tape) and
``_backward(tape, d_outputs, ops)`` (weight gradients); this module turns
data, losses, metrics and callbacks into steps over them.
"""

import collections
import math
import os
import sys
import time

import numpy as np
from tqdm.auto import tqdm

from .. import backend, dispatch, functional, losses, optimizers, utils
from ..callbacks import Callback, History
from ..distributed import LOCAL, LocalStrategy
from . import structures
from .batches import ArrayBatches, IterableBatches
from .compiled_metrics import CompiledMetrics


def _current_device(*args, **kwargs):
    return dispatch.current_device()


in_device_context = backend.in_context_of(_current_device)


class Trainer:
    def __init__(self):
        self.optimizer = None
        self.stop_training = False
        self._losses = None  # one Loss (or None) per output, once compiled
        self._loss_weights = None
        self._metrics = None  # CompiledMetrics, once compiled

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
        if isinstance(loss, (list, tuple, dict)):
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

    # -- one batch -------------------------------------------------------------------
    def _targets(self, y, argument="y"):
        """``y`` as a list aligned with the outputs (None where an output has no loss), as arrays."""
        given = self._output_structure.aligned(y, argument, allow_missing=True)
        arrays = []
        for item, loss, name in zip(given, self._losses, self.output_names):
            if loss is None:
                arrays.append(None)
                continue
            if item is None:
                raise ValueError(f"{argument} has no targets for output {name!r}, which has a loss")
            arrays.append(structures.as_arrays([item], argument if len(given) == 1 else f"{argument}[{name!r}]",
                                               [name])[0])
        return arrays

    def _weights_per_output(self, sample_weight, samples, argument="sample_weight"):
        if sample_weight is None:
            return [None] * len(self._losses)
        if isinstance(sample_weight, (list, tuple, dict)) and len(self._losses) > 1:
            given = self._output_structure.aligned(sample_weight, argument, allow_missing=True)
            return [None if w is None else structures.sample_weights(w, samples, argument) for w in given]
        return [structures.sample_weights(sample_weight, samples, argument)] * len(self._losses)

    def _prepared_targets(self, ops, ys, samples):
        """Each output's targets as its loss takes them, prepared (on the GPU: uploaded) before the forward
        pass is queued, where the output's shape is known; else as they are."""
        prepared = []
        for tensor, loss, y in zip(self._outputs, self._losses, ys):
            shape = (samples,) + tuple(tensor.shape[1:])
            if loss is None or None in shape[1:]:
                prepared.append(y)
                continue
            try:
                prepared.append(ops.loss_targets(loss, y, shape, self._params.dtype))
            except ValueError:  # the loss repeats its checks against the real output, and names what is wrong
                prepared.append(y)
        return prepared

    def _loss_values(self, ops, outputs, targets, weights, with_gradients=True):
        """(total loss, per-output losses, gradients of the outputs); a single unweighted loss stays where the
        device left it (``float()`` reads it), so that nothing waits for the device before the step is queued."""
        values, d_outputs = [], []
        for output, loss, y, scale, weight in zip(outputs, self._losses, targets, self._loss_weights, weights):
            if loss is None:
                values.append(None)
                d_outputs.append(None)
                continue
            output_ops = backend.array_ops(output)
            if weight is None:
                value, gradient = output_ops.loss_value_and_gradient(loss, y, output)
            else:
                value, gradient = output_ops.loss_value_and_gradient(loss, y, output, sample_weight=weight)
            if scale != 1.0 and with_gradients:
                gradient = output_ops.scale(gradient, scale)
            values.append(value)
            d_outputs.append(gradient)
        present = [(v, s) for v, s in zip(values, self._loss_weights) if v is not None]
        total = present[0][0] if len(present) == 1 and present[0][1] == 1.0 else \
            sum(float(v) * s for v, s in present)
        return total, values, d_outputs

    def _loss_and_flat_grads(self, xs, ys, weights, update_metrics=True):
        """(loss, per-output losses, flat trainable gradient, all gradients) of one batch."""
        ops = self._place()
        samples = len(xs[0])
        targets = self._prepared_targets(ops, ys, samples)
        outputs, tape = self._forward(xs, training=True)
        total, values, d_outputs = self._loss_values(ops, outputs, targets, weights)
        fetches = self._queue_metric_fetches(outputs) if update_metrics else None
        grads = self._backward(tape, d_outputs, ops)
        if fetches is not None:
            self._update_metrics(ys, weights, fetches)
        return total, values, self._flat_trainable(ops, grads), grads

    def _queue_metric_fetches(self, outputs):
        """Downloads of the outputs that have metrics, queued before the backward pass."""
        if not self._metrics.has_any():
            return None
        return [backend.array_ops(o).to_host_async(o) if self._metrics.has_any(i) else None
                for i, o in enumerate(outputs)]

    def _update_metrics(self, ys, weights, fetches):
        self._metrics.update(ys, weights, [None if fetch is None else fetch.result() for fetch in fetches])

    def _batch_logs(self, total, values):
        logs = {"loss": total}
        if len(self._losses) > 1:
            logs.update({f"{name}_loss": v for name, v in zip(self.output_names, values) if v is not None})
        return logs

    def _batch_gradient(self, batch, strategy):
        """Logs and flat gradient of one batch; with several ranks, of the whole global batch."""
        xs, ys, weights, rows = batch
        if strategy.size == 1:
            total, values, flat, _ = self._loss_and_flat_grads(xs, ys, weights)
            return self._batch_logs(total, values), flat
        start, stop = strategy.shard(rows)
        count = stop - start
        trainable = self._trainable_params
        names = list(self._batch_logs(0.0, [0.0] * len(self._losses)))
        if count:
            local = [[None if a is None else a[start:stop] for a in group] for group in (xs, ys, weights)]
            total, values, flat, _ = self._loss_and_flat_grads(*local)
            logs = self._batch_logs(float(total), [None if v is None else float(v) for v in values])
            flat = backend.to_host(flat)
        else:
            logs = dict.fromkeys(names, 0.0)
            flat = np.zeros(trainable.shape, trainable.dtype)
        # One Allreduce: the gradient and the logged losses, each weighted by the share's size.
        summed = strategy.reduce_sums(np.concatenate([flat * count, [logs[k] * count for k in names]]))
        mean = (summed[:len(flat)] / rows).astype(trainable.dtype)
        logs = {k: v / rows for k, v in zip(names, summed[len(flat):])}
        return logs, backend.array_ops(trainable).from_host(mean)

    def _step(self, flat):
        if self._layout[2]:  # a model whose every weight is frozen has nothing to update
            self.optimizer.apply(self._trainable_params, flat)

    @in_device_context
    def compute_gradients(self, x, y, sample_weight=None):
        """The loss of one batch and its gradient with respect to every weight, without updating any.

        Parameters
        ----------
        x, y : arrays, or lists or dicts of arrays
            One batch of inputs and targets, in the model's structures.
        sample_weight : array (samples,), optional

        Returns
        -------
        loss : float
        grads : list of arrays
            Aligned one to one with ``get_weights()``, frozen layers' included.
        """
        self._require_compiled("compute_gradients")
        xs, ys, weights = self._batch_arrays(x, y, sample_weight)
        total, _, _, grads = self._loss_and_flat_grads(xs, ys, weights, update_metrics=False)
        return float(total), [backend.to_host(g) for g in grads]

    @in_device_context
    def train_on_batch(self, x, y, sample_weight=None, class_weight=None):
        """One optimizer step on one batch; returns the batch's loss before the step.

        Parameters
        ----------
        x, y : arrays, or lists or dicts of arrays
        sample_weight : array (samples,), optional
        class_weight : dict, optional
        """
        self._require_compiled("train_on_batch")
        if isinstance(self.optimizer, optimizers.LBFGS):
            raise ValueError("L-BFGS is full-batch: use fit, not train_on_batch")
        xs, ys, weights = self._batch_arrays(x, y, sample_weight, class_weight)
        total, _, flat, _ = self._loss_and_flat_grads(xs, ys, weights, update_metrics=False)
        self._step(flat)
        return float(total)

    @in_device_context
    def test_on_batch(self, x, y, sample_weight=None):
        """The loss of one batch in inference mode (dropout off), without updating anything.

        Parameters
        ----------
        x, y : arrays, or lists or dicts of arrays
        sample_weight : array (samples,), optional
        """
        self._require_compiled("test_on_batch")
        xs, ys, weights = self._batch_arrays(x, y, sample_weight)
        outputs = self._forward(xs, False)[0]
        return float(self._loss_values(self._place(), outputs, ys, weights, with_gradients=False)[0])

    def _batch_arrays(self, x, y, sample_weight=None, class_weight=None):
        """(inputs, targets, per-output sample weights) as aligned lists of checked arrays."""
        xs = self._ready_inputs(x)
        ys = self._targets(y)
        samples = len(xs[0])
        counts = [len(t) for t in ys if t is not None]
        if any(count != samples for count in counts):
            raise ValueError(f"x and y must hold the same number of samples, got {samples} and "
                             f"{counts[0] if len(counts) == 1 else counts}")
        weights = self._weights_per_output(sample_weight, samples)
        if class_weight is not None:
            weights = self._with_class_weights(class_weight, ys, weights, samples)
        return xs, ys, weights

    def _with_class_weights(self, class_weight, ys, weights, samples):
        if len(self._losses) > 1:
            raise ValueError("class_weight is for single-output models, as in Keras; pass sample_weight instead")
        class_based = structures.class_weights(class_weight, ys[0], samples)
        return [class_based if w is None else w * class_based.reshape((-1,) + (1,) * (w.ndim - 1))
                for w in weights]

    def _ready_inputs(self, x):
        """``x`` checked and aligned with the inputs; Sequential builds itself here from the first data."""
        return self._input_arrays(x)

    # -- evaluate --------------------------------------------------------------------
    def _evaluate_logs(self, batches, strategy=None):
        strategy = strategy or LOCAL
        for metric in self.metrics:
            metric.reset()
        ops = self._place()
        totals = collections.defaultdict(float)
        seen = 0
        pending = collections.deque()

        def settle(entry):
            logs, rows, ys, weights, fetches = entry
            if fetches is not None:
                self._update_metrics(ys, weights, fetches)
            for key, value in logs.items():
                totals[key] += float(value) * rows

        for xs, ys, weights, rows in batches.shard(strategy):
            targets = self._prepared_targets(ops, ys, rows)
            outputs = self._forward(xs, False)[0]
            total, values, _ = self._loss_values(ops, outputs, targets, weights, with_gradients=False)
            pending.append((self._batch_logs(total, values), rows, ys, weights, self._queue_metric_fetches(outputs)))
            seen += rows
            if len(pending) > 1:  # one batch queued ahead, as in predict
                settle(pending.popleft())
        while pending:
            settle(pending.popleft())
        names = list(self._batch_logs(0.0, [0.0] * len(self._losses)))
        sums = self._reduce_metrics(strategy, [totals[k] for k in names] + [seen])
        count = sums[-1]
        if not count:
            raise ValueError("the validation or evaluation data gave no batches (a generator given as "
                             "validation_data needs validation_steps, and must yield that many every epoch)")
        return {**{k: v / count for k, v in zip(names, sums)}, **self._metric_logs()}

    def _reduce_metrics(self, strategy, values):
        """``values`` and every metric's state summed over the ranks; returns the summed ``values``."""
        if strategy.size == 1:
            return values
        for tensor, entries in zip(self._outputs, self._metrics.per_output):
            for _, metric, _ in entries:  # a rank that saw no data must still hold a state of the right size
                metric.build(tensor.shape)
        states = [list(metric.get_state()) for metric in self.metrics]
        reduced = strategy.reduce_sums(list(values) + [v for state in states for v in state])
        offset = len(values)
        for metric, state in zip(self.metrics, states):
            metric.set_state(*reduced[offset:offset + len(state)])
            offset += len(state)
        return list(reduced[:len(values)])

    @in_device_context
    def evaluate(self, x, y, batch_size=32, verbose=0, sample_weight=None, return_dict=False, distribute=None):
        """Mean loss (and metrics) over the data, each batch weighted by its size.

        Returns the loss alone when the model has one output and no metrics, else
        [loss, *per-output losses, *metrics] (or a dict with ``return_dict``).
        With ``distribute``, each rank evaluates a share and the sums are reduced.
        """
        self._require_compiled("evaluate")
        batch_size = _batch_size_argument(batch_size)
        batches = ArrayBatches(*self._batch_arrays(x, y, sample_weight), batch_size)
        logs = self._evaluate_logs(batches, _strategy(distribute))
        if return_dict:
            return logs
        return logs["loss"] if len(logs) == 1 else list(logs.values())

    # -- predict ---------------------------------------------------------------------
    @in_device_context
    def predict(self, x, batch_size=32, verbose=0, distribute=None):
        """The model's outputs for ``x``, computed in batches, in the outputs' structure.

        Parameters
        ----------
        x : array, or a list or dict of arrays for several inputs
        batch_size : int, optional
            Rows per batch (None: 32).
        verbose : int
            Accepted for Keras' signature; predict prints nothing.
        distribute : numlstm.distributed.MPIStrategy, optional
            Each rank computes a share of the rows and every rank gets them all.
        """
        batch_size = _batch_size_argument(batch_size)
        strategy = _strategy(distribute)
        xs = self._ready_inputs(x)
        start, stop = strategy.shard(len(xs[0]))
        parts, fetches = [], collections.deque()
        for i in range(start, stop, batch_size):
            outputs = self._forward([a[i:min(i + batch_size, stop)] for a in xs], False)[0]
            fetches.append([backend.array_ops(o).to_host_async(o) for o in outputs])
            if len(fetches) > 1:  # one batch queued ahead: the device computes it while the host waits
                parts.append([f.result() for f in fetches.popleft()])
        parts += [[f.result() for f in batch] for batch in fetches]
        if not parts:  # this rank's share is empty: empty arrays of the right trailing shapes
            parts = [[backend.to_host(o)[:0] for o in self._forward([a[:1] for a in xs], False)[0]]]
        columns = [strategy.gather_rows(np.concatenate(column)) for column in zip(*parts)]
        return self._output_structure.restore(columns)

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
        callbacks = list(callbacks or []) + [history]  # last, as in Keras: it records what the others logged
        for callback in callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks must be numlstm.callbacks.Callback instances, got {type(callback).__name__}")
            callback.set_model(self)
            callback.set_params({"verbose": verbose, "epochs": epochs, "steps": batches.steps})
            callback.writes_files = strategy.is_main
        verbose = _auto_verbosity() if verbose == "auto" else verbose
        if not strategy.is_main:
            verbose = 0
        if isinstance(self.optimizer, optimizers.LBFGS):
            if not isinstance(batches, ArrayBatches):
                raise ValueError("L-BFGS is full-batch: give fit arrays, not an iterable of batches")
            return self._fit_lbfgs(batches, epochs, initial_epoch, verbose, callbacks, validation_data, history)
        if verbose and dispatch.current_device() == "cpu" and functional.first_pass_compiles():
            print("numlstm: compiling the LSTM kernels for this machine before the first step (about half a "
                  "minute, once: later runs load them from Numba's cache)", flush=True)
        self.stop_training = False
        self._resume_from_epoch = None
        self._place()  # the weights in this model's buffer on its device before ranks share them
        for callback in callbacks:
            callback.on_train_begin({})
        strategy.start(self)
        if self._resume_from_epoch is not None:  # set by BackupAndRestore
            initial_epoch = self._resume_from_epoch
        for epoch in range(initial_epoch, epochs):
            started = time.perf_counter()
            validating = validation_data is not None and (epoch + 1) % validation_freq == 0
            logs, done = self._fit_epoch(epoch, epochs, batches, shuffle, verbose, callbacks,
                                         validation_data if validating else None, strategy)
            for callback in callbacks:
                callback.on_epoch_end(epoch, logs)
            if verbose == 2:  # after the callbacks, as Keras' progress logger: it shows what they logged
                elapsed = time.perf_counter() - started
                print(f"Epoch {epoch + 1}/{epochs} - {done}/{batches.steps or done} - {elapsed:.0f}s - "
                      f"{_per_step(elapsed / done)} - " + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
            if self.stop_training:
                break
        for callback in callbacks:
            callback.on_train_end({})
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
        for callback in callbacks:
            callback.on_epoch_begin(epoch, {})
        for metric in self.metrics:
            metric.reset()
        steps = batches.steps
        totals, seen = collections.defaultdict(float), 0
        bar = tqdm(total=steps, desc=f"Epoch {epoch + 1}/{epochs}", unit="step", file=sys.stdout,
                   disable=verbose != 1, leave=True, **_bar_width())
        logs = {}
        order = strategy.broadcast_order(batches.order(shuffle, utils.global_generator()))
        step = -1
        for step, batch in enumerate(batches.epoch(order)):
            for callback in callbacks:
                callback.on_train_batch_begin(step, {})
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
            for callback in callbacks:
                callback.on_train_batch_end(step, {**logs, **batch_logs})
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

    def _fit_lbfgs(self, batches, epochs, initial_epoch, verbose, callbacks, validation_data, history):
        from scipy.optimize import minimize

        xs, ys, weights = batches.xs, batches.ys, batches.weights
        trainable = self._trainable_params

        def loss_and_gradient(flat):
            backend.assign(trainable, flat.astype(trainable.dtype))
            value, _, grads, _ = self._loss_and_flat_grads(xs, ys, weights, update_metrics=False)
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
            for callback in callbacks:
                callback.on_epoch_end(epoch[0], logs)
            epoch[0] += 1
            if self.stop_training:
                raise StopIteration

        for callback in callbacks:
            callback.on_train_begin({})
        settings = self.optimizer
        if epochs > initial_epoch:
            minimize(loss_and_gradient, backend.to_host(trainable).astype(np.float64), jac=True, method="L-BFGS-B",
                     callback=after_iteration,
                     options={"maxiter": epochs - initial_epoch, "maxcor": settings.maxcor, "gtol": settings.gtol,
                              "ftol": settings.ftol})
        for callback in callbacks:
            callback.on_train_end({})
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


def _batch_size_argument(batch_size):
    """``batch_size`` checked: a positive integer; None means 32, Keras' default."""
    if batch_size is None:
        return 32
    return _integer_argument(batch_size, "batch_size", 1, "a positive integer (or None for 32)")


def _count_argument(value, name):
    """``value`` checked: an integer >= 0 (``epochs``, ``initial_epoch``)."""
    return _integer_argument(value, name, 0, "an integer >= 0")


def _integer_argument(value, name, minimum, expected):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return int(value)


def _per_step(seconds):
    """A step's time as Keras' progress bar writes it: 2s/step, 35ms/step, 800us/step."""
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    return f"{seconds * 1e3:.0f}ms/step" if seconds >= 1e-3 else f"{seconds * 1e6:.0f}us/step"


def _bar_width():
    """tqdm's width: the terminal's as it changes, except where the terminal reports zero columns (some
    containers and `script`), where tqdm would draw nothing: then 80."""
    try:
        columns = os.get_terminal_size(sys.stdout.fileno()).columns
    except (AttributeError, ValueError, OSError):
        columns = None
    return {"ncols": 80} if columns == 0 else {"dynamic_ncols": True}


def _auto_verbosity():
    """What ``verbose="auto"`` means: 1 (a progress bar) when standard output is a terminal or a notebook, 2 (one
    line per epoch) otherwise: a bar redrawn into a log file or a pipe fills it with partial lines."""
    if "ipykernel" in sys.modules:  # a Jupyter kernel: tqdm.auto draws a widget
        return 1
    try:
        return 1 if sys.stdout is not None and sys.stdout.isatty() else 2
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return 2


def _strategy(distribute):
    if distribute is None:
        return LOCAL
    if not isinstance(distribute, LocalStrategy):
        raise TypeError(f"distribute must be a numlstm.distributed.MPIStrategy, got {type(distribute).__name__}")
    return distribute
