from ..callbacks import History
from .sequential import Sequential

__all__ = ["History", "Sequential"]
