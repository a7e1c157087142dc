"""Models: the functional ``Model`` (a graph of layers) and ``Sequential`` (a chain), one core for both."""

from .. import registry
from ..saving import load_model, save_model
from .cloning import clone_model
from .model import Model
from .sequential import Sequential

registry.register(Model)  # as "Functional", Keras' name
registry.register(Sequential)

__all__ = ["Model", "Sequential", "clone_model", "load_model", "save_model"]
