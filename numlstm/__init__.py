"""numlstm: a Numba-accelerated LSTM engine for Python."""

from . import (callbacks, config, datasets, initializers, interop, layers, losses, metrics, optimizers, plotting,
               preprocessing, streaming, utils)
from .functional import LSTMGradients, LSTMWorkspace, lstm_backward, lstm_forward
from .models import Sequential
from .saving import load_model

__version__ = "0.1.0.dev0"

__all__ = ["LSTMGradients", "LSTMWorkspace", "Sequential", "load_model", "callbacks", "config", "datasets",
           "initializers", "interop", "layers", "losses", "lstm_backward", "lstm_forward", "metrics", "optimizers",
           "plotting", "preprocessing", "streaming", "utils", "__version__"]
