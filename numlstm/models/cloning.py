"""clone_model: the same architecture with new layers and freshly initialised weights, as Keras'."""


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

    Examples
    --------
    >>> import numlstm
    >>> inputs = numlstm.Input((5, 2))
    >>> model = numlstm.Model(inputs, numlstm.layers.Dense(1)(numlstm.layers.LSTM(3)(inputs)))
    >>> twin = numlstm.models.clone_model(model)
    >>> twin.set_weights(model.get_weights())
    """
    return type(model).from_config(model.get_config())
