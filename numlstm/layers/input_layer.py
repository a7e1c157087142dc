"""Input(shape): declares the shape of a model's samples (batch axis excluded)."""


class Input:
    def __init__(self, shape, batch_size=None, name=None):
        shape = tuple(shape)
        if not all(dim is None or (isinstance(dim, int) and dim > 0) for dim in shape):
            raise ValueError(f"Input shape must hold positive ints or None, got {shape}")
        self.shape = shape
        self.batch_size = batch_size
        self.name = name or "input"
