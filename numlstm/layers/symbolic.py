"""Symbolic tensors and nodes: what calling a layer on ``numlstm.Input`` records.

A :class:`SymbolicTensor` stands for an array that does not exist yet: it has
a shape (batch axis first, ``None`` where any size goes) and a dtype, and it
remembers the call that makes it. Each call of a layer on symbolic tensors
adds a :class:`Node` to the layer's ``inbound_nodes``; ``numlstm.Model(inputs,
outputs)`` walks the nodes back from ``outputs`` to ``inputs`` and runs them
in order on real arrays. As in Keras, a layer called twice is one set of
weights used at two nodes.
"""

import numpy as np


class SymbolicTensor:
    """A placeholder for an array in a model graph (Keras' ``KerasTensor``).

    Parameters
    ----------
    shape : tuple
        Batch axis first; ``None`` for a size fixed only by the data.
    dtype : numpy dtype
    layer, node_index, tensor_index :
        The layer call that makes it: ``layer.inbound_nodes[node_index]``,
        output number ``tensor_index``.
    name : str
    """

    __slots__ = ("shape", "dtype", "layer", "node_index", "tensor_index", "name")

    def __init__(self, shape, dtype, layer, node_index, tensor_index, name):
        self.shape = tuple(None if dim is None else int(dim) for dim in shape)
        self.dtype = np.dtype(dtype)
        self.layer, self.node_index, self.tensor_index = layer, node_index, tensor_index
        self.name = name

    @property
    def node(self):
        return self.layer.inbound_nodes[self.node_index]

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<SymbolicTensor shape={self.shape}, dtype={self.dtype.name}, name={self.name}>"

    def __array__(self, *args, **kwargs):
        raise TypeError(f"{self.name} is a symbolic tensor (a placeholder in a model graph), not data: build a "
                        "numlstm.Model(inputs, outputs) from it and call the model on arrays")

    def __len__(self):
        raise TypeError(f"{self.name} is a symbolic tensor: its batch size is not known")

    def __iter__(self):  # keeps `h, c = state_tensor` from iterating forever through __getitem__
        raise TypeError(f"{self.name} is one symbolic tensor, not a list of them")


def is_symbolic(value):
    return isinstance(value, SymbolicTensor)


def flatten(structure):
    """The arrays or tensors of a tensor, a list/tuple of them, or None (none)."""
    if structure is None:
        return []
    if isinstance(structure, (list, tuple)):
        return [item for part in structure for item in flatten(part)]
    return [structure]


def any_symbolic(*structures):
    return any(is_symbolic(item) for structure in structures for item in flatten(structure))


class Node:
    """One call of ``layer`` on symbolic tensors.

    Attributes
    ----------
    layer : Layer
    inputs : SymbolicTensor or list of SymbolicTensor
        The first argument, as given (a list for merging layers).
    initial_state : list of SymbolicTensor, or None
    mask : SymbolicTensor or None
        A mask given explicitly; without one, the mask the inputs carry flows in.
    training : bool or None
        A ``training`` fixed at the call (Keras' ``layer(x, training=True)``); None follows the model's call.
    outputs : list of SymbolicTensor
    """

    def __init__(self, layer, inputs, initial_state, mask, training, outputs):
        self.layer, self.inputs, self.initial_state = layer, inputs, initial_state
        self.mask, self.training, self.outputs = mask, training, outputs

    @property
    def input_tensors(self):
        """Every symbolic tensor the node reads: inputs, then initial states, then an explicit mask."""
        return flatten(self.inputs) + flatten(self.initial_state) + flatten(self.mask)

    @property
    def parents(self):
        return [tensor.node for tensor in self.input_tensors]


def _shapes(inputs):
    return [t.shape for t in inputs] if isinstance(inputs, (list, tuple)) else inputs.shape


def call_symbolically(layer, inputs, mask=None, training=None, initial_state=None):
    """Record ``layer(inputs, ...)`` on symbolic tensors: build the layer for their shapes, add a Node,
    and return symbolic outputs of the shapes the layer computes (a list where it returns several)."""
    for value, what in ((inputs, "the inputs"), (initial_state, "initial_state"), (mask, "mask")):
        if any(not is_symbolic(item) for item in flatten(value)):
            raise TypeError(f"{layer.name}: {what} mix symbolic tensors and arrays; in a model graph every input "
                            "must be a symbolic tensor (from numlstm.Input or another layer)")
    if isinstance(inputs, tuple):
        inputs = list(inputs)
    if initial_state is not None:
        initial_state = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
    shapes = _shapes(inputs)
    if not layer.built:
        layer.build(shapes)
    output_shapes = layer.compute_output_shape(shapes)
    several = isinstance(output_shapes, list)
    node_index = len(layer.inbound_nodes)
    outputs = []
    for i, shape in enumerate(output_shapes if several else [output_shapes]):
        name = layer.name if not several else f"{layer.name}_{i}"
        outputs.append(SymbolicTensor(shape, layer.dtype, layer, node_index, i, name))
    layer.inbound_nodes.append(Node(layer, inputs, initial_state, mask, training, outputs))
    return outputs if several else outputs[0]
