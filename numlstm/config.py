"""Global settings: the default float type of new layers (Keras' ``floatx``)."""

_VALID_FLOATX = ("float32", "float64")
_floatx = "float32"


def floatx():
    """The default dtype of new layers' weights and outputs, as a string: ``"float32"`` unless set."""
    return _floatx


def set_floatx(value):
    """Set the default dtype of the layers created after it.

    Parameters
    ----------
    value : {"float32", "float64"}
        float32 is fast; float64 is precise (for gradient checks, or
        comparisons with another implementation).

    Examples
    --------
    >>> from numlstm import config
    >>> config.set_floatx("float64")
    >>> config.floatx()
    'float64'
    >>> config.set_floatx("float32")
    """
    global _floatx
    if value not in _VALID_FLOATX:
        raise ValueError(f"floatx must be one of {', '.join(map(repr, _VALID_FLOATX))}, got {value!r}")
    _floatx = value
