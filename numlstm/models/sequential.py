"""Sequential: a stack of layers with Keras' compile / fit / evaluate / predict.

The weights of all layers live in one flat buffer once the model is built,
so that the optimizer updates them with one fused kernel. The buffer, and the
optimizer state, live on the device that ``numlstm.dispatch`` names when the
model runs, and stay there between calls: on a GPU only each batch's data
(and the loss value) cross to and from the host.
"""

import collections
import math
import sys
import time

import numpy as np
from tqdm.auto import tqdm

from .. import backend, dispatch, functional, losses, metrics as metrics_module, optimizers, utils
from ..callbacks import Callback, History
from ..layers import Layer
from ..layers.base import check_finite_data, numeric_array
from ..distributed import LOCAL, LocalStrategy
from ..layers.input_layer import Input


def _current_device(*args, **kwargs):
    return dispatch.current_device()


_in_device_context = backend.in_context_of(_current_device)


class Sequential:
    def __init__(self, layers=None, name=None):
        self.name = name or "sequential"
        self.layers = []
        self._input_shape = self._output_shape = None
        self.loss = None
        self.optimizer = None
        self.metrics = []
        self.stop_training = False
        self._params = None
        # JSON-compatible facts saved with the model (the numlstm command keeps its
        # window sizes and scaler here, so that a model file is self-contained).
        self.metadata = {}
        for layer in layers or []:
            self.add(layer)

    # -- structure ---------------------------------------------------------------
    def add(self, layer):
        if isinstance(layer, Input):
            if self.layers:
                raise ValueError("Input must come first in a Sequential model")
            self._input_shape = (layer.batch_size,) + layer.shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add takes a numlstm layer, got {type(layer).__name__}")
        if getattr(layer, "return_state", False) or getattr(layer, "merge_mode", "concat") is None:
            raise ValueError(f"{layer.name}: return_state=True and merge_mode=None return several arrays, "
                             "which a Sequential model cannot pass on; use the layer on its own")
        self.layers.append(layer)
        self._params = None
        if self._input_shape is not None:
            self.build()

    @property
    def built(self):
        return bool(self.layers) and all(layer.built for layer in self.layers) and self._params is not None

    def build(self, input_shape=None):
        """Build every layer for samples of ``input_shape`` (batch axis first, may be None)."""
        shape = tuple(input_shape) if input_shape is not None else self._input_shape
        if shape is None:
            raise ValueError(f"{self.name}: the input shape is unknown; start the model with "
                             "numlstm.layers.Input(shape), call build(input_shape), or call it on data")
        if not self.layers:
            raise ValueError(f"{self.name} has no layers")
        self._input_shape = shape
        for layer in self.layers:
            if not layer.built:
                layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self._output_shape = shape
        self._gather_weights()

    def _gather_weights(self):
        weights = [w for layer in self.layers for w in layer.weights]
        dtype = np.result_type(*(w.dtype for w in weights)) if weights else np.float32
        self._params = np.empty(sum(w.size for w in weights), dtype)
        self._bind_weights(copy=True)
        if self.optimizer is not None:
            self.optimizer.build(self._params, self._weight_sizes())

    def _bind_weights(self, copy):
        """Make every layer's weights views of ``_params`` (copying their values in with ``copy``)."""
        offset = 0
        for layer in self.layers:
            views = []
            for w in layer.weights:
                views.append(self._params[offset:offset + w.size].reshape(w.shape))
                offset += w.size
            layer._use_weight_storage(views, copy=copy)

    def _place(self):
        """The backend of the current device, with the weights and optimizer state moved there if needed."""
        ops = backend.for_device(dispatch.current_device())
        if self._params is not None and not ops.holds(self._params):
            self._params = ops.from_host(backend.to_host(self._params))
            self._bind_weights(copy=False)
            if self.optimizer is not None:
                self.optimizer.move_to(ops)
        return ops

    def _weight_sizes(self):
        return [w.size for layer in self.layers for w in layer.weights]

    def _ensure_built(self, x):
        if not self.built:
            self.build((None,) + x.shape[1:])
        # Recurrent models take any number of timesteps; the rank and the features must match.
        expected = self._input_shape[1:]
        features = expected[-1] if len(expected) >= 2 else None
        if x.ndim != len(expected) + 1 or features not in (None, x.shape[-1]):
            last = "any" if expected[-1] is None else str(expected[-1])
            dims = ", ".join(["timesteps"] * (len(expected) - 1) + [last])
            raise ValueError(f"x has shape {x.shape}, but {self.name} takes input of shape (samples, {dims})")

    # -- weights -------------------------------------------------------------------
    def get_weights(self):
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights):
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self.layers)
        if not self.built:
            raise ValueError(f"{self.name}: build the model before set_weights")
        if len(weights) != expected:
            raise ValueError(f"{self.name} expects {expected} weight arrays, got {len(weights)}")
        offset = 0
        for layer in self.layers:
            count = len(layer.weights)
            layer.set_weights(weights[offset:offset + count])
            offset += count

    def reset_states(self):
        """Forget the states of every stateful layer (Keras' ``reset_states``): new sequences begin."""
        for layer in self._inner_layers():
            if getattr(layer, "stateful", False):
                layer.reset_state()

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)

    # -- running -------------------------------------------------------------------
    def _as_array(self, data, name):
        array = numeric_array(data, name)
        if array.ndim == 0:
            raise ValueError(f"{name} must have a batch axis, got a scalar")
        if len(array) == 0:
            raise ValueError(f"{name} holds no samples (its first axis has length 0)")
        check_finite_data(array, name)
        return array

    def _forward(self, x, training):
        """The model's output for a host batch ``x``, on the current device, and the layers' caches."""
        ops = self._place()
        if not getattr(self.layers[0], "takes_host_input", False):
            x = ops.from_host(x)
        mask = None
        caches = []
        for layer in self.layers:
            inputs = x
            x, cache = layer.forward(inputs, mask=mask, training=training)
            mask = layer.compute_mask(inputs, mask)
            caches.append(cache)
        return x, caches

    @_in_device_context
    def __call__(self, x, training=False):
        x = self._as_array(x, "x")
        self._ensure_built(x)
        return backend.to_host(self._forward(x, training)[0])

    @_in_device_context
    def predict(self, x, batch_size=32, verbose=0, distribute=None):
        """Outputs for ``x`` in batches; with ``distribute``, each rank computes a share, every rank gets all."""
        batch_size = _batch_size_argument(batch_size)
        strategy = _strategy(distribute)
        x = self._as_array(x, "x")
        self._ensure_built(x)
        start, stop = strategy.shard(len(x))
        outputs, fetches = [], collections.deque()
        for i in range(start, stop, batch_size):
            output = self._forward(x[i:min(i + batch_size, stop)], False)[0]
            fetches.append(backend.array_ops(output).to_host_async(output))
            if len(fetches) > 1:  # one batch queued ahead: the device computes it while the host waits
                outputs.append(fetches.popleft().result())
        outputs += [fetch.result() for fetch in fetches]
        if not outputs:  # this rank's share is empty: an empty array of the right trailing shape
            outputs = [backend.to_host(self._forward(x[:1], False)[0])[:0]]
        return strategy.gather_rows(np.concatenate(outputs))

    def predict_on_batch(self, x):
        return self(x)

    # -- training ------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        self.optimizer = optimizers.get(optimizer)
        if loss is None:
            raise ValueError(f"{self.name}.compile needs a loss")
        self.loss = losses.get(loss)
        self.metrics = [metrics_module.get(m, self.loss.name) for m in metrics or []]
        if self._params is not None:
            self.optimizer.build(self._params, self._weight_sizes())

    def _require_compiled(self, what):
        if self.loss is None:
            raise ValueError(f"{self.name}: call compile(optimizer, loss) before {what}")

    def _check_pair(self, x, y):
        x = self._as_array(x, "x")
        y = self._as_array(y, "y")
        if len(x) != len(y):
            raise ValueError(f"x and y must hold the same number of samples, got {len(x)} and {len(y)}")
        return x, y

    def _batch_gradient(self, x, y, batch, strategy):
        """Loss and flat gradient of the rows ``batch``; with several ranks, of the whole global batch."""
        start, stop = strategy.shard(len(batch))
        if strategy.size == 1:
            value, flat, _ = self._loss_and_flat_grads(x[batch], y[batch], self.metrics)
            return value, flat
        local = batch[start:stop]
        if len(local):
            value, flat, _ = self._loss_and_flat_grads(x[local], y[local], self.metrics)
            value, flat = float(value), backend.to_host(flat)
        else:
            value, flat = 0.0, np.zeros(self._params.shape, self._params.dtype)
        # One Allreduce: the gradient and the loss, each weighted by the share's size.
        summed = strategy.reduce_sums(np.append(flat * len(local), value * len(local)))
        mean = (summed[:-1] / len(batch)).astype(self._params.dtype)
        return summed[-1] / len(batch), backend.array_ops(self._params).from_host(mean)

    def _inner_layers(self):
        """The layers, with a Bidirectional's two layers in its place."""
        for layer in self.layers:
            yield from (layer.forward_layer, layer.backward_layer) if hasattr(layer, "forward_layer") else (layer,)

    def _loss_targets(self, y, samples):
        """``y`` as the loss of this model's output for ``samples`` samples takes it, prepared (on the GPU:
        uploaded) before the forward pass is queued, when the output's shape is known; else ``y``."""
        if self._output_shape is None or None in self._output_shape[1:]:
            return y
        shape = (samples,) + tuple(self._output_shape[1:])
        try:
            return self._place().loss_targets(self.loss, y, shape, self._params.dtype)
        except ValueError:  # the loss repeats its checks against the real output, and names what is wrong
            return y

    def _loss_and_flat_grads(self, x, y, metrics=()):
        """(loss, flat gradient, gradients) of one batch; the loss may still be on the device (``float()``
        reads it), so that nothing waits for the device until the whole step is queued."""
        targets = self._loss_targets(y, len(x))
        output, caches = self._forward(x, training=True)
        ops = backend.array_ops(output)
        value, d_output = ops.loss_value_and_gradient(self.loss, targets, output)
        fetch = ops.to_host_async(output) if metrics else None  # queued before the backward pass
        grads = []
        # Below the lowest layer with weights no input gradient is needed.
        lowest = next((i for i, layer in enumerate(self.layers) if layer.count_params()), len(self.layers))
        for index in reversed(range(len(self.layers))):
            result = self.layers[index].backward(caches[index], d_output, input_gradient=index > lowest)
            d_output = result.d_input
            grads = result.grads + grads
        if metrics:
            host_output = fetch.result()
            for metric in metrics:
                metric.update(y, host_output)
        return value, ops.flatten(grads, self._params.dtype), grads

    @_in_device_context
    def compute_gradients(self, x, y):
        """(loss, grads) for one batch, grads aligned one to one with ``get_weights()``."""
        self._require_compiled("compute_gradients")
        x, y = self._check_pair(x, y)
        self._ensure_built(x)
        value, _, grads = self._loss_and_flat_grads(x, y)
        return float(value), [backend.to_host(g) for g in grads]

    @_in_device_context
    def train_on_batch(self, x, y):
        self._require_compiled("train_on_batch")
        if isinstance(self.optimizer, optimizers.LBFGS):
            raise ValueError("L-BFGS is full-batch: use fit, not train_on_batch")
        x, y = self._check_pair(x, y)
        self._ensure_built(x)
        value, flat, _ = self._loss_and_flat_grads(x, y)
        self.optimizer.apply(self._params, flat)
        return float(value)

    @_in_device_context
    def test_on_batch(self, x, y):
        self._require_compiled("test_on_batch")
        x, y = self._check_pair(x, y)
        self._ensure_built(x)
        output = self._forward(x, False)[0]
        return float(backend.array_ops(output).loss_value_and_gradient(self.loss, y, output)[0])

    def _evaluate_logs(self, x, y, batch_size, strategy=None):
        strategy = strategy or LOCAL
        for metric in self.metrics:
            metric.reset()
        def settle(value, samples, y_batch, fetch):
            """A batch's loss, times its size, and its metrics, once they reach the host."""
            if fetch is not None:
                host_output = fetch.result()
                for metric in self.metrics:
                    metric.update(y_batch, host_output)
            return float(value) * samples

        total = 0.0
        pending = collections.deque()
        start, stop = strategy.shard(len(x))
        for i in range(start, stop, batch_size):
            xb, yb = x[i:min(i + batch_size, stop)], y[i:min(i + batch_size, stop)]
            targets = self._loss_targets(yb, len(xb))
            output = self._forward(xb, False)[0]
            ops = backend.array_ops(output)
            value = ops.loss_value_and_gradient(self.loss, targets, output)[0]
            pending.append((value, len(xb), yb, ops.to_host_async(output) if self.metrics else None))
            if len(pending) > 1:  # one batch queued ahead, as in predict
                total += settle(*pending.popleft())
        total += sum(settle(*batch) for batch in pending)
        total = self._reduce_metrics(strategy, total)
        return {"loss": total / len(x), **{m.name: m.result() for m in self.metrics}}

    def _reduce_metrics(self, strategy, total):
        """``total`` and every metric's state summed over the ranks; returns the summed ``total``."""
        if strategy.size == 1:
            return total
        states = [value for metric in self.metrics for value in metric.get_state()]
        reduced = strategy.reduce_sums([total] + states)
        for i, metric in enumerate(self.metrics):
            metric.set_state(*reduced[1 + 2 * i:3 + 2 * i])
        return reduced[0]

    @_in_device_context
    def evaluate(self, x, y, batch_size=32, verbose=0, return_dict=False, distribute=None):
        """Mean loss (and metrics) over the data, each batch weighted by its size.

        Returns the loss alone when no metrics were compiled, else [loss, *metrics] (or a dict).
        With ``distribute``, each rank evaluates a share and the sums are reduced.
        """
        self._require_compiled("evaluate")
        batch_size = _batch_size_argument(batch_size)
        x, y = self._check_pair(x, y)
        self._ensure_built(x)
        logs = self._evaluate_logs(x, y, batch_size, _strategy(distribute))
        if return_dict:
            return logs
        return logs["loss"] if not self.metrics else list(logs.values())

    @_in_device_context
    def fit(self, x, y, batch_size=32, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0, distribute=None):
        """Keras' fit: mini-batch training; returns the History callback.

        ``batch_size``: a positive integer (None: 32, as in Keras); ``epochs``:
        the epoch to stop before, an integer >= 0 (0 trains nothing, as in Keras).
        ``verbose``: 1, a progress bar per epoch (steps, ETA, time per step,
        loss and metrics); 2, one line per epoch; 0, silent; "auto" (the
        default), 1 when standard output is a terminal (or a notebook) and 2
        otherwise, so that a log file gets one line per epoch, as in Keras.
        ``distribute``: a :class:`numlstm.distributed.MPIStrategy` for
        data-parallel training over MPI (``batch_size`` stays the global batch).
        """
        strategy = _strategy(distribute)
        try:
            return self._fit(x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
                             shuffle, initial_epoch, strategy)
        except BaseException as exc:
            strategy.abort(exc)  # one process: re-raises; MPI: this rank's error ends every rank
            raise

    def _fit(self, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data, shuffle,
             initial_epoch, strategy):
        self._require_compiled("fit")
        batch_size = _batch_size_argument(batch_size)
        epochs = _count_argument(epochs, "epochs")
        initial_epoch = _count_argument(initial_epoch, "initial_epoch")
        if verbose not in ("auto", 0, 1, 2):
            raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
        x, y = self._check_pair(x, y)
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")
        if validation_data is None and validation_split > 0:
            split = int(math.floor(len(x) * (1 - validation_split)))
            x, y, validation_data = x[:split], y[:split], (x[split:], y[split:])
        if validation_data is not None:
            validation_data = self._check_pair(*validation_data)
        self._ensure_built(x)
        if strategy.size > 1:
            stateful = [layer.name for layer in self._inner_layers() if getattr(layer, "stateful", False)]
            if stateful:
                raise ValueError(f"stateful layers ({', '.join(stateful)}) cannot train data-parallel: their state "
                                 "would follow one rank's share of the batch; use stateful=False")
            if isinstance(self.optimizer, optimizers.LBFGS):
                raise ValueError("L-BFGS is full-batch and single-process; use another optimizer with distribute")
        history = History()
        callbacks = list(callbacks or []) + [history]  # last, as in Keras: it records what the others logged
        for callback in callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks must be numlstm.callbacks.Callback instances, got {type(callback).__name__}")
            callback.set_model(self)
            callback.writes_files = strategy.is_main
        verbose = _auto_verbosity() if verbose == "auto" else verbose
        if not strategy.is_main:
            verbose = 0
        if isinstance(self.optimizer, optimizers.LBFGS):
            return self._fit_lbfgs(x, y, epochs, initial_epoch, verbose, callbacks, validation_data, history)
        if verbose and dispatch.current_device() == "cpu" and functional.first_pass_compiles():
            print("numlstm: compiling the LSTM kernels for this machine before the first step (about half a "
                  "minute, once: later runs load them from Numba's cache)", flush=True)
        steps = math.ceil(len(x) / batch_size)
        self.stop_training = False
        self._resume_from_epoch = None
        for callback in callbacks:
            callback.on_train_begin({})
        strategy.start(self)
        generator = utils.global_generator()
        if self._resume_from_epoch is not None:  # set by BackupAndRestore
            initial_epoch = self._resume_from_epoch
        for epoch in range(initial_epoch, epochs):
            for callback in callbacks:
                callback.on_epoch_begin(epoch, {})
            for metric in self.metrics:
                metric.reset()
            order = strategy.broadcast_order(generator.permutation(len(x)) if shuffle else np.arange(len(x)))
            seen, total = 0, 0.0
            started = time.perf_counter()
            bar = tqdm(total=steps, desc=f"Epoch {epoch + 1}/{epochs}", unit="step", file=sys.stdout,
                       disable=verbose != 1, leave=True, dynamic_ncols=True)
            for step in range(steps):
                for callback in callbacks:
                    callback.on_train_batch_begin(step, {})
                batch = order[step * batch_size:(step + 1) * batch_size]
                value, flat = self._batch_gradient(x, y, batch, strategy)
                self.optimizer.apply(self._params, flat)
                value = float(value)  # the step's one wait for the device, once all of it is queued
                total += value * len(batch)
                seen += len(batch)
                logs = {"loss": total / seen, **{m.name: m.result() for m in self.metrics}}
                bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
                bar.update(1)
                for callback in callbacks:
                    callback.on_train_batch_end(step, {**logs, "loss": value})
                if self.stop_training:
                    break
            if strategy.size > 1:  # the epoch's metrics over every rank's shares
                self._reduce_metrics(strategy, 0.0)
                logs.update({m.name: m.result() for m in self.metrics})
            if validation_data is not None:
                logs.update({f"val_{k}": v
                             for k, v in self._evaluate_logs(*validation_data, batch_size, strategy).items()})
                bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=True)
            bar.close()
            logs = strategy.broadcast_logs(logs)
            strategy.synchronize(self)
            if verbose == 2:  # Keras' one line per epoch
                elapsed = time.perf_counter() - started
                print(f"Epoch {epoch + 1}/{epochs} - {steps}/{steps} - {elapsed:.3g}s - "
                      f"{1e3 * elapsed / steps:.3g}ms/step - " + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
            for callback in callbacks:
                callback.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for callback in callbacks:
            callback.on_train_end({})
        return history

    def _fit_lbfgs(self, x, y, epochs, initial_epoch, verbose, callbacks, validation_data, history):
        from scipy.optimize import minimize

        def loss_and_gradient(flat):
            backend.assign(self._params, flat.astype(self._params.dtype))
            value, grads, _ = self._loss_and_flat_grads(x, y)
            return float(value), backend.to_host(grads).astype(np.float64)

        epoch = [initial_epoch]

        def after_iteration(flat):
            backend.assign(self._params, flat.astype(self._params.dtype))
            self.optimizer.iterations += 1
            logs = self._evaluate_logs(x, y, len(x))
            if validation_data is not None:
                logs.update({f"val_{k}": v for k, v in self._evaluate_logs(*validation_data, len(x)).items()})
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
            minimize(loss_and_gradient, backend.to_host(self._params).astype(np.float64), jac=True, method="L-BFGS-B",
                     callback=after_iteration,
                     options={"maxiter": epochs - initial_epoch, "maxcor": settings.maxcor, "gtol": settings.gtol,
                              "ftol": settings.ftol})
        for callback in callbacks:
            callback.on_train_end({})
        return history

    # -- saving ----------------------------------------------------------------------
    def save(self, path):
        """One ``.numlstm`` zip file: structure, weights, compile settings and optimizer state."""
        from ..saving import save_model

        save_model(self, path)

    def save_weights(self, path):
        from ..saving import save_weights

        save_weights(self, path)

    def load_weights(self, path):
        from ..saving import load_weights

        load_weights(self, path)

    def summary(self, print_fn=print):
        if not self.built:
            raise ValueError(f"{self.name} is not built yet: give it an Input, call build(input_shape) "
                             "or call it on data first")
        rows = [("Layer (type)", "Output Shape", "Param #")]
        shape = self._input_shape
        for layer in self.layers:
            shape = layer.compute_output_shape(shape)
            rows.append((f"{layer.name} ({type(layer).__name__})", str(shape), f"{layer.count_params():,}"))
        widths = [max(len(row[i]) for row in rows) + 2 for i in range(3)]
        line = "=" * sum(widths)
        print_fn(f'Model: "{self.name}"')
        for i, row in enumerate(rows):
            print_fn("".join(cell.ljust(width) for cell, width in zip(row, widths)))
            print_fn(line if i in (0, len(rows) - 1) else "_" * sum(widths))
        print_fn(f"Total params: {self.count_params():,}")


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
