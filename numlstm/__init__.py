"""numlstm: a Numba-accelerated LSTM engine for Python."""

from . import config, initializers, layers, utils
from .functional import LSTMGradients, LSTMWorkspace, lstm_backward, lstm_forward

__version__ = "0.1.0.dev0"

__all__ = ["LSTMGradients", "LSTMWorkspace", "config", "initializers", "layers", "lstm_backward",
           "lstm_forward", "utils", "__version__"]
