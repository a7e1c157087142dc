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
run code; it extracts nothing and writes nothing. A file sent by someone
else is checked before anything is allocated for it: exactly the four
entries, each within a size limit and a compression ratio (no zip bombs),
every array's declared shape against the bytes actually present (no memory
bombs through a forged header), every layer size in the config against the
number of weights in the file, and SHA-256 checksums of the weight and
optimizer entries (format version 2) against their contents. Any failure is
a :class:`FileFormatError`.

Writing goes to a temporary file in the target's folder that is renamed
over the target only once complete, so a crash never leaves a half-written
model behind; the next write of the target removes a temporary file that a
killed process left (``numlstm.atomic_files.write_atomically``).
"""

import hashlib
import io
import json
import os
import warnings
import zipfile
import zlib

import numpy as np

from . import backend, initializers, losses, optimizers, registry
from .atomic_files import write_atomically
from .registry import FileFormatError

# The public names (tests/test_docstrings.py walks these; the API reference lists them). Model.save and
# friends call the other functions here.
__all__ = ["load_model", "save_model", "FileFormatError"]

FORMAT = "numlstm"
FORMAT_VERSION = 2  # 2: SHA-256 checksums of the .npz entries; version 1 files (no checksums) still load
READABLE_VERSIONS = (1, 2)
_ENTRIES = ("metadata.json", "config.json", "weights.npz", "optimizer.npz")
_MAX_JSON_BYTES = 16 << 20
_MAX_EXPANSION = 50  # uncompressed / compressed size allowed beyond the first MiB of an entry

_INITIALIZERS = {cls.__name__: cls for cls in (
    initializers.Zeros, initializers.Ones, initializers.Constant, initializers.RandomNormal,
    initializers.RandomUniform, initializers.GlorotUniform, initializers.Orthogonal)}
_OPTIMIZERS = {cls.__name__: cls for cls in (optimizers.SGD, optimizers.Adam, optimizers.AdamW,
                                             optimizers.RMSprop, optimizers.Adagrad, optimizers.LBFGS)}
_SCHEDULES = {cls.__name__: cls for cls in (optimizers.ExponentialDecay, optimizers.CosineDecay)}
_LOSSES = {name: getattr(losses, name) for name in losses.__all__
           if isinstance(getattr(losses, name), type) and issubclass(getattr(losses, name), losses.Loss)
           and getattr(losses, name) is not losses.Loss}


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
    """The model as JSON data: its graph (or layer stack) and its compile settings."""
    entry = registry.layer_entry(model)
    config = {"class_name": entry["class_name"], **entry["config"]}
    compile_config = model.get_compile_config()
    if compile_config is not None:
        config["compile"] = compile_config
    return _encode(config, "model")


def model_from_config(config):
    """The model ``model_config`` described, compiled as it was; FileFormatError for anything else."""
    config = _decode(config)
    kind = config.get("class_name", "Sequential")  # format version 1 files hold Sequential models only
    if kind not in ("Functional", "Sequential"):
        raise FileFormatError(f"unknown model class {kind!r} in the file; known: Functional, Sequential")
    model = registry.lookup(kind, "model").from_config(config)
    if "compile" in config:
        _compile_from_config(model, config["compile"])
    return model


def _compile_from_config(model, settings):
    from . import metrics as metrics_module

    optimizer = _lookup(_OPTIMIZERS, settings["optimizer"]["class_name"], "optimizer")(
        **settings["optimizer"]["config"])
    loss = settings["loss"]
    entries = loss if isinstance(loss, list) else [loss]  # version 1: one loss entry
    resolved = [None if entry is None else _lookup(_LOSSES, entry["class_name"], "loss")(**entry["config"])
                for entry in entries]
    metrics = settings["metrics"]
    if metrics and not isinstance(metrics[0], list):  # version 1: one output's metric names
        metrics = [metrics]
    weighted = settings.get("weighted_metrics") or [[] for _ in metrics]
    for names in metrics + weighted:
        for name in names:
            metrics_module.get(name)  # an unknown name fails here, as a ValueError, before compiling
    single = len(resolved) == 1
    model.compile(optimizer, resolved[0] if single else resolved, metrics=metrics[0] if single else metrics,
                  weighted_metrics=weighted[0] if single and weighted else weighted,
                  loss_weights=settings.get("loss_weights"))


# -- files -------------------------------------------------------------------------
def _npz_bytes(arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **{f"array_{i}": array for i, array in enumerate(arrays)})
    return buffer.getvalue()


def _npz_arrays(data, what, path):
    """The arrays ``array_0``, ``array_1``, ... of an ``.npz``, each header checked before anything is allocated."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as inner:
            infos = inner.infolist()
            expected = {f"array_{i}.npy" for i in range(len(infos))}
            if {info.filename for info in infos} != expected or len(infos) != len(expected):
                raise FileFormatError(f"{path}: the {what} hold unexpected entries")
            for info in infos:
                _check_entry_size(info, len(data), path, what)
                with inner.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                                   (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                    if read_header is None:
                        raise FileFormatError(f"{path}: an array in the {what} has .npy version {version}")
                    shape, fortran, dtype = read_header(member)
                    header_length = member.tell()
                if dtype.hasobject:
                    raise FileFormatError(f"{path}: the {what} hold Python objects, which are never loaded")
                declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if declared != info.file_size - header_length:
                    raise FileFormatError(f"{path}: an array in the {what} declares shape {shape} of {dtype} "
                                          f"({declared} bytes) but holds {info.file_size - header_length}")
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return [npz[f"array_{i}"] for i in range(len(npz.files))]
    except FileFormatError:
        raise
    except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile, zlib.error, OverflowError) as exc:
        raise FileFormatError(f"{path}: the {what} in the file are unreadable ({exc})") from None


