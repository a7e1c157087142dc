"""The graph of a functional model: its nodes in the order they run, its layers in Keras' order.

``map_graph`` follows Keras 3's ``keras.src.ops.function.map_graph``: a
depth-first walk from the outputs back to the inputs orders the nodes; each
node's depth is its distance from the outputs; layers are listed by
decreasing depth, ties by the walk's order. Keras lists a model's weights in
that layer order, so ``get_weights``/``set_weights`` agree with a Keras model
built by the same code.
"""

import collections

from ..layers.input_layer import InputLayer


def map_graph(inputs, outputs):
    """(nodes in running order, layers in Keras' order) of the graph from ``inputs`` to ``outputs``.

    Raises ValueError for a cycle, an output that the inputs do not reach
    (naming the tensor that is missing) or two layers of one name.
    """
    finished, in_progress = set(), set()
    ordered = []  # from the inputs towards the outputs
    first_seen = {}  # layer -> its index in the walk
    input_ids = {id(t) for t in inputs}

    def visit(tensor):
        node = tensor.node
        if id(node) in finished:
            return
        if id(node) in in_progress:
            raise ValueError(f"the tensor {tensor.name} from layer {tensor.layer.name} is part of a cycle")
        first_seen.setdefault(tensor.layer, len(first_seen))
        in_progress.add(id(node))
        if id(tensor) not in input_ids:
            for parent in node.input_tensors:
                visit(parent)
        in_progress.discard(id(node))
        finished.add(id(node))
        ordered.append(node)

    for tensor in outputs:
        visit(tensor)

    depth_of_node, depth_of_layer = {}, {}
    members = {id(node) for node in ordered}
    for node in reversed(ordered):
        depth = depth_of_node.setdefault(id(node), 0)
        depth = max(depth, depth_of_layer.get(node.layer, 0))
        depth_of_layer[node.layer] = depth
        depth_of_node[id(node)] = depth
        for parent in node.parents:
            if id(parent) in members:
                depth_of_node[id(parent)] = max(depth + 1, depth_of_node.get(id(parent), 0))
    for tensor in inputs:  # an input no output depends on is still the model's
        if tensor.layer not in depth_of_layer:
            depth_of_layer[tensor.layer] = 0
            first_seen[tensor.layer] = -1

    computable = {id(t) for t in inputs}
    for node in sorted(ordered, key=lambda n: -depth_of_node[id(n)]):
        if isinstance(node.layer, InputLayer) and id(node.outputs[0]) not in computable:
            raise ValueError(f"graph disconnected: the outputs need the input {node.outputs[0].name}, which is not "
                             f"among the model's inputs ({', '.join(t.name for t in inputs)})")
        for tensor in node.input_tensors:
            if id(tensor) not in computable:
                raise ValueError(f"graph disconnected: cannot compute {tensor.name}, an input of layer "
                                 f"{node.layer.name}, from the model's inputs")
        computable.update(id(t) for t in node.outputs)

    by_depth = collections.defaultdict(list)
    for layer, depth in depth_of_layer.items():
        by_depth[depth].append(layer)
    layers = [layer for depth in sorted(by_depth, reverse=True)
              for layer in sorted(by_depth[depth], key=lambda item: first_seen[item])]
    names = collections.Counter(layer.name for layer in layers)
    repeated = [name for name, count in names.items() if count > 1]
    if repeated:
        raise ValueError(f"layer names must be unique within a model; used more than once: {', '.join(repeated)}")
    running = [node for node in ordered if not isinstance(node.layer, InputLayer)]
    return running, layers
