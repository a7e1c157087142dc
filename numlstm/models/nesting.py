"""A model used as a layer of another model (Keras' nested models): ``outer_output = inner_model(tensor)``.

The nested model is one node of the outer graph. Its layers keep one set of
weights for both models; the outer model binds them into its own flat
buffer, and a model whose layers another has bound since takes them back,
values and all, before it runs (``Model._place``).
"""

from .. import backend
from ..layers.base import Backward


class NestedModel:
    """The layer interface of a model: what the graph of an outer model calls on its nodes."""

    # The outer model fills in zeros for outputs that receive no gradient.
    missing_gradients_allowed = False

    @property
    def dtype(self):
        """The dtype of the model's (first) output."""
        return self._outputs[0].dtype

    def build(self, input_shape):
        """A functional model is built by its graph; Sequential overrides this."""

    def _build_for_tensor(self, tensor):
        """Build for the symbolic tensor the model is first called on (Sequential: its exact shape)."""
        self.build(tensor.shape)

    def compute_output_shape(self, input_shape):
        """The outputs' shapes, the batch axis taken from the (first) input's."""
        batch = (input_shape[0] if isinstance(input_shape, list) else input_shape)[0]
        shapes = [(batch,) + tuple(t.shape[1:]) for t in self._outputs]
        return shapes if len(shapes) > 1 else shapes[0]

    def compute_mask(self, inputs, mask=None):
        """No mask leaves a nested model."""
        return None

    def forward(self, x, mask=None, training=False, initial_state=None):
        """Run the graph on arrays where they are; returns the outputs and the tape for ``backward``."""
        xs = x if isinstance(x, list) else [x]
        masks = mask if isinstance(mask, list) else [mask] * len(xs)
        outputs, tape = self._run_graph(xs, training, input_masks=masks)
        return (outputs if len(outputs) > 1 else outputs[0]), tape

    def backward(self, cache, d_output, input_gradient=True):
        """Gradients of the weights and, for the outer graph, of the inputs."""
        d_outputs = d_output if len(self._outputs) > 1 else [d_output]
        ops = backend.array_ops(next(d for d in d_outputs if d is not None))
        grads, d_inputs = self._backward(cache, d_outputs, ops, nested=True)
        if not input_gradient:
            return Backward(None, grads)
        return Backward(d_inputs if len(d_inputs) > 1 else d_inputs[0], grads)

    def _use_weight_storage(self, views, copy=True):
        """Make the layers' weights ``views`` (slices of the outer model's buffer), in ``weights`` order."""
        offset = 0
        for layer in self.layers:
            count = len(layer.weights)
            layer._use_weight_storage(views[offset:offset + count], copy)
            offset += count
