"""A model's graph as a program: its nodes run in order, then back in reverse for the gradients.

Each node's wiring (the values it reads and writes, keyed by the ids of
their symbolic tensors, the mask it takes, the ``training`` fixed at its
call) is worked out once, when the model sets its graph, so that a call does
the layers' work and a few dictionary lookups. Masks flow as in Keras: a
node without an explicit mask takes the masks its inputs carry; a model
without masks keeps none.
"""

from typing import NamedTuple

from .. import backend


class Step(NamedTuple):
    """One node's call, with its tensors as the keys of the values they hold (``id(tensor)``)."""

    node: object
    layer: object
    inputs: tuple  # the first argument's tensors
    listed: bool  # whether the layer takes them as a list (merging layers) or one value
    mask: object  # an explicit mask's key, or None
    initial_state: tuple  # keys, empty without initial states
    outputs: tuple
    training: object  # a bool fixed at the call, or None: the model's call decides
    missing_gradients_allowed: bool  # whether backward takes None for outputs no loss reaches


class GraphProgram:
    """The steps of the graph from ``inputs`` to ``outputs`` through ``nodes`` (in running order).

    Parameters
    ----------
    inputs, outputs : list of SymbolicTensor
    nodes : list of Node
    """

    def __init__(self, inputs, outputs, nodes):
        self.input_keys = tuple(id(t) for t in inputs)
        self.output_keys = tuple(id(t) for t in outputs)
        self.steps = [_step(node) for node in nodes]
        self.chain = _is_chain(self.steps, self.input_keys, self.output_keys)

    def forward(self, xs, training, input_masks=None):
        """(outputs, tape): the outputs (a list) for the input values ``xs``; the tape, for :meth:`backward`,
        holds each step's cache, the values by key and the outputs' masks (its third item)."""
        if self.chain:
            return self._chain_forward(xs[0], training, None if input_masks is None else input_masks[0])
        values = dict(zip(self.input_keys, xs))
        masks = {} if input_masks is None else \
            {key: mask for key, mask in zip(self.input_keys, input_masks) if mask is not None}
        tape = []
        for step in self.steps:
            inputs = [values[key] for key in step.inputs] if step.listed else values[step.inputs[0]]
            if step.mask is not None:
                mask = values[step.mask]
            elif not masks:
                mask = None
            elif step.listed:
                mask = [masks.get(key) for key in step.inputs]
                if all(m is None for m in mask):
                    mask = None
            else:
                mask = masks.get(step.inputs[0])
            state = [values[key] for key in step.initial_state] if step.initial_state else None
            output, cache = step.layer.forward(inputs, mask=mask, training=training if step.training is None
                                               else step.training, initial_state=state)
            output_mask = step.layer.compute_mask(inputs, mask)
            if len(step.outputs) == 1:
                values[step.outputs[0]] = output
                if output_mask is not None:
                    masks[step.outputs[0]] = output_mask
            else:
                if not isinstance(output_mask, list):  # states carry no mask
                    output_mask = [output_mask] + [None] * (len(step.outputs) - 1)
                for key, value, value_mask in zip(step.outputs, output, output_mask):
                    values[key] = value
                    if value_mask is not None:
                        masks[key] = value_mask
            tape.append((step, cache))
        return [values[key] for key in self.output_keys], (tape, values, [masks.get(k) for k in self.output_keys])

    def backward(self, tape, d_outputs, ops, needs_input_gradient, layers):
        """(gradients of each layer's weights in the order of ``layers``, concatenated; the gradients of the
        graph's inputs by key) from the outputs' gradients ``d_outputs`` (None: no loss reaches one).
        ``needs_input_gradient`` maps ``id(node)`` to whether its layer computes its input's gradient."""
        if self.chain:
            return self._chain_backward(tape[0], d_outputs[0], ops, needs_input_gradient, layers)
        tape, values, _ = tape
        gradients = {}
        for key, gradient in zip(self.output_keys, d_outputs):
            _accumulate(gradients, key, gradient)
        layer_grads = {}
        for step, cache in reversed(tape):
            if len(step.outputs) == 1:
                d_output = gradients.pop(step.outputs[0], None)
                if d_output is None:
                    continue
            else:
                d_output = [gradients.pop(key, None) for key in step.outputs]
                if all(d is None for d in d_output):
                    continue
                if not step.missing_gradients_allowed:
                    d_output = [ops.zeros_like(values[key]) if d is None else d
                                for key, d in zip(step.outputs, d_output)]
            result = step.layer.backward(cache, d_output, input_gradient=needs_input_gradient[id(step.node)])
            if result.d_input is not None:
                if step.listed:
                    for key, gradient in zip(step.inputs, result.d_input):
                        _accumulate(gradients, key, gradient)
                else:
                    _accumulate(gradients, step.inputs[0], result.d_input)
            if step.initial_state and result.d_initial_state is not None:
                for key, gradient in zip(step.initial_state, result.d_initial_state):
                    _accumulate(gradients, key, gradient)
            if result.grads:
                _add_layer_gradients(layer_grads, step.layer, result.grads, ops)
        return _in_order(layer_grads, layers, ops), gradients

    def _chain_forward(self, value, training, mask):
        """``forward`` of a chain (each step reads the one value the step before wrote): the same calls with
        the value and its mask carried along, without the lookups (a few us of a small model's call)."""
        tape = []
        for step in self.steps:
            output, cache = step.layer.forward(value, mask=mask, training=training if step.training is None
                                               else step.training, initial_state=None)
            mask = step.layer.compute_mask(value, mask)
            value = output
            tape.append((step, cache))
        return [value], (tape, None, [mask])

    def _chain_backward(self, tape, d_output, ops, needs_input_gradient, layers):
        """``backward`` of a chain: each step's input gradient is the gradient of the step before's output;
        where none comes back (a layer that computes none), the steps before get none either."""
        layer_grads = {}
        for step, cache in reversed(tape):
            if d_output is None:
                break
            result = step.layer.backward(cache, d_output, input_gradient=needs_input_gradient[id(step.node)])
            if result.grads:
                _add_layer_gradients(layer_grads, step.layer, result.grads, ops)
            d_output = result.d_input
        return _in_order(layer_grads, layers, ops), {} if d_output is None else {self.input_keys[0]: d_output}


