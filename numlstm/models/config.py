"""Models rebuilt from their configs: a functional graph replayed call by call, a Sequential from its stack.

Configs come from ``get_config()`` or from a model file; a file may be
forged, so everything here checks what it reads and raises
``FileFormatError`` for anything malformed: unknown classes, references to
nothing, cycles, repeated names, absurd lists.
"""

from ..layers.input_layer import InputLayer
from ..registry import FileFormatError, layer_from_config

# A forged graph must not make loading allocate or loop without bound.
_MAX_LAYERS = 10_000
_MAX_NODES_PER_LAYER = 1_000


def graph_from_config(config):
    """Rebuild a functional model from ``Model.get_config()`` data: every layer from its entry, then every
    recorded call replayed once its inputs exist. Unknown classes, references to nothing, cycles and
    malformed entries are FileFormatError."""
    from .model import Model

    entries = config["layers"]
    if not isinstance(entries, list) or len(entries) > _MAX_LAYERS:
        raise FileFormatError("the model's layer list is damaged or absurdly long")
    layers, pending = {}, []
    for entry in entries:
        layer = _trainable(layer_from_config(entry), entry)
        if layer.name in layers or entry.get("name", layer.name) != layer.name:
            raise FileFormatError(f"the layer name {layer.name!r} is repeated or does not match its config")
        layers[layer.name] = layer
        calls = entry.get("inbound_nodes", [])
        if not isinstance(calls, list) or len(calls) > _MAX_NODES_PER_LAYER:
            raise FileFormatError(f"layer {layer.name}: its list of calls is damaged")
        pending += [(layer, number, call) for number, call in enumerate(calls)]
    tensors = {(name, 0, 0): layer.output for name, layer in layers.items() if isinstance(layer, InputLayer)}

    def tensor(reference):
        if not (isinstance(reference, list) and len(reference) == 3 and isinstance(reference[0], str)
                and all(isinstance(i, int) and not isinstance(i, bool) for i in reference[1:])):
            raise FileFormatError(f"a tensor reference must be [layer name, node, tensor], got {reference!r:.80}")
        return tensors.get(tuple(reference))

    replayed = dict.fromkeys(layers.values(), 0)
    while pending:  # replay every call whose inputs exist; a pass with none left means a cycle or a dangling one
        waiting = []
        for layer, number, call in pending:
            if not isinstance(call, dict) or not isinstance(call.get("args"), list):
                raise FileFormatError(f"layer {layer.name}: a call is damaged")
            state, mask = call.get("initial_state"), call.get("mask")
            references = call["args"] + (state or []) + ([mask] if mask is not None else [])
            if replayed[layer] != number or any(tensor(r) is None for r in references):
                waiting.append((layer, number, call))
                continue
            args = [tensor(r) for r in call["args"]]
            outputs = layer(args if call.get("list") else args[0],
                            initial_state=None if state is None else [tensor(r) for r in state],
                            mask=None if mask is None else tensor(mask), training=call.get("training"))
            for i, output in enumerate(outputs if isinstance(outputs, list) else [outputs]):
                tensors[(layer.name, number, i)] = output
            replayed[layer] += 1
        if len(waiting) == len(pending):
            raise FileFormatError(f"the model's graph does not connect: layer {waiting[0][0].name}'s call "
                                  f"{waiting[0][1]} reads a tensor that nothing makes (or the graph has a cycle)")
        pending = waiting

    def ends(role):
        spec = config[role]
        found = [tensor(r) for r in spec["tensors"]]
        if any(t is None for t in found) or not found:
            raise FileFormatError(f"the model's {role} name tensors that the graph does not make")
        if spec["kind"] == "dict":
            return dict(zip(spec["names"], found))
        return found if spec["kind"] == "list" else found[0]

    return Model(ends("input_layers"), ends("output_layers"), name=config["name"])


def sequential_from_config(config):
    """A Sequential model from ``Sequential.get_config()`` data (new layers, fresh weights)."""
    from .sequential import Sequential

    shape = config["input_shape"]
    start = [] if shape is None else [InputLayer(tuple(shape[1:]), batch_size=shape[0],
                                                 name=f"{config['name']}_input")]
    return Sequential(start + [_trainable(layer_from_config(entry), entry) for entry in config["layers"]],
                      name=config["name"])


def _trainable(layer, entry):
    trainable = entry.get("trainable", True)
    if not isinstance(trainable, bool):
        raise FileFormatError(f"layer {layer.name}: trainable must be true or false, got {trainable!r:.40}")
    layer.trainable = trainable
    return layer
