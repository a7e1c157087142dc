"""One batch through a compiled model: targets, losses, gradients, metrics and the optimizer step.

``Trainer`` takes these methods from :class:`TrainingSteps`; a model provides
``_forward(xs, training)`` and ``_backward(tape, d_outputs, ops)``.
"""

import numpy as np

from .. import backend, optimizers
from ..layers.base import check_finite_data
from . import structures
from .compile_notice import announces_compiles
from .device_context import in_device_context


class TrainingSteps:
    """The per-batch half of ``Trainer``: ``train_on_batch``, ``test_on_batch``, ``compute_gradients``."""

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
        if ops is backend.cpu:  # host targets need no preparing (``cpu.loss_targets``)
            return ys
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

    def _loss_values(self, ops, outputs, targets, weights, with_gradients=True, masks=None):
        """(total loss, per-output losses, gradients of the outputs); a single unweighted loss stays where the
        device left it (``float()`` reads it), so that nothing waits for the device before the step is queued.
        ``masks``: the outputs' masks (the tape's third item), given to the losses that read one
        (``Loss.reads_output_mask``, the CTC loss's input lengths)."""
        if len(outputs) == 1 and weights[0] is None and type(outputs[0]) is np.ndarray:
            loss = self._losses[0]
            if loss is not None and not loss.reads_output_mask and self._loss_weights[0] == 1.0:
                # One unweighted loss on the host (most models): the loop below without its bookkeeping.
                value, gradient = loss.value_and_gradient(targets[0], outputs[0])
                return value, [value], [gradient]
        values, d_outputs = [], []
        masks = masks if masks is not None else [None] * len(outputs)
        for output, loss, y, scale, weight, mask in zip(outputs, self._losses, targets, self._loss_weights, weights,
                                                        masks):
            if loss is None:
                values.append(None)
                d_outputs.append(None)
                continue
            output_ops = backend.array_ops(output)
            if loss.reads_output_mask:
                value, gradient = output_ops.loss_value_and_gradient(
                    loss, y, output, sample_weight=weight, mask=None if mask is None else backend.to_host(mask))
            elif weight is None:
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

    def _loss_and_grads(self, ops, xs, ys, weights, update_metrics=True):
        """(loss, per-output losses, gradients aligned with ``get_weights()``) of one batch; ``ops``: the backend
        of ``_place()``."""
        samples = len(xs[0])
        targets = self._prepared_targets(ops, ys, samples)
        outputs, tape = self._forward(xs, training=True)
        total, values, d_outputs = self._loss_values(ops, outputs, targets, weights, masks=tape[2])
        fetches = self._queue_metric_fetches(outputs) if update_metrics else None
        grads = self._backward(tape, d_outputs, ops)
        if fetches is not None:
            self._update_metrics(ys, weights, fetches)
        return total, values, grads

    def _loss_and_flat_grads(self, xs, ys, weights, update_metrics=True):
        """(loss, per-output losses, flat trainable gradient: the optimizer's input) of one batch."""
        ops = self._place()
        total, values, grads = self._loss_and_grads(ops, xs, ys, weights, update_metrics)
        return total, values, self._flat_trainable(ops, grads)

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
            total, values, flat = self._loss_and_flat_grads(xs, ys, weights)
            return self._batch_logs(total, values), flat
        start, stop = strategy.shard(rows)
        count = stop - start
        trainable = self._trainable_params
        names = list(self._batch_logs(0.0, [0.0] * len(self._losses)))
        if count:
            local = [[None if a is None else a[start:stop] for a in group] for group in (xs, ys, weights)]
            total, values, flat = self._loss_and_flat_grads(*local)
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

    @announces_compiles
    @in_device_context
    def compute_gradients(self, x, y=None, sample_weight=None):
        """The loss of one batch and its gradient with respect to every weight, without updating any.

        Parameters
        ----------
        x : array, or a list or dict of arrays
            One batch of inputs, in the model's structure.
        y : array, or a list or dict of arrays
            Targets of the outputs that have a loss (the default None suits only a model with none).
        sample_weight : array (samples,), optional

        Returns
        -------
        loss : float
        grads : list of arrays
            Aligned one to one with ``get_weights()``, frozen layers' included.
        """
        self._require_compiled("compute_gradients")
        xs, ys, weights = self._batch_arrays(x, y, sample_weight)
        ops = self._place()
        total, _, grads = self._loss_and_grads(ops, xs, ys, weights, update_metrics=False)
        return float(total), [backend.to_host(g) for g in grads]

    @announces_compiles
    @in_device_context
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None):
        """One optimizer step on one batch; returns the batch's loss before the step.

        Parameters
        ----------
        x : array, or a list or dict of arrays
        y : array, or a list or dict of arrays
            Targets of the outputs that have a loss (the default None suits only a model with none).
        sample_weight : array (samples,), optional
        class_weight : dict, optional
        """
        self._require_compiled("train_on_batch")
        if isinstance(self.optimizer, optimizers.LBFGS):
            raise ValueError("L-BFGS is full-batch: use fit, not train_on_batch")
        xs, ys, weights = self._batch_arrays(x, y, sample_weight, class_weight)
        total, _, flat = self._loss_and_flat_grads(xs, ys, weights, update_metrics=False)
        self._step(flat)
        return float(total)

    @announces_compiles
    @in_device_context
    def test_on_batch(self, x, y=None, sample_weight=None):
        """The loss of one batch in inference mode (dropout off), without updating anything.

        Parameters
        ----------
        x : array, or a list or dict of arrays
        y : array, or a list or dict of arrays
            Targets of the outputs that have a loss (the default None suits only a model with none).
        sample_weight : array (samples,), optional
        """
        self._require_compiled("test_on_batch")
        xs, ys, weights = self._batch_arrays(x, y, sample_weight)
        outputs, tape = self._forward(xs, False, for_backward=False)
        return float(self._loss_values(self._place(), outputs, ys, weights, with_gradients=False, masks=tape[2])[0])

    def _batch_arrays(self, x, y, sample_weight=None, class_weight=None):
        """(inputs, targets, per-output sample weights) as aligned lists of checked arrays."""
        xs = self._ready_inputs(x)
        if (sample_weight is None and class_weight is None and structures.same_kind(self._accepted_targets,
                                                                                    self._losses, y)
                and len(xs[0]) == len(y)):
            # Targets of this type and shape passed every check for these losses before (train_on_batch in a
            # loop): only their values are new.
            check_finite_data(y, "y")
            return xs, [y], [None]
        ys = self._targets(y)
        samples = len(xs[0])
        counts = [len(t) for t in ys if t is not None]
        if any(count != samples for count in counts):
            raise ValueError(f"x and y must hold the same number of samples, got {samples} and "
                             f"{counts[0] if len(counts) == 1 else counts}")
        self._check_target_shapes(ys)
        weights = self._weights_per_output(sample_weight, samples)
        if class_weight is not None:
            weights = self._with_class_weights(class_weight, ys, weights, samples)
        elif sample_weight is None and len(ys) == 1 and ys[0] is y:
            self._accepted_targets = structures.array_kind(self._losses, y)
        return xs, ys, weights

    def _check_target_shapes(self, ys):
        """Each output's targets checked against its shape by numlstm's own loss, before any batch runs (the
        losses check again in each batch, and custom ones only there): a first row stands for the rest, and
        a layout of targets passed once is not checked again (``train_on_batch`` in a loop)."""
        checked = self.__dict__.setdefault("_checked_target_layouts", set())
        for index, (tensor, loss, y, name) in enumerate(zip(self._outputs, self._losses, ys, self.output_names)):
            shape = tuple(tensor.shape[1:])
            if (loss is None or None in shape or loss.reads_output_mask or not len(y)
                    or not type(loss).__module__.startswith("numlstm.losses.")):
                continue
            layout = (index, loss, shape, y.shape[1:], y.dtype)
            if layout in checked:
                continue
            try:
                loss.kernel_targets(y[:1], backend.OutputSpec((1,) + shape, self._params.dtype))
            except ValueError:
                try:  # again with every row, for a message with the array's real shape
                    loss.kernel_targets(y, backend.OutputSpec((len(y),) + shape, self._params.dtype))
                except ValueError as exc:
                    where = "y" if len(self._outputs) == 1 else f"y[{name!r}]"
                    raise ValueError(f"{where} does not fit the model's output: {exc}") from None
                raise
            checked.add(layout)

    def _with_class_weights(self, class_weight, ys, weights, samples):
        if len(self._losses) > 1:
            raise ValueError("class_weight is for single-output models, as in Keras; pass sample_weight instead")
        class_based = structures.class_weights(class_weight, ys[0], samples)
        return [class_based if w is None else w * class_based.reshape((-1,) + (1,) * (w.ndim - 1))
                for w in weights]

    def _ready_inputs(self, x):
        """``x`` checked and aligned with the inputs; Sequential builds itself here from the first data."""
        return self._input_arrays(x)