def _check_entry_size(info, container_bytes, path, what):
    """Refuse entries whose declared size could not come from the container (zip bombs, forged sizes)."""
    if info.file_size > (1 << 20) and info.file_size > _MAX_EXPANSION * max(info.compress_size, 1):
        raise FileFormatError(f"{path}: {what} entry {info.filename!r} would expand {info.compress_size} bytes "
                              f"to {info.file_size}; refusing it")
    if info.compress_size > container_bytes:
        raise FileFormatError(f"{path}: {what} entry {info.filename!r} declares more bytes than the file holds")


def _read_model_file(path):
    """The four entries of a model file, checked for names, sizes and compression before they are read."""
    size = os.path.getsize(path)
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        missing = set(_ENTRIES) - set(names)
        if missing:
            keras = "model.weights.h5" in names
            raise FileFormatError(f"{path} is not a numlstm model file (missing {', '.join(sorted(missing))})" + (
                "; it is a Keras .keras file, which numlstm cannot read: build the same model in numlstm and copy "
                "the weights with set_weights(keras_model.get_weights())" if keras else ""))
        unexpected = [name for name in names if name not in _ENTRIES] + \
            [name for name in _ENTRIES if names.count(name) > 1]
        if unexpected:
            raise FileFormatError(f"{path} holds unexpected entries ({', '.join(map(repr, unexpected))}); "
                                  "it was not written by numlstm")
        for info in infos:
            _check_entry_size(info, size, path, "the model file's")
            if info.filename.endswith(".json") and info.file_size > _MAX_JSON_BYTES:
                raise FileFormatError(f"{path}: {info.filename} is {info.file_size} bytes, over the "
                                      f"{_MAX_JSON_BYTES} limit")
        return {name: archive.read(name) for name in _ENTRIES}


_NOT_SIZES = ("seed", "shape", "batch_size", "args", "initial_state", "mask")


def _check_layer_sizes(layers, weight_count, path):
    """Every integer of the layer configs (units, dimensions) must be possible with ``weight_count`` weights.

    A forged config could otherwise ask for a layer of a billion units and
    make building it allocate gigabytes before the weights are compared.
    Seeds, input shapes and the graph's node references are not sizes that
    building allocates, and are left alone.
    """
    def walk(value, key):
        if isinstance(value, dict):
            for name, item in value.items():
                walk(item, name)
        elif isinstance(value, list):
            for item in value:
                walk(item, key)
        elif isinstance(value, int) and not isinstance(value, bool) and key not in _NOT_SIZES:
            if value > weight_count + 16:
                raise FileFormatError(f"{path}: the config asks for {key}={value}, more than the "
                                      f"{weight_count} weights in the file allow")

    walk(layers, None)


