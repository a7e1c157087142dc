"""``evaluate`` and ``predict``: a compiled model run over data in batches, updating no weight."""

import collections

import numpy as np

from .. import backend
from ..distributed import LOCAL
from .batches import ArrayBatches
from .compile_notice import announces_compiles
from .device_context import in_device_context
from .fit_arguments import _batch_size_argument, _strategy


class Inference:
    """The half of ``Trainer`` that runs without training: ``evaluate`` and ``predict``."""

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
            outputs, tape = self._forward(xs, False, for_backward=False)
            total, values, _ = self._loss_values(ops, outputs, targets, weights, with_gradients=False, masks=tape[2])
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
        """``values`` and every metric's state summed over the ranks; returns the summed ``values`` as Python
        floats, as one process has them."""
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
        return [float(v) for v in reduced[:len(values)]]

    @announces_compiles
    @in_device_context
    def evaluate(self, x, y=None, batch_size=32, verbose=0, sample_weight=None, return_dict=False, distribute=None):
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
    @announces_compiles
    @in_device_context
    def predict(self, x, batch_size=32, verbose=0, distribute=None):
        """The model's outputs for ``x``, computed in batches, in the outputs' structure.

        Parameters
        ----------
        x : array, or a list or dict of arrays for several inputs
        batch_size : int, optional
            Rows per batch (None: 32).
        verbose : int
            Accepted for Keras' signature; predict prints no progress (a slow compile of the kernels is
            announced on stderr, as in every model call).
        distribute : numlstm.distributed.MPIStrategy, optional
            Each rank computes a share of the rows and every rank gets them all.
        """
        batch_size = _batch_size_argument(batch_size)
        strategy = _strategy(distribute)
        xs = self._ready_inputs(x)
        start, stop = strategy.shard(len(xs[0]))
        parts, fetches = [], collections.deque()
        for i in range(start, stop, batch_size):
            outputs = self._forward([a[i:min(i + batch_size, stop)] for a in xs], False, for_backward=False)[0]
            fetches.append([backend.array_ops(o).to_host_async(o) for o in outputs])
            if len(fetches) > 1:  # one batch queued ahead: the device computes it while the host waits
                parts.append([f.result() for f in fetches.popleft()])
        parts += [[f.result() for f in batch] for batch in fetches]
        if not parts:  # this rank's share is empty: empty arrays of the right trailing shapes
            empty = self._forward([a[:1] for a in xs], False, for_backward=False)[0]
            parts = [[backend.to_host(o)[:0] for o in empty]]
        columns = [strategy.gather_rows(np.concatenate(column)) for column in zip(*parts)]
        return self._output_structure.restore(columns)
