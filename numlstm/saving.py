"""Saving and loading: one zip file, no pickle, written atomically.

A ``.numlstm`` file is a zip archive of
- ``metadata.json``: the format name and version, the numlstm version and
  the model's own ``metadata`` dict (JSON values only);
- ``config.json``: the model's layers and compile settings, as JSON;
- ``weights.npz``: the weights in ``get_weights()`` order;
- ``optimizer.npz``: the optimizer's state and step count, so that training
  resumes exactly.

Loading reads JSON and ``.npz`` files with ``allow_pickle=False`` and builds
only classes from the fixed registries below, so a file can never make it
run code. Writing goes to a temporary file in the target's folder that is
renamed over the target only once complete, so a crash never leaves a
half-written model behind.
"""

import io
import json
import os
import tempfile
import zipfile

import numpy as np

from . import initializers, losses, optimizers

FORMAT = "numlstm"
FORMAT_VERSION = 1

_LAYERS = None  # filled lazily: layers import this module's users, not the other way round


def _layer_classes():
    global _LAYERS
    if _LAYERS is None:
        from . import layers

        _LAYERS = {cls.__name__: cls for cls in (layers.LSTM, layers.Dense, layers.Dropout, layers.Embedding,
                                                  layers.Masking, layers.Bidirectional)}
    return _LAYERS


_INITIALIZERS = {cls.__name__: cls for cls in (
    initializers.Zeros, initializers.Ones, initializers.Constant, initializers.RandomNormal,
    initializers.RandomUniform, initializers.GlorotUniform, initializers.Orthogonal)}
_OPTIMIZERS = {cls.__name__: cls for cls in (optimizers.SGD, optimizers.Adam, optimizers.AdamW,
                                             optimizers.RMSprop, optimizers.Adagrad, optimizers.LBFGS)}
_SCHEDULES = {cls.__name__: cls for cls in (optimizers.ExponentialDecay, optimizers.CosineDecay)}
_LOSSES = {cls.__name__: cls for cls in (losses.MeanSquaredError, losses.MeanAbsoluteError, losses.Huber,
                                         losses.BinaryCrossentropy, losses.CategoricalCrossentropy,
                                         losses.SparseCategoricalCrossentropy)}


class FileFormatError(ValueError):
    """A file that is not a readable numlstm model or weights file."""


