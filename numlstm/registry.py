"""The classes a model file may name: numlstm's own layers and models, by name. Loading builds nothing else.

Layers register when ``numlstm.layers`` is imported and models when
``numlstm.models`` is (``import numlstm`` imports both), so that saving,
the models and the layers all read one table without importing each other.
"""


class FileFormatError(ValueError):
    """A file that is not a readable numlstm model or weights file."""


_CLASSES = {}


def register(cls, name=None):
    """Make ``cls`` loadable under ``name`` (its ``registered_name``, else its class name).

    Parameters
    ----------
    cls : type
        A layer or model class of numlstm's.
    name : str, optional
    """
    _CLASSES[name or getattr(cls, "registered_name", cls.__name__)] = cls
    return cls


def lookup(name, kind="layer"):
    """The class registered as ``name``; FileFormatError naming the known ones otherwise.

    Parameters
    ----------
    name : str
    kind : str
        What the name stands for, for the message.
    """
    if not isinstance(name, str) or name not in _CLASSES:
        raise FileFormatError(f"unknown {kind} {name!r} in the file; known: {', '.join(sorted(_CLASSES))}")
    return _CLASSES[name]


def layer_entry(layer):
    """A layer (or a model nested as a layer) as data: its registered class name and its config.

    Parameters
    ----------
    layer : Layer or Model
    """
    return {"class_name": getattr(type(layer), "registered_name", type(layer).__name__), "config": layer.get_config()}


def layer_from_config(entry):
    """The layer ``layer_entry`` described; FileFormatError for a class numlstm does not register.

    Parameters
    ----------
    entry : dict
        ``{"class_name": ..., "config": {...}}``.
    """
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise FileFormatError(f"a layer description must be a dict with class_name and config, got {entry!r:.80}")
    return lookup(entry.get("class_name")).from_config(entry["config"])
