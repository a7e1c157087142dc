"""Keras-like layers on numlstm's kernels."""

from .activation import Activation
from .base import Backward, Layer
from .bidirectional import Bidirectional
from .conv1d import Conv1D
from .conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .input_layer import Input, InputLayer
from .lstm import LSTM
from .masking import Masking
from .merging import Add, Average, Concatenate, Multiply, Subtract, add, average, concatenate, multiply, subtract
from .normalization import LayerNormalization
from .pooling import GlobalAveragePooling1D
from .reshaping import Flatten, RepeatVector, Reshape
from .time_distributed import TimeDistributed

__all__ = ["Activation", "Add", "Average", "Backward", "Bidirectional", "Concatenate", "Conv1D", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D",
           "Dense", "Dropout",
           "Embedding", "Flatten", "GlobalAveragePooling1D", "Input", "InputLayer", "LSTM", "Layer",
           "LayerNormalization", "Masking", "Multiply", "RepeatVector", "Reshape", "Subtract", "TimeDistributed", "add",
           "average", "concatenate", "multiply", "subtract"]

from .. import registry  # noqa: E402

for _name in __all__:  # every exported layer class may appear in a model file; nothing else may
    _class = globals()[_name]
    if isinstance(_class, type) and issubclass(_class, Layer) and _class is not Layer:
        registry.register(_class)
del _name, _class