# -- JSON encoding of configs ------------------------------------------------------
def _encode(value, where):
    if isinstance(value, initializers.Initializer):
        return {"initializer": type(value).__name__, "config": value.get_config()}
    if isinstance(value, optimizers.LearningRateSchedule):
        return {"schedule": type(value).__name__, "config": value.get_config()}
    if isinstance(value, dict):
        return {key: _encode(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(item, where) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    raise ValueError(f"cannot save {where}: {value!r} is not a built-in numlstm object "
                     "(custom initializers and schedules cannot be saved)")


def _json_only(value, where):
    """``value`` if it survives a JSON round trip unchanged in meaning, else a ValueError naming ``where``."""
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise ValueError(f"cannot save {where}: its keys must be strings")
        return {key: _json_only(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_only(item, where) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    raise ValueError(f"cannot save {where}: {type(value).__name__} is not a JSON value (use lists, not arrays)")


def _decode(value):
    if isinstance(value, dict):
        if "initializer" in value:
            return _lookup(_INITIALIZERS, value["initializer"], "initializer")(**value["config"])
        if "schedule" in value:
            return _lookup(_SCHEDULES, value["schedule"], "learning-rate schedule")(**value["config"])
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def _lookup(registry, name, kind):
    if name not in registry:
        raise FileFormatError(f"unknown {kind} {name!r} in the file; known: {', '.join(sorted(registry))}")
    return registry[name]


def model_config(model):
    config = {"name": model.name, "input_shape": list(model._input_shape) if model._input_shape else None,
              "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()}
                         for layer in model.layers]}
    if model.loss is not None:
        config["compile"] = {
            "optimizer": {"class_name": type(model.optimizer).__name__, "config": model.optimizer.get_config()},
            "loss": {"class_name": type(model.loss).__name__, "config": model.loss.get_config()},
            "metrics": [metric.name for metric in model.metrics],
        }
    return _encode(config, "model")


def model_from_config(config):
    from .models import Sequential

    config = _decode(config)
    layers = [_lookup(_layer_classes(), entry["class_name"], "layer").from_config(entry["config"])
              for entry in config["layers"]]
    model = Sequential(layers, name=config["name"])
    if config["input_shape"] is not None:
        model.build(tuple(config["input_shape"]))
    if "compile" in config:
        settings = config["compile"]
        optimizer = _lookup(_OPTIMIZERS, settings["optimizer"]["class_name"], "optimizer")(
            **settings["optimizer"]["config"])
        loss = _lookup(_LOSSES, settings["loss"]["class_name"], "loss")(**settings["loss"]["config"])
        model.compile(optimizer, loss, metrics=settings["metrics"])
    return model


# -- files -------------------------------------------------------------------------
def write_atomically(path, write):
    """Call ``write(binary_file)`` on a temporary file beside ``path``, then rename it over ``path``."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".numlstm-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _npz_bytes(arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **{f"array_{i}": array for i, array in enumerate(arrays)})
    return buffer.getvalue()


def _npz_arrays(data, what, path):
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return [npz[f"array_{i}"] for i in range(len(npz.files))]
    except (ValueError, KeyError, OSError, zipfile.BadZipFile) as exc:
        raise FileFormatError(f"{path}: the {what} in the file are unreadable ({exc})") from None


def save_model(model, path):
    """Write ``model`` (structure, weights, compile settings, optimizer state) to ``path``."""
    if not model.built:
        raise ValueError(f"{model.name}: build the model before saving it")
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION, "numlstm_version": _version(),
                "user": _json_only(model.metadata, "model.metadata")}
    config = model_config(model)
    optimizer_state = []
    if model.optimizer is not None:
        optimizer_state = [np.array(model.optimizer.iterations)] + model.optimizer.variables()

    def write(file):
        with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("metadata.json", json.dumps(metadata))
            archive.writestr("config.json", json.dumps(config))
            archive.writestr("weights.npz", _npz_bytes(model.get_weights()))
            archive.writestr("optimizer.npz", _npz_bytes(optimizer_state))

    write_atomically(path, write)


def load_model(path):
    """Read a model written by ``save_model``; raises FileFormatError for anything else."""
    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = {"metadata.json", "config.json", "weights.npz", "optimizer.npz"} - names
            if missing:
                raise FileFormatError(f"{path} is not a numlstm model file (missing {', '.join(sorted(missing))})")
            metadata = json.loads(archive.read("metadata.json"))
            config = json.loads(archive.read("config.json"))
            weights_data = archive.read("weights.npz")
            optimizer_data = archive.read("optimizer.npz")
    except (zipfile.BadZipFile, EOFError, UnicodeDecodeError, json.JSONDecodeError, zipfile.LargeZipFile) as exc:
        raise FileFormatError(f"{path} is not a numlstm model file, or it is damaged ({exc})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise FileFormatError(f"{path} is not a numlstm model file")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise FileFormatError(f"{path} has format version {metadata.get('format_version')!r}; "
                              f"this numlstm reads version {FORMAT_VERSION}")
    try:
        model = model_from_config(config)
        model.set_weights(_npz_arrays(weights_data, "weights", path))
    except FileFormatError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise FileFormatError(f"{path}: the model description does not match its weights ({exc})") from None
    user = metadata.get("user", {})
    if not isinstance(user, dict):
        raise FileFormatError(f"{path}: its metadata is damaged")
    model.metadata = user
    state = _npz_arrays(optimizer_data, "optimizer state", path)
    if state and model.optimizer is not None:
        variables = model.optimizer.variables()
        if len(state) - 1 != len(variables) or any(s.shape != v.shape for s, v in zip(state[1:], variables)):
            raise FileFormatError(f"{path}: the optimizer state does not match the model")
        model.optimizer.iterations = int(state[0])
        for variable, saved in zip(variables, state[1:]):
            variable[...] = saved
    return model


def save_weights(model, path):
    """Write only the weights (``.npz``), atomically."""
    if not model.built:
        raise ValueError(f"{model.name}: build the model before saving its weights")
    write_atomically(path, lambda file: file.write(_npz_bytes(model.get_weights())))


def load_weights(model, path):
    """Load weights written by ``save_weights`` into a model of the same structure."""
    path = os.fspath(path)
    with open(path, "rb") as file:
        data = file.read()
    model.set_weights(_npz_arrays(data, "weights", path))


def _version():
    from . import __version__

    return __version__
