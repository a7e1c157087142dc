"""Where ``fit`` and ``evaluate`` get their batches: arrays cut into batches, or an iterable of batches.

Each batch is ``(xs, ys, weights, rows)``: lists aligned with the model's
inputs and outputs (``weights`` holds each output's sample weights or None)
and the number of samples.
"""

import math

import numpy as np


class ArrayBatches:
    """Checked arrays, cut into batches of ``batch_size`` rows in the order ``fit`` draws each epoch."""

    def __init__(self, xs, ys, weights, batch_size, steps_per_epoch=None):
        self.xs, self.ys, self.weights = xs, ys, weights
        self.rows = len(xs[0])
        self.batch_size = batch_size
        self.steps = math.ceil(self.rows / batch_size)
        if steps_per_epoch is not None:
            self.steps = min(self.steps, steps_per_epoch)

    def order(self, shuffle, generator):
        return generator.permutation(self.rows) if shuffle else np.arange(self.rows)

    def _take(self, rows):
        return [[None if a is None else a[rows] for a in group] for group in (self.xs, self.ys, self.weights)]

    def epoch(self, order):
        for step in range(self.steps):
            rows = order[step * self.batch_size:(step + 1) * self.batch_size]
            yield (*self._take(rows), len(rows))

    def shard(self, strategy):
        """The batches of this rank's share of the rows, in order (evaluation)."""
        start, stop = strategy.shard(self.rows)
        for i in list(range(start, stop, self.batch_size))[:self.steps]:
            rows = slice(i, min(i + self.batch_size, stop))
            yield (*self._take(rows), rows.stop - rows.start)


class IterableBatches:
    """Batches ``(x, y)`` or ``(x, y, sample_weight)`` from a Python iterable or generator.

    A re-iterable object (a list of batches, ``numlstm.utils.timeseries_dataset_from_array``)
    is read anew every epoch; a generator or iterator goes on where the last
    epoch stopped, ``steps_per_epoch`` batches at a time, as in Keras.
    """

    def __init__(self, source, steps_per_epoch, model, class_weight):
        self.source, self.model, self.class_weight = source, model, class_weight
        self.continues = iter(source) is source
        self._iterator = source if self.continues else None
        if steps_per_epoch is None and not self.continues and hasattr(source, "__len__"):
            steps_per_epoch = len(source)
        self.steps = steps_per_epoch

    @staticmethod
    def takes(x):
        """Whether ``x`` is an iterable of batches rather than data (arrays, lists or dicts of them)."""
        if x is None or isinstance(x, (np.ndarray, list, tuple, dict, str)) or hasattr(x, "__array__"):
            return False  # data: arrays, and array-likes such as DataFrames, which iterate over their columns
        return hasattr(x, "__iter__")

    def order(self, shuffle, generator):
        return None

    def shard(self, strategy):
        """The batches to evaluate: the next ``steps`` (or all) of them; one process only."""
        return self.epoch(None)

    def epoch(self, order):
        iterator = self._iterator if self.continues else iter(self.source)
        step = 0
        while self.steps is None or step < self.steps:
            try:
                batch = next(iterator)
            except StopIteration:
                return
            yield self._checked(batch, step)
            step += 1

    def _checked(self, batch, step):
        if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
            raise ValueError(f"batch {step} of the iterable given to fit is not (x, y) or (x, y, sample_weight): "
                             f"got {type(batch).__name__}" + (f" of length {len(batch)}" if hasattr(batch, "__len__")
                                                              else ""))
        x, y, *weight = batch
        xs, ys, weights = self.model._batch_arrays(x, y, weight[0] if weight else None, self.class_weight)
        return xs, ys, weights, len(xs[0])
