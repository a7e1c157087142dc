"""Keras-like layers on numlstm's kernels."""

from .activation import Activation
from .base import Backward, Layer
from .bidirectional import Bidirectional
from .conv1d import Conv1D
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .input_layer import Input, InputLayer
from .lstm import LSTM
from .masking import Masking
from .merging import Add, Average, Concatenate, Multiply
from .normalization import LayerNormalization
from .pooling import GlobalAveragePooling1D
from .reshaping import Flatten, RepeatVector, Reshape
from .time_distributed import TimeDistributed

__all__ = ["Backward", "Bidirectional", "Dense", "Dropout", "Embedding", "Input", "InputLayer", "LSTM", "Layer", "Masking"]
__all__ += ["Activation", "Add", "Average", "Concatenate", "Conv1D", "Flatten", "GlobalAveragePooling1D",
            "LayerNormalization", "Multiply", "RepeatVector", "Reshape", "TimeDistributed"]