def _add_layer_gradients(layer_grads, layer, grads, ops):
    """Record ``layer``'s weight gradients from one of its calls, added to those of its other calls (a layer
    the graph calls several times: Keras' shared layers)."""
    previous = layer_grads.get(layer)
    layer_grads[layer] = list(grads) if previous is None else [ops.add(a, b) for a, b in zip(previous, grads)]


def _in_order(layer_grads, layers, ops):
    """The gradients of ``layers``' weights, concatenated in their order: zeros for a layer no gradient
    reached."""
    grads = []
    for layer in layers:
        grads += layer_grads.get(layer) or [ops.zeros(w.shape, w.dtype) for w in layer.weights]
    return grads


def _is_chain(steps, input_keys, output_keys):
    """Whether the steps form a chain from the one input to the one output: each step reads the value the
    step before wrote (the first the input), alone, with no explicit mask or initial state, and writes one."""
    if len(input_keys) != 1 or len(output_keys) != 1 or not steps:
        return False
    key = input_keys[0]
    for step in steps:
        if step.listed or step.mask is not None or step.initial_state or step.inputs != (key,) \
                or len(step.outputs) != 1:
            return False
        key = step.outputs[0]
    return key == output_keys[0]


def _step(node):
    listed = isinstance(node.inputs, list)
    return Step(node, node.layer, tuple(id(t) for t in (node.inputs if listed else [node.inputs])), listed,
                None if node.mask is None else id(node.mask), tuple(id(t) for t in node.initial_state or ()),
                tuple(id(t) for t in node.outputs), None if node.training is None else bool(node.training),
                bool(getattr(node.layer, "missing_gradients_allowed", False)))


def _accumulate(gradients, key, gradient):
    """Add ``gradient`` to the gradient held for ``key`` (a tensor read by several nodes gets their sum)."""
    if gradient is None:
        return
    previous = gradients.get(key)
    gradients[key] = gradient if previous is None else backend.array_ops(gradient).add(previous, gradient)
