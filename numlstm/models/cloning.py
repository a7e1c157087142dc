"""clone_model: the same architecture with new layers and freshly initialised weights, as Keras'."""

from ..saving import layer_from_config, layer_entry, model_from_graph_config
from .sequential import Sequential


def clone_model(model):
    """A new model of the same architecture: new layers built from the originals' configs, weights drawn anew
    by their initializers (Keras' ``keras.models.clone_model``); not compiled.

    Parameters
    ----------
    model : Model or Sequential

    Returns
    -------
    Model or Sequential
        Of the same class; copy the weights with ``clone.set_weights(model.get_weights())`` if wanted.

    Example
    -------
    >>> twin = numlstm.models.clone_model(model)
    >>> twin.set_weights(model.get_weights())
    """
    if isinstance(model, Sequential):
        clone = Sequential([layer_from_config(layer_entry(layer)) for layer in model.layers], name=model.name)
        if model._input_shape is not None:
            clone.build(model._input_shape)
        return clone
    return model_from_graph_config(model.get_config())
