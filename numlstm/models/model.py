"""Model: a graph of layers from symbolic inputs to outputs, Keras' functional API.

    inputs = numlstm.Input((24, 3))
    features = numlstm.Input((5,))
    h = numlstm.layers.LSTM(32)(inputs)
    outputs = numlstm.layers.Dense(1)(numlstm.layers.Concatenate()([h, features]))
    model = numlstm.Model([inputs, features], outputs)

``Sequential`` is the same model with a chain for a graph. The weights of
all layers live in one flat buffer once the model is built (the trainable
ones first, so that the optimizer updates exactly those with one fused
kernel); the buffer and the optimizer state live on the device that
``numlstm.dispatch`` names when the model runs and stay there between
calls.
"""

import numpy as np

from .. import backend
from ..layers import Layer
from ..layers.base import check_finite_data, inference_only, unique_name
from ..layers.input_layer import InputLayer
from ..layers.symbolic import SymbolicTensor, any_symbolic, call_symbolically, flatten
from ..registry import layer_entry
from . import graph, structures
from .compile_notice import announces_compiles
from .device_context import in_device_context
from .graph_program import GraphProgram
from .nesting import NestedModel
from .trainer import Trainer
from .weight_buffer import WeightBuffer


class Model(NestedModel, WeightBuffer, Trainer):
    """A model from symbolic inputs to outputs (Keras' functional ``keras.Model``).

    Parameters
    ----------
    inputs : SymbolicTensor, list or dict of them
        From :func:`numlstm.Input`. Data for the model comes in the same
        structure (a dict keyed as here, or by the inputs' names).
    outputs : SymbolicTensor, list or dict of them
        Tensors computed from ``inputs`` by calling layers on them.
        ``predict`` returns arrays in this structure; ``loss``, ``metrics``
        and targets may be lists or dicts aligned with it.
    name : str, optional

    Examples
    --------
    A sequence-to-sequence model: the encoder's final states start the decoder.

    >>> import numlstm
    >>> from numlstm import layers
    >>> encoder_inputs = numlstm.Input((None, 12))
    >>> _, h, c = layers.LSTM(64, return_state=True)(encoder_inputs)
    >>> decoder_inputs = numlstm.Input((None, 12))
    >>> decoded = layers.LSTM(64, return_sequences=True)(decoder_inputs, initial_state=[h, c])
    >>> outputs = layers.TimeDistributed(layers.Dense(12, activation="softmax"))(decoded)
    >>> model = numlstm.Model([encoder_inputs, decoder_inputs], outputs)
    >>> model.compile("adam", "categorical_crossentropy")
    """

    registered_name = "Functional"  # Keras' name for it, in saved files and summaries

    def __init__(self, inputs=None, outputs=None, name=None):
        if not getattr(type(self), "builds_its_graph", False) and (inputs is None or outputs is None):
            if type(self) is not Model:  # a Keras-style subclass with its own call()
                raise TypeError(f"{type(self).__name__}: numlstm does not train subclassed models (a call() method "
                                "cannot be differentiated here); build the same network with the functional API, "
                                "numlstm.Model(inputs, outputs), or numlstm.Sequential")
            raise TypeError("Model(inputs, outputs): give the symbolic inputs (from numlstm.Input) and the "
                            "outputs computed from them; for a stack of layers use numlstm.Sequential")
        super().__init__()
        self.name = name or unique_name("functional" if type(self) is Model else type(self).__name__.lower())
        # JSON-compatible facts saved with the model (the numlstm command keeps its
        # window sizes and scaler here, so that a model file is self-contained).
        self.metadata = {}
        self._params = None
        self._nodes = self._layers = None
        self.inbound_nodes = []  # the model's calls as a layer of other models
        self._accepted_input = None  # (the inputs, shape, dtype) of the last single array that passed the checks
        self.trainable = True
        if inputs is not None:
            self._set_graph(inputs, outputs)

    # -- structure -------------------------------------------------------------------
    def _set_graph(self, inputs, outputs):
        flat_inputs = list(inputs.values()) if isinstance(inputs, dict) else flatten(inputs)
        for tensor in flat_inputs:
            if not isinstance(tensor, SymbolicTensor) or not isinstance(tensor.layer, InputLayer):
                raise TypeError(f"{self.name}: inputs must be symbolic tensors from numlstm.Input, got {tensor!r}")
        flat_outputs = list(outputs.values()) if isinstance(outputs, dict) else flatten(outputs)
        for tensor in flat_outputs:
            if not isinstance(tensor, SymbolicTensor):
                raise TypeError(f"{self.name}: outputs must be symbolic tensors computed from the inputs "
                                f"(call layers on numlstm.Input), got {type(tensor).__name__}")
        self._inputs, self._outputs = flat_inputs, flat_outputs
        self._nodes, self._layers = graph.map_graph(flat_inputs, flat_outputs)
        self._program = GraphProgram(flat_inputs, flat_outputs, self._nodes)
        input_names = list(inputs) if isinstance(inputs, dict) else [t.layer.name for t in flat_inputs]
        output_names = list(outputs) if isinstance(outputs, dict) else [t.layer.name for t in flat_outputs]
        self._input_structure = structures.Structure(inputs, input_names)
        self._output_structure = structures.OutputStructure(outputs, output_names)
        self._host_inputs = [self._read_on_host(t) for t in flat_inputs]
        self._needs_input_gradient = self._input_gradients_needed(inputs_carry=False)
        self._needs_input_gradient_nested = self._input_gradients_needed(inputs_carry=True)
        self._gather_weights()

    def _read_on_host(self, tensor):
        """Whether every layer that reads the input ``tensor`` takes host data (an Embedding checks its ids
        there): then a batch of it is never uploaded."""
        readers = [node.layer for node in self._nodes if any(t is tensor for t in node.input_tensors)]
        return bool(readers) and all(getattr(layer, "takes_host_input", False) for layer in readers)

    def _input_gradients_needed(self, inputs_carry):
        """Per node: whether any of its inputs comes from a layer with weights (directly or further up), or,
        with ``inputs_carry``, from the model's inputs (a model nested in another passes gradients on to
        them): below the lowest layers with weights no input gradient is computed."""
        carries = {id(t): inputs_carry for t in self._inputs}
        needed = {}
        for node in self._nodes:
            needed[id(node)] = any(carries.get(id(t), False) for t in node.input_tensors)
            for tensor in node.outputs:
                carries[id(tensor)] = needed[id(node)] or node.layer.count_params() > 0
        return needed

    @property
    def built(self):
        """Whether every layer has its weights, gathered in the model's flat buffer."""
        return self._layers is not None and self._params is not None

    @property
    def layers(self):
        """The layers in Keras' order (a functional model lists its InputLayers; Sequential does not)."""
        return list(self._layers or [])

    @property
    def inputs(self):
        """The symbolic input tensors, in the model's input order (None before a Sequential is built)."""
        return list(self._inputs) if self._layers is not None else None

    @property
    def outputs(self):
        """The symbolic output tensors, in the model's output order (None before a Sequential is built)."""
        return list(self._outputs) if self._layers is not None else None

    @property
    def input(self):
        """The input tensor (a list of them for several inputs), as Keras' ``model.input``."""
        self._require_graph("input")
        return self._input_structure.restore(list(self._inputs))

    @property
    def output(self):
        """The output tensor (a list or dict of them for several outputs), as Keras' ``model.output``."""
        self._require_graph("output")
        return self._output_structure.restore(list(self._outputs))

    def _require_graph(self, what):
        if self._layers is None:
            raise AttributeError(f"{self.name} has no {what} yet: give it an Input or build it")

    @property
    def input_names(self):
        """The inputs' names: the keys of dict data (an InputLayer's name, or a dict input's key)."""
        return list(self._input_structure.names)

    @property
    def output_names(self):
        """The outputs' names, which key dict targets and prefix per-output logs (``{name}_loss``)."""
        return list(self._output_structure.names)

    def get_layer(self, name=None, index=None):
        """The layer called ``name`` (or at position ``index`` of ``layers``); ValueError if there is none."""
        if (name is None) == (index is None):
            raise ValueError("get_layer takes a name or an index, one of the two")
        if index is not None:
            if not isinstance(index, (int, np.integer)) or not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"{self.name} has {len(self.layers)} layers; no index {index!r}")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"{self.name} has no layer named {name!r}; its layers: "
                         f"{', '.join(layer.name for layer in self.layers)}")

    def _require_built(self, what):
        if not self.built:
            raise ValueError(f"{self.name} is not built yet: give it an Input, call build(input_shape) "
                             f"or call it on data before {what}")

    def _inner_layers(self):
        """The layers, with a wrapper's layers in its place (a Bidirectional's two LSTMs)."""
        for layer in self.layers:
            if isinstance(layer, Model):
                yield from layer._inner_layers()
            elif hasattr(layer, "forward_layer"):
                yield from (layer.forward_layer, layer.backward_layer)
            elif hasattr(layer, "layer") and isinstance(layer.layer, Layer):
                yield layer.layer
            else:
                yield layer

    def reset_states(self):
        """Forget the states of every stateful layer (Keras' ``reset_states``): new sequences begin."""
        for layer in self._inner_layers():
            if getattr(layer, "stateful", False):
                layer.reset_state()

    def count_params(self):
        """The number of weight elements, trainable or not."""
        return sum(layer.count_params() for layer in self.layers)

    # -- running ---------------------------------------------------------------------
    def _ensure_built(self, xs):
        """Check the arrays ``xs`` against the inputs' declared shapes (Sequential builds from them first)."""
        for tensor, x in zip(self._inputs, xs):
            declared = tensor.shape
            if not _takes(declared, x.shape):
                which = "x" if len(self._inputs) == 1 else f"input {tensor.layer.name!r}"
                hint = ""
                if _takes(declared, (1,) + x.shape):
                    hint = f"; for one sample, add the batch axis: {which}[None]"
                elif len(declared) >= 3 and _takes(declared[:1] + (None,) + declared[2:], x.shape):
                    hint = (f"; for sequences of any length, declare the input as "
                            f"numlstm.Input({_shape_text((None,) + tuple(declared[2:]))})")
                raise ValueError(f"{which} has shape {x.shape}, but {self.name} takes input of shape "
                                 f"{_shape_text(declared)}{hint}")

    def _input_arrays(self, x, argument="x"):
        if structures.same_kind(self._accepted_input, self._inputs, x):
            # The array's structure, type and shape passed on an earlier call (a model called in a loop):
            # only its values are new.
            check_finite_data(x, argument)
            return [x]
        arrays = structures.as_arrays(self._input_structure.aligned(x, argument), argument, self.input_names)
        self._ensure_built(arrays)
        if type(x) is np.ndarray and len(arrays) == 1 and arrays[0] is x:
            self._accepted_input = structures.array_kind(self._inputs, x)
        return arrays

    def _forward(self, xs, training, for_backward=True):
        """The outputs (a list) for host arrays ``xs`` on the current device, and the tape for ``_backward``;
        without ``for_backward`` the layers keep nothing for a backward pass (``inference_only``), and the
        tape only the outputs' masks."""
        ops = self._place()
        xs = [x if host else ops.local(x) for x, host in zip(xs, self._host_inputs)]
        if for_backward:
            return self._run_graph(xs, training)
        with inference_only():
            return self._run_graph(xs, training)

    def _run_graph(self, xs, training, input_masks=None):
        """Run the nodes in order on ``xs`` (where the layers compute), masks flowing as in Keras."""
        return self._program.forward(xs, training, input_masks)

    def _backward(self, tape, d_outputs, ops, nested=False):
        """Weight gradients (aligned with ``get_weights()``) from the gradients of the outputs (None: no loss);
        ``nested``: also the gradients of the model's inputs (None where nothing reaches one)."""
        needs_input_gradient = self._needs_input_gradient_nested if nested else self._needs_input_gradient
        grads, gradients = self._program.backward(tape, d_outputs, ops, needs_input_gradient, self.layers)
        if nested:
            return grads, [gradients.get(key) for key in self._program.input_keys]
        return grads

    def _flat_trainable(self, ops, grads):
        """The trainable gradients in the buffer's order, as one flat array (the optimizer's input)."""
        return ops.flatten([grads[i] for i in self._layout[1]], self._params.dtype)

    def __call__(self, x, training=None, mask=None, initial_state=None):
        """The outputs for ``x``: arrays in, arrays out (inference unless ``training``); symbolic tensors in,
        symbolic tensors out, the model then one layer of a larger model (its weights shared, as in Keras)."""
        if type(x) is np.ndarray and mask is None and initial_state is None:
            return self._call_on_arrays(x, bool(training))
        if any_symbolic(list(x.values()) if isinstance(x, dict) else x, mask, initial_state):
            if initial_state is not None:
                raise ValueError(f"{self.name}: a nested model takes no initial_state; give its inputs instead")
            if not self.built and isinstance(x, SymbolicTensor):  # a Sequential without an Input yet
                self._build_for_tensor(x)
            inputs = self._input_structure.aligned(x, "inputs")
            return call_symbolically(self, inputs if len(inputs) > 1 else inputs[0], mask=mask, training=training)
        return self._call_on_arrays(x, bool(training))

    @announces_compiles
    @in_device_context
    def _call_on_arrays(self, x, training):
        xs = self._ready_inputs(x)
        outputs = self._forward(xs, training, for_backward=False)[0]
        return self._output_structure.restore([backend.to_host(o) for o in outputs])

    def predict_on_batch(self, x):
        """The outputs for one batch ``x`` (inputs in the model's structure), in inference mode.

        Parameters
        ----------
        x : array, or a list or dict of arrays for several inputs
        """
        return self(x)

    # -- description -----------------------------------------------------------------
    def summary(self, print_fn=print):
        """Print Keras' table of the layers, their output shapes and parameter counts, and the totals.

        A functional model's table also says which tensors feed each layer
        (``layer[node][tensor]``); the totals split trainable and frozen weights.

        Parameters
        ----------
        print_fn : callable
            Called with each line (``print`` by default).
        """
        self._require_built("summary")
        connected = type(self) is Model
        rows = [("Layer (type)", "Output Shape", "Param #") + (("Connected to",) if connected else ())]
        for layer in self.layers:
            nodes = self._layer_nodes(layer)
            shapes = [_shape_text(t.shape) for t in nodes[0].outputs] if nodes else []  # a shared layer: its first call
            sources = [f"{t.layer.name}[{t.node_index}][{t.tensor_index}]"
                       for node in self._layer_nodes(layer) for t in node.input_tensors]
            kind = getattr(type(layer), "registered_name", type(layer).__name__)
            row = (f"{layer.name} ({kind})", ", ".join(shapes), f"{layer.count_params():,}")
            rows.append(row + ((", ".join(sources) or "-",) if connected else ()))
        widths = [max(len(row[i]) for row in rows) + 2 for i in range(len(rows[0]))]
        print_fn(f'Model: "{self.name}"')
        for i, row in enumerate(rows):
            print_fn("".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
            print_fn(("=" if i in (0, len(rows) - 1) else "_") * sum(widths))
        trainable = sum(w.size for w in self.trainable_weights)
        total = self.count_params()
        print_fn(f"Total params: {total:,}")
        print_fn(f"Trainable params: {trainable:,}")
        print_fn(f"Non-trainable params: {total - trainable:,}")

    def _layer_nodes(self, layer):
        """The nodes of ``layer`` in this model (an InputLayer's own node included)."""
        if isinstance(layer, InputLayer):
            return layer.inbound_nodes[:1]
        return [node for node in self._nodes if node.layer is layer]

    def get_config(self):
        """The graph as data: the layers with their configs and the calls that connect them (Keras' layout)."""

        def reference(tensor):
            return [tensor.layer.name, self._node_number(tensor.node), tensor.tensor_index]

        layers = []
        for layer in self.layers:
            entry = layer_entry(layer)
            entry["name"] = layer.name
            entry["inbound_nodes"] = [{
                "args": [reference(t) for t in flatten(node.inputs)], "list": isinstance(node.inputs, list),
                "initial_state": None if not node.initial_state else [reference(t) for t in node.initial_state],
                "mask": None if node.mask is None else reference(node.mask), "training": node.training,
            } for node in self._layer_nodes(layer) if not isinstance(layer, InputLayer)]
            entry["trainable"] = layer.trainable
            layers.append(entry)
        structure = {}
        for role, tensors, given in (("input_layers", self._inputs, self._input_structure),
                                     ("output_layers", self._outputs, self._output_structure)):
            structure[role] = {"kind": given.kind, "names": given.names, "tensors": [reference(t) for t in tensors]}
        return {"name": self.name, "layers": layers, **structure}

    def _node_number(self, node):
        """A node's index among its layer's nodes in this model (a layer may have nodes in other models)."""
        return self._layer_nodes(node.layer).index(node)

    @classmethod
    def from_config(cls, config):
        """A new model, with new layers and fresh weights, from ``get_config()`` data.

        Parameters
        ----------
        config : dict
            As ``get_config()`` returns it; anything malformed is a ``FileFormatError``.
        """
        from .config import graph_from_config

        return graph_from_config(config)


def _takes(declared, shape):
    """Whether an input declared as ``declared`` (batch axis first, None where any size goes) takes an array of
    ``shape``."""
    return len(shape) == len(declared) and all(d is None or d == s for d, s in zip(declared[1:], shape[1:]))


def _shape_text(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"