def _warn_if_keras_name(path):
    if os.fspath(path).endswith((".keras", ".h5")):
        warnings.warn(f"{path}: numlstm writes its own format whatever the name, which Keras cannot read; "
                      "numlstm.load_model reads it (name it .numlstm to say so)", UserWarning, stacklevel=4)


def save_model(model, path):
    """Write ``model`` (structure, weights, compile settings, optimizer state) to ``path``.

    Parameters
    ----------
    model : Model or Sequential
        Built; its ``metadata`` dict must hold JSON values only.
    path : str or path-like
        Written atomically (a temporary file renamed over it once complete).
    """
    if not model.built:
        raise ValueError(f"{model.name}: build the model before saving it")
    _warn_if_keras_name(path)
    config = model_config(model)
    optimizer_state = []
    if model.optimizer is not None:
        optimizer_state = [np.array(model.optimizer.iterations)] + [backend.to_host(v) for v in
                                                                    model.optimizer.variables()]
    weights_data = _npz_bytes(model.get_weights())
    optimizer_data = _npz_bytes(optimizer_state)
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION, "numlstm_version": _version(),
                "user": _json_only(model.metadata, "model.metadata"),
                "sha256": {"weights.npz": hashlib.sha256(weights_data).hexdigest(),
                           "optimizer.npz": hashlib.sha256(optimizer_data).hexdigest()}}

    def write(file):
        with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("metadata.json", json.dumps(metadata))
            archive.writestr("config.json", json.dumps(config))
            archive.writestr("weights.npz", weights_data)
            archive.writestr("optimizer.npz", optimizer_data)

    write_atomically(path, write)


def load_model(path):
    """Read a model written by ``save_model``; raises FileFormatError for anything else.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    Model or Sequential
        Compiled as it was saved, with its optimizer state: training resumes exactly.
    """
    path = os.fspath(path)
    try:
        entries = _read_model_file(path)
        metadata = json.loads(entries["metadata.json"])
        config = json.loads(entries["config.json"])
    except FileFormatError:
        raise
    except (zipfile.BadZipFile, EOFError, UnicodeDecodeError, json.JSONDecodeError, zipfile.LargeZipFile,
            zlib.error, RecursionError, OverflowError, NotImplementedError) as exc:
        raise FileFormatError(f"{path} is not a numlstm model file, or it is damaged ({exc})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise FileFormatError(f"{path} is not a numlstm model file")
    version = metadata.get("format_version")
    if version not in READABLE_VERSIONS:
        raise FileFormatError(f"{path} has format version {version!r}; this numlstm reads versions "
                              f"{', '.join(map(str, READABLE_VERSIONS))}")
    weights_data, optimizer_data = entries["weights.npz"], entries["optimizer.npz"]
    if version >= 2:
        sums = metadata.get("sha256")
        for name, data in (("weights.npz", weights_data), ("optimizer.npz", optimizer_data)):
            if not isinstance(sums, dict) or sums.get(name) != hashlib.sha256(data).hexdigest():
                raise FileFormatError(f"{path}: the checksum of {name} does not match: the file is damaged")
    weights = _npz_arrays(weights_data, "weights", path)
    try:
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise FileFormatError(f"{path}: the model description is damaged")
        _check_layer_sizes(config["layers"], sum(w.size for w in weights), path)
        model = model_from_config(config)
        model.set_weights(weights)
    except FileFormatError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as exc:
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
            backend.assign(variable, saved)
    return model


def save_weights(model, path):
    """Write only the weights (``.npz``), atomically."""
    if not model.built:
        raise ValueError(f"{model.name}: build the model before saving its weights")
    _warn_if_keras_name(path)
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
