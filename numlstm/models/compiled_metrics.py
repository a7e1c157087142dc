"""The metrics of a compiled model: each output's ``metrics`` and ``weighted_metrics``, under Keras' log keys."""

from .. import losses as losses_module
from .. import metrics as metrics_module


class CompiledMetrics:
    """Every output's metric objects and the keys ``fit``/``evaluate`` log them under.

    Keys as Keras 3 writes them: the metric's name; ``{output}_{name}`` when
    the model has several outputs; a weighted metric whose name an
    unweighted one of its output already has gets ``weighted_`` in front.
    Order: outputs in order (sorted by name where the metrics came as a
    dict, as Keras flattens dicts), each output's metrics before its
    weighted metrics.
    """

    def __init__(self, outputs, losses, metrics, weighted_metrics):
        plain = _per_output(outputs, metrics, "metrics")
        weighted = _per_output(outputs, weighted_metrics, "weighted_metrics")
        self.per_output = []  # per output: [(key, metric, weighted)]
        several = len(outputs) > 1
        for name, loss, plain_items, weighted_items in zip(outputs.names, losses, plain, weighted):
            loss_name = loss.name if loss is not None else None
            if isinstance(loss, losses_module.CTC) and (plain_items or weighted_items):
                raise ValueError(f"output {name!r} has the {loss.name} loss, whose targets (batch, max_labels) do "
                                 "not line up with the outputs (batch, frames, classes) as metrics need; leave "
                                 "metrics out and score transcriptions after predict, with numlstm.decoding "
                                 "(ctc_greedy_decode, label_error_rate)")
            entries = [(metric.name, metric, False) for metric in _resolve(plain_items, loss_name)]
            taken = {key for key, _, _ in entries}
            for metric in _resolve(weighted_items, loss_name):
                entries.append((f"weighted_{metric.name}" if metric.name in taken else metric.name, metric, True))
            self.per_output.append([(f"{name}_{key}" if several else key, metric, weighted)
                                    for key, metric, weighted in entries])
        order = list(range(len(outputs)))
        if isinstance(metrics, dict) or isinstance(weighted_metrics, dict):
            order.sort(key=lambda i: outputs.names[i])
        self._order = order

    def saved_names(self, weighted):
        """Per output, the names of its metrics (``weighted``: of its weighted metrics), as compile takes them."""
        return [[metric.name for _, metric, is_weighted in entries if is_weighted == weighted]
                for entries in self.per_output]

    @property
    def all(self):
        """The metric objects, every output's, in log order."""
        return [metric for _, metric, _ in self._entries()]

    def _entries(self):
        return [entry for i in self._order for entry in self.per_output[i]]

    def has_any(self, output_index=None):
        if output_index is None:
            return any(self.per_output)
        return bool(self.per_output[output_index])

    def reset(self):
        for metric in self.all:
            metric.reset()

    def update(self, ys, weights, outputs):
        """Update each output's metrics with its host output; only weighted metrics see the sample weights."""
        for entries, y, weight, output in zip(self.per_output, ys, weights, outputs):
            for _, metric, weighted in entries:
                if weighted and weight is not None:
                    metric.update(y, output, sample_weight=weight)
                else:
                    metric.update(y, output)

    def logs(self):
        return {key: metric.result() for key, metric, _ in self._entries()}

    def for_key(self, key):
        return next((metric for name, metric, _ in self._entries() if name == key), None)


def _per_output(outputs, metrics, argument):
    """``metrics`` as one list (or None) per output: a list for one output, a dict or a list of lists for several."""
    if not metrics:
        return [None] * len(outputs)
    if len(outputs) == 1:
        return [metrics if not isinstance(metrics, dict) else metrics.get(outputs.names[0])]
    if isinstance(metrics, dict):
        return outputs.aligned(metrics, argument, allow_missing=True)
    if isinstance(metrics, (list, tuple)) and len(metrics) == len(outputs) and \
            all(item is None or isinstance(item, (list, tuple)) for item in metrics):
        return list(metrics)
    raise ValueError(f"with several outputs, {argument} must be a dict keyed by output name or a list of lists, one "
                     f"per output ({', '.join(outputs.names)}); got {metrics!r}")


def _resolve(items, loss_name):
    items = [items] if isinstance(items, (str, metrics_module.Metric)) else list(items or [])
    return [metrics_module.get(item, loss_name) for item in items]
