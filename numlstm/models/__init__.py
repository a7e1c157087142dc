from .sequential import History, Sequential

__all__ = ["History", "Sequential"]
