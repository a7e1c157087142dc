"""numlstm: a Numba-accelerated LSTM engine for Python."""

from .functional import LSTMWorkspace, lstm_backward, lstm_forward

__version__ = "0.1.0.dev0"

__all__ = ["LSTMWorkspace", "lstm_backward", "lstm_forward", "__version__"]
