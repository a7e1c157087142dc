"""Weights to and from PyTorch: ``torch.nn.LSTM`` (stacked, bidirectional) with an optional ``nn.Linear``.

torch is imported inside these functions only; it is never a dependency of
numlstm. Weights map as kernel = W_ih.T, recurrent_kernel = W_hh.T,
bias = b_ih + b_hh (torch keeps two biases; numlstm, like Keras, one), gate
order i, f, c (torch's g), o in both.

The numlstm model built by ``from_torch`` computes ``linear(lstm(x)[0])``
for batch-first input: every LSTM layer returns its whole sequence and the
Dense head, like ``nn.Linear``, acts on each timestep.
"""

import numpy as np

from . import backend

from .layers import LSTM, Bidirectional, Dense
from .models import Sequential


def _numpy(parameter):
    return parameter.detach().cpu().numpy()


def from_torch(lstm, linear=None, name=None):
    """A Sequential model with the weights of ``lstm`` (and ``linear``).

    Parameters
    ----------
    lstm : torch.nn.LSTM
        Any number of layers, bidirectional or not, with or without
        biases; not ``proj_size``. Its input is taken as batch first,
        whatever its ``batch_first``.
    linear : torch.nn.Linear, optional
        A head applied to every timestep; it becomes a ``Dense`` layer.
    name : str, optional
        The model's name.

    Returns
    -------
    Sequential
        ``LSTM(return_sequences=True)`` layers (``Bidirectional`` ones
        for a bidirectional LSTM), then a ``Dense``; built, in the LSTM's
        dtype, computing ``linear(lstm(x)[0])``.

    Examples
    --------
    >>> import torch
    >>> from numlstm import interop
    >>> model = interop.from_torch(torch.nn.LSTM(3, 8, num_layers=2), torch.nn.Linear(8, 1))
    >>> [type(layer).__name__ for layer in model.layers]
    ['LSTM', 'LSTM', 'Dense']
    """
    import torch

    if not isinstance(lstm, torch.nn.LSTM):
        raise TypeError(f"from_torch takes a torch.nn.LSTM, got {type(lstm).__name__}")
    if lstm.proj_size:
        raise ValueError("LSTMs with proj_size > 0 have no numlstm equivalent")
    if linear is not None and not isinstance(linear, torch.nn.Linear):
        raise TypeError(f"linear must be a torch.nn.Linear, got {type(linear).__name__}")
    dtype = lstm.weight_ih_l0.dtype
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"the LSTM's weights must be float32 or float64, got {dtype}")
    dtype = "float32" if dtype == torch.float32 else "float64"
    units = lstm.hidden_size
    model_layers, weights = [], []
    for layer in range(lstm.num_layers):
        suffixes = ["", "_reverse"] if lstm.bidirectional else [""]
        for suffix in suffixes:
            weights.append(_numpy(getattr(lstm, f"weight_ih_l{layer}{suffix}")).T)
            weights.append(_numpy(getattr(lstm, f"weight_hh_l{layer}{suffix}")).T)
            if lstm.bias:
                weights.append(_numpy(getattr(lstm, f"bias_ih_l{layer}{suffix}"))
                               + _numpy(getattr(lstm, f"bias_hh_l{layer}{suffix}")))
        cell = LSTM(units, return_sequences=True, use_bias=lstm.bias, dtype=dtype)
        model_layers.append(Bidirectional(cell) if lstm.bidirectional else cell)
    if linear is not None:
        model_layers.append(Dense(linear.out_features, use_bias=linear.bias is not None, dtype=dtype))
        weights.append(_numpy(linear.weight).T)
        if linear.bias is not None:
            weights.append(_numpy(linear.bias))
    model = Sequential(model_layers, name=name)
    model.build((None, None, lstm.input_size))
    model.set_weights(weights)
    return model


def _lstm_cells(layers):
    for layer in layers:
        if isinstance(layer, Bidirectional):
            if layer.merge_mode != "concat":
                raise ValueError(f"{layer.name}: torch concatenates the two directions; merge_mode must be 'concat'")
            yield layer, [layer.forward_layer, layer.backward_layer]
        elif isinstance(layer, LSTM):
            yield layer, [layer]


def to_torch(model):
    """``(torch.nn.LSTM, torch.nn.Linear or None)`` computing what ``model`` computes.

    Parameters
    ----------
    model : Sequential
        ``LSTM`` layers, or ``Bidirectional(LSTM)`` layers with
        ``merge_mode="concat"``, all of one ``units``, each returning
        sequences, without peepholes, CIFG or state; optionally ending in a
        linear ``Dense``.

    Returns
    -------
    lstm : torch.nn.LSTM
        ``batch_first=True``, in the model's dtype; ``bias_hh`` is zero
        and ``bias_ih`` holds the bias.
    linear : torch.nn.Linear or None
        The ``Dense`` head, if any.
    """
    import torch

    layers = list(model.layers)
    head = layers.pop() if layers and isinstance(layers[-1], Dense) else None
    if head is not None and head.activation != "linear":
        raise ValueError(f"{head.name}: nn.Linear has no activation; the Dense head must be linear")
    stack = list(_lstm_cells(layers))
    if len(stack) != len(layers) or not stack:
        raise ValueError("to_torch needs a model of LSTM or Bidirectional(LSTM) layers, optionally ending in Dense")
    kinds = {isinstance(layer, Bidirectional) for layer, _ in stack}
    cells = [cell for _, layer_cells in stack for cell in layer_cells]
    if len(kinds) != 1:
        raise ValueError("torch.nn.LSTM is bidirectional in every layer or in none")
    for cell in cells:
        if cell.peephole or cell.cifg or not cell.return_sequences or cell.stateful:
            raise ValueError(f"{cell.name}: torch.nn.LSTM has no peepholes, CIFG or stateful mode, and returns "
                             "whole sequences (set return_sequences=True)")
    units = {cell.units for cell in cells}
    if len(units) != 1:
        raise ValueError(f"torch.nn.LSTM has one hidden size for every layer; got {sorted(units)}")
    bidirectional = kinds == {True}
    first = cells[0]
    dtype = torch.float32 if first.dtype == np.float32 else torch.float64
    lstm = torch.nn.LSTM(first.kernel.shape[0], first.units, num_layers=len(stack), bias=first.use_bias,
                         batch_first=True, bidirectional=bidirectional, dtype=dtype)
    with torch.no_grad():
        for index, cell in enumerate(cells):
            layer, direction = divmod(index, 2) if bidirectional else (index, 0)
            suffix = "_reverse" if direction else ""
            for name, weight in (("ih", cell.kernel), ("hh", cell.recurrent_kernel)):
                getattr(lstm, f"weight_{name}_l{layer}{suffix}").copy_(torch.from_numpy(backend.to_host(weight).T.copy()))
            if cell.use_bias:
                getattr(lstm, f"bias_ih_l{layer}{suffix}").copy_(torch.from_numpy(backend.host_copy(cell.bias)))
                getattr(lstm, f"bias_hh_l{layer}{suffix}").zero_()
    linear = None
    if head is not None:
        linear = torch.nn.Linear(head.kernel.shape[0], head.units, bias=head.use_bias, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(backend.to_host(head.kernel).T.copy()))
            if head.use_bias:
                linear.bias.copy_(torch.from_numpy(backend.host_copy(head.bias)))
    return lstm, linear
