"""numlstm: a Numba-accelerated LSTM engine for Python."""

from . import threads

threads.set_openmp_wait_defaults()  # before anything starts Numba's thread pool

from . import (callbacks, config, datasets, decoding, distributed, initializers, interop, layers, losses, metrics, optimizers,
               plotting, preprocessing, streaming, utils)  # noqa: E402
from .convlstm import ConvLSTMGradients, ConvLSTMWorkspace, convlstm_backward, convlstm_forward
from .dispatch import DeviceError, current_device, device, set_device
from .functional import LSTMGradients, LSTMWorkspace, lstm_backward, lstm_forward
from .layers import Input
from .models import Model, Sequential
from .saving import load_model

__version__ = "0.1.0.dev0"

__all__ = ["ConvLSTMGradients", "ConvLSTMWorkspace", "convlstm_backward", "convlstm_forward", "DeviceError", "Input", "LSTMGradients", "LSTMWorkspace", "Model", "Sequential", "load_model", "set_device", "device",
           "current_device", "callbacks", "config", "datasets", "decoding", "distributed",
           "initializers", "interop", "layers", "losses", "models", "lstm_backward", "lstm_forward", "metrics", "optimizers",
           "plotting", "preprocessing", "streaming", "threads", "utils", "__version__"]
