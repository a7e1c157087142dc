"""Keras-like layers on numlstm's kernels."""

from .base import Backward, Layer
from .dense import Dense
from .lstm import LSTM

__all__ = ["Backward", "Dense", "LSTM", "Layer"]
