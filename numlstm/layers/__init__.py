"""Keras-like layers on numlstm's kernels."""

from .base import Backward, Layer
from .dense import Dense
from .input_layer import Input
from .lstm import LSTM

__all__ = ["Backward", "Dense", "Input", "LSTM", "Layer"]
