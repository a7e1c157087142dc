"""Models: the functional ``Model`` (a graph of layers) and ``Sequential`` (a chain), one core for both."""

from ..callbacks import History
from .cloning import clone_model
from .model import Model
from .sequential import Sequential

__all__ = ["History", "Model", "Sequential", "clone_model"]
