"""Sequential: a stack of layers with Keras' compile / fit / evaluate / predict.

The weights of all layers live in one flat buffer once the model is built,
so that the optimizer updates them with one fused kernel.
"""

import math
import sys
import time

import numpy as np
from tqdm.auto import tqdm

from .. import losses, metrics as metrics_module, optimizers, utils
from ..callbacks import Callback, History
from ..layers import Layer
from ..layers.base import check_finite_data, numeric_array
from ..layers.input_layer import Input


class Sequential:
    def __init__(self, layers=None, name=None):
        self.name = name or "sequential"
        self.layers = []
        self._input_shape = None
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
        dtype = np.result_type(*weights) if weights else np.float32
        self._params = np.empty(sum(w.size for w in weights), dtype)
        offset = 0
        for layer in self.layers:
            views = []
            for w in layer.weights:
                views.append(self._params[offset:offset + w.size].reshape(w.shape))
                offset += w.size
            layer._use_weight_storage(views)
        if self.optimizer is not None:
            self.optimizer.build(self._params, self._weight_sizes())

    def _weight_sizes(self):
        return [w.size for layer in self.layers for w in layer.weights]

    def _ensure_built(self, x):
        if not self.built:
            self.build((None,) + x.shape[1:])

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

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)

    # -- running -------------------------------------------------------------------
    def _as_array(self, data, name):
        array = numeric_array(data, name)
        if array.ndim == 0:
            raise ValueError(f"{name} must have a batch axis, got a scalar")
        check_finite_data(array, name)
        return array

    def _forward(self, x, training):
        mask = None
        caches = []
        for layer in self.layers:
            inputs = x
            x, cache = layer.forward(inputs, mask=mask, training=training)
            mask = layer.compute_mask(inputs, mask)
            caches.append(cache)
        return x, caches

    def __call__(self, x, training=False):
        x = self._as_array(x, "x")
        self._ensure_built(x)
        return self._forward(x, training)[0]

    def predict(self, x, batch_size=32, verbose=0):
        x = self._as_array(x, "x")
        self._ensure_built(x)
        return np.concatenate([self._forward(x[i:i + batch_size], False)[0]
                               for i in range(0, len(x), batch_size)])

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

    def _loss_and_flat_grads(self, x, y, metrics=()):
        output, caches = self._forward(x, training=True)
        value, d_output = self.loss.value_and_gradient(y, output)
        for metric in metrics:
            metric.update(y, output)
        grads = []
        # Below the lowest layer with weights no input gradient is needed.
        lowest = next((i for i, layer in enumerate(self.layers) if layer.count_params()), len(self.layers))
        for index in reversed(range(len(self.layers))):
            result = self.layers[index].backward(caches[index], d_output, input_gradient=index > lowest)
            d_output = result.d_input
            grads = result.grads + grads
        flat = np.concatenate([g.reshape(-1) for g in grads]).astype(self._params.dtype, copy=False)
        return value, flat, grads

    def compute_gradients(self, x, y):
        """(loss, grads) for one batch, grads aligned one to one with ``get_weights()``."""
        self._require_compiled("compute_gradients")
        x, y = self._check_pair(x, y)
        self._ensure_built(x)
        value, _, grads = self._loss_and_flat_grads(x, y)
        return value, grads

    def train_on_batch(self, x, y):
        self._require_compiled("train_on_batch")
        if isinstance(self.optimizer, optimizers.LBFGS):
            raise ValueError("L-BFGS is full-batch: use fit, not train_on_batch")
        x, y = self._check_pair(x, y)
        self._ensure_built(x)
        value, flat, _ = self._loss_and_flat_grads(x, y)
        self.optimizer.apply(self._params, flat)
        return value

    def test_on_batch(self, x, y):
        self._require_compiled("test_on_batch")
        x, y = self._check_pair(x, y)
        self._ensure_built(x)
        return self.loss(y, self._forward(x, False)[0])

    def _evaluate_logs(self, x, y, batch_size):
        for metric in self.metrics:
            metric.reset()
        total = 0.0
        for i in range(0, len(x), batch_size):
            xb, yb = x[i:i + batch_size], y[i:i + batch_size]
            output = self._forward(xb, False)[0]
            total += self.loss(yb, output) * len(xb)
            for metric in self.metrics:
                metric.update(yb, output)
        return {"loss": total / len(x), **{m.name: m.result() for m in self.metrics}}

    def evaluate(self, x, y, batch_size=32, verbose=0, return_dict=False):
        """Mean loss (and metrics) over the data, each batch weighted by its size.

        Returns the loss alone when no metrics were compiled, else [loss, *metrics] (or a dict).
        """
        self._require_compiled("evaluate")
        x, y = self._check_pair(x, y)
        self._ensure_built(x)
        logs = self._evaluate_logs(x, y, batch_size)
        if return_dict:
            return logs
        return logs["loss"] if not self.metrics else list(logs.values())

    def fit(self, x, y, batch_size=32, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0):
        """Keras' fit: mini-batch training; returns the History callback.

        ``verbose``: "auto" or 1, a progress bar per epoch (steps, ETA, time
        per step, loss and metrics); 2, one line per epoch; 0, silent.
        """
        self._require_compiled("fit")
        x, y = self._check_pair(x, y)
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")
        if validation_data is None and validation_split > 0:
            split = int(math.floor(len(x) * (1 - validation_split)))
            x, y, validation_data = x[:split], y[:split], (x[split:], y[split:])
        if validation_data is not None:
            validation_data = self._check_pair(*validation_data)
        self._ensure_built(x)
        history = History()
        callbacks = list(callbacks or []) + [history]  # last, as in Keras: it records what the others logged
        for callback in callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks must be numlstm.callbacks.Callback instances, got {type(callback).__name__}")
            callback.set_model(self)
        verbose = 1 if verbose == "auto" else verbose
        if isinstance(self.optimizer, optimizers.LBFGS):
            return self._fit_lbfgs(x, y, epochs, initial_epoch, verbose, callbacks, validation_data, history)
        steps = math.ceil(len(x) / batch_size)
        generator = utils.global_generator()
        self.stop_training = False
        self._resume_from_epoch = None
        for callback in callbacks:
            callback.on_train_begin()
        if self._resume_from_epoch is not None:  # set by BackupAndRestore
            initial_epoch = self._resume_from_epoch
        for epoch in range(initial_epoch, epochs):
            for callback in callbacks:
                callback.on_epoch_begin(epoch)
            for metric in self.metrics:
                metric.reset()
            order = generator.permutation(len(x)) if shuffle else np.arange(len(x))
            seen, total = 0, 0.0
            started = time.perf_counter()
            bar = tqdm(total=steps, desc=f"Epoch {epoch + 1}/{epochs}", unit="step", file=sys.stdout,
                       disable=verbose != 1, leave=True, dynamic_ncols=True)
            for step in range(steps):
                for callback in callbacks:
                    callback.on_train_batch_begin(step)
                batch = order[step * batch_size:(step + 1) * batch_size]
                xb, yb = x[batch], y[batch]
                value, flat, _ = self._loss_and_flat_grads(xb, yb, self.metrics)
                self.optimizer.apply(self._params, flat)
                total += value * len(batch)
                seen += len(batch)
                logs = {"loss": total / seen, **{m.name: m.result() for m in self.metrics}}
                bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
                bar.update(1)
                for callback in callbacks:
                    callback.on_train_batch_end(step, {**logs, "loss": value})
                if self.stop_training:
                    break
            if validation_data is not None:
                logs.update({f"val_{k}": v for k, v in self._evaluate_logs(*validation_data, batch_size).items()})
                bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=True)
            bar.close()
            if verbose == 2:  # Keras' one line per epoch
                elapsed = time.perf_counter() - started
                print(f"Epoch {epoch + 1}/{epochs} - {steps}/{steps} - {elapsed:.3g}s - "
                      f"{1e3 * elapsed / steps:.3g}ms/step - " + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
            for callback in callbacks:
                callback.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for callback in callbacks:
            callback.on_train_end()
        return history

    def _fit_lbfgs(self, x, y, epochs, initial_epoch, verbose, callbacks, validation_data, history):
        from scipy.optimize import minimize

        def loss_and_gradient(flat):
            self._params[...] = flat
            value, grads, _ = self._loss_and_flat_grads(x, y)
            return value, grads.astype(np.float64)

        epoch = [initial_epoch]

        def after_iteration(flat):
            self._params[...] = flat
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
            callback.on_train_begin()
        settings = self.optimizer
        if epochs > initial_epoch:
            minimize(loss_and_gradient, self._params.astype(np.float64), jac=True, method="L-BFGS-B",
                     callback=after_iteration,
                     options={"maxiter": epochs - initial_epoch, "maxcor": settings.maxcor, "gtol": settings.gtol,
                              "ftol": settings.ftol})
        for callback in callbacks:
            callback.on_train_end()
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
