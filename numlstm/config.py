"""Global settings: the default float type of new layers (Keras' ``floatx``)."""

_VALID_FLOATX = ("float32", "float64")
_floatx = "float32"


def floatx():
    """The default dtype of new layers' weights and outputs, as a string."""
    return _floatx


def set_floatx(value):
    """Set the default dtype: ``"float32"`` (fast) or ``"float64"`` (precision)."""
    global _floatx
    if value not in _VALID_FLOATX:
        raise ValueError(f"floatx must be one of {', '.join(map(repr, _VALID_FLOATX))}, got {value!r}")
    _floatx = value
