"""Keras-like layers on numlstm's kernels."""

from .base import Backward, Layer
from .bidirectional import Bidirectional
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .input_layer import Input
from .lstm import LSTM
from .masking import Masking

__all__ = ["Backward", "Bidirectional", "Dense", "Dropout", "Embedding", "Input", "LSTM", "Layer", "Masking"]
