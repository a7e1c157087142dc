"""clone_model: the same architecture with new layers and freshly initialised weights, as Keras'."""

from ..saving import layer_from_config, layer_entry, model_from_graph_config
from .sequential import Sequential


def clone_model(model):
    """A new model of the same architecture, with new layers and freshly initialised weights, not compiled.

    Keras' ``keras.models.clone_model``: each layer is rebuilt from its
    config, so its weights are drawn anew by its initializers.

    Parameters
    ----------
    model : Model or Sequential

    Returns
    -------
    Model or Sequential
        Of the same class; copy the weights with ``clone.set_weights(model.get_weights())`` if wanted.

    Example
    -------
    >>> import numlstm
    >>> inputs = numlstm.Input((5, 2))
    >>> model = numlstm.Model(inputs, numlstm.layers.Dense(1)(numlstm.layers.LSTM(3)(inputs)))
    >>> twin = numlstm.models.clone_model(model)
    >>> twin.set_weights(model.get_weights())
    """
    if isinstance(model, Sequential):
        clone = Sequential([layer_from_config(layer_entry(layer)) for layer in model.layers], name=model.name)
        if model._input_shape is not None:
            clone.build(model._input_shape)
        return clone
    return model_from_graph_config(model.get_config())
