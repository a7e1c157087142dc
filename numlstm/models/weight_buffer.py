"""The weights of a model in one flat buffer: the layers' weights are views of it.

Trainable weights come first, so that the optimizer updates exactly those
with one fused kernel; the buffer and the optimizer state move to the device
``numlstm.dispatch`` names when the model runs (``_place``) and stay there
between calls.
"""

import numpy as np

from .. import backend, dispatch
from ..layers.base import weight_rebindings


class WeightBuffer:
    """The weights half of ``Model``: the flat buffer, its layout, and ``get_weights``/``set_weights``."""

    @property
    def weights(self):
        """The weight arrays themselves (views of the flat buffer), in Keras' order."""
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self):
        """The weights the optimizer updates (those of layers with ``trainable`` True), in Keras' order."""
        if not self.trainable:  # a frozen model nested in another
            return []
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        """The weights of frozen layers (``trainable = False``), in Keras' order."""
        if not self.trainable:
            return self.weights
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    def _weight_layout(self):
        """(offset of every weight in ``weights`` order, positions of the trainable ones in buffer order,
        the number of trainable elements): trainable weights come first in the buffer."""
        weights = self.weights
        trainable = {id(w) for w in self.trainable_weights}
        order = [i for i, w in enumerate(weights) if id(w) in trainable] + \
            [i for i, w in enumerate(weights) if id(w) not in trainable]
        offsets, offset = [0] * len(weights), 0
        for i in order:
            offsets[i] = offset
            offset += weights[i].size
        n_trainable = sum(weights[i].size for i in order[:len(trainable)])
        return offsets, order[:len(trainable)], n_trainable

    def _gather_weights(self):
        weights = self.weights
        dtype = np.result_type(*(w.dtype for w in weights)) if weights else np.float32
        self._layout = self._weight_layout()
        self._params = np.empty(sum(w.size for w in weights), dtype)  # on the host; _place moves it
        self._bind_weights(copy=True)
        if self.optimizer is not None:
            self.optimizer.build(self._trainable_params, self._trainable_sizes())

    @property
    def _trainable_params(self):
        """The trainable part of the flat buffer (its start), what the optimizer updates."""
        return self._params[:self._layout[2]]

    def _trainable_sizes(self):
        weights = self.weights
        return [weights[i].size for i in self._layout[1]]

    def _bind_weights(self, copy):
        """Make every layer's weights views of ``_params`` (copying their values in with ``copy``)."""
        offsets = iter(self._layout[0])
        for layer in self.layers:
            views = []
            for w in layer.weights:
                offset = next(offsets)
                views.append(self._params[offset:offset + w.size].reshape(w.shape))
            layer._use_weight_storage(views, copy=copy)
        self._bound_views = self.weights
        self._bound_at = weight_rebindings()

    def _relayout_if_trainable_changed(self):
        """A layer frozen or thawed since the weights were gathered: gather them anew, trainable ones first."""
        if self._params is not None and self._weight_layout()[1] != self._layout[1]:
            self._gather_weights()

    def _place(self):
        """The backend of the current device, with the weights and optimizer state moved there if needed."""
        ops = backend.for_device(dispatch.current_device())
        if self._params is not None and self._bound_at != weight_rebindings():
            if any(a is not b for a, b in zip(self.weights, self._bound_views)):
                # Another model sharing these layers has bound them to its buffer since (Keras' shared layers):
                # take them back with their current values, which that model may have trained.
                self._bind_weights(copy=True)
            else:
                self._bound_at = weight_rebindings()
        if self._params is not None and not ops.holds(self._params):
            self._params = ops.from_host(backend.to_host(self._params))
            self._bind_weights(copy=False)
            if self.optimizer is not None:
                self.optimizer.move_to(ops)
        return ops

    # -- the buffer as other modules use it -----------------------------------------
    @property
    def parameter_buffer(self):
        """The flat buffer that holds every weight, trainable ones first; None before the model is built.

        Every layer's weights are views of it, on the device where the model
        last ran (a numpy array on the host, a device array after a GPU run),
        so that overwriting it in place (``numlstm.backend.assign``) sets every
        weight at once, as data-parallel training does to share rank 0's
        weights.

        Examples
        --------
        >>> model = numlstm.Sequential([numlstm.Input((4, 2)), numlstm.layers.Dense(3)])
        >>> model.parameter_buffer.size == model.count_params()
        True
        """
        return self._params

    def weights_to_host(self):
        """Move the weights and the optimizer state to the host (numpy arrays), where a GPU run left them.

        Code that reads the layers' weight arrays directly on the host (the
        streaming predictor packs them into its own panels) calls it first;
        the model moves them back to the device the next time it runs there.

        Examples
        --------
        >>> model = numlstm.Sequential([numlstm.Input((4, 2)), numlstm.layers.Dense(3)])
        >>> model.weights_to_host()
        >>> type(model.parameter_buffer).__name__
        'ndarray'
        """
        with dispatch.device("cpu"):
            self._place()

    def get_weights(self):
        """Copies of every weight as numpy arrays, in Keras' order (layer by layer, each in its own order)."""
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights):
        """Overwrite every weight, in ``get_weights()`` order (a Keras model's ``get_weights()`` fits).

        Parameters
        ----------
        weights : list of arrays
            One array per weight, each of its weight's shape.
        """
        weights = list(weights)
        self._require_built("set_weights")
        expected = sum(len(layer.weights) for layer in self.layers)
        if len(weights) != expected:
            raise ValueError(f"{self.name} expects {expected} weight arrays, got {len(weights)}")
        offset = 0
        for layer in self.layers:
            count = len(layer.weights)
            layer.set_weights(weights[offset:offset + count])
            offset += count
