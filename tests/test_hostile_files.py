"""Model files that are damaged or forged: each gives FileFormatError, allocates little, runs and writes nothing."""

import hashlib
import io
import json
import os
import struct
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import numlstm
from numlstm import layers, saving

rng = np.random.default_rng(70)


@pytest.fixture
def good(tmp_path):
    model = numlstm.Sequential([layers.Input((4, 3)), layers.Bidirectional(layers.LSTM(3, return_sequences=True)),
                                layers.LSTM(2, peephole=True), layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(rng.standard_normal((8, 4, 3)), rng.standard_normal((8, 1)), epochs=1, verbose=0)
    path = tmp_path / "good.numlstm"
    model.save(path)
    return model, path


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _forge(members, target, checksums=True):
    """Write ``members`` as a model file, with valid checksums for whatever they hold (a forger's file)."""
    members = dict(members)
    if checksums:
        metadata = json.loads(members["metadata.json"])
        metadata["sha256"] = {name: hashlib.sha256(members[name]).hexdigest()
                              for name in ("weights.npz", "optimizer.npz") if name in members}
        members["metadata.json"] = json.dumps(metadata)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return target


def _refused(path, match=None):
    before = sorted(os.listdir(os.path.dirname(path)))
    tracemalloc.start()
    try:
        with pytest.raises(saving.FileFormatError, match=match):
            numlstm.load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, f"refusing {path} allocated {peak} bytes"
    assert sorted(os.listdir(os.path.dirname(path))) == before, "loading wrote files"


def test_every_truncation_is_refused(good):
    _, path = good
    data = path.read_bytes()
    for cut in range(0, len(data), max(1, len(data) // 60)):
        target = path.with_name(f"cut{cut}.numlstm")
        target.write_bytes(data[:cut])
        _refused(target)


def test_bit_flips_are_refused_or_change_nothing(good):
    """A flipped bit either makes the file unreadable or lands where it changes no weight (zip timestamps)."""
    model, path = good
    data = bytearray(path.read_bytes())
    outcomes = {"refused": 0, "harmless": 0}
    for trial in range(300):
        flipped = bytearray(data)
        position = int(rng.integers(len(flipped)))
        flipped[position] ^= 1 << int(rng.integers(8))
        target = path.with_name("flipped.numlstm")
        target.write_bytes(bytes(flipped))
        try:
            loaded = numlstm.load_model(target)
        except saving.FileFormatError:
            outcomes["refused"] += 1
            continue
        for got, want in zip(loaded.get_weights(), model.get_weights()):
            np.testing.assert_array_equal(got, want, err_msg=f"bit flip at byte {position} changed a weight")
        outcomes["harmless"] += 1
    assert outcomes["refused"] > 200, outcomes


def test_checksums_catch_weights_altered_without_them(good, tmp_path):
    _, path = good
    members = _members(path)
    weights = np.load(io.BytesIO(members["weights.npz"]))
    altered = io.BytesIO()
    np.savez(altered, **{name: weights[name] + (1.0 if name == "array_0" else 0.0) for name in weights.files})
    members["weights.npz"] = altered.getvalue()
    _refused(_forge(members, tmp_path / "altered.numlstm", checksums=False), "checksum of weights.npz")


def test_missing_extra_and_path_traversal_entries(good, tmp_path):
    _, path = good
    members = _members(path)
    _refused(_forge({k: v for k, v in members.items() if k != "optimizer.npz"}, tmp_path / "missing.numlstm"),
             "missing optimizer.npz")
    for name in ("../../escape.txt", "/etc/cron.d/numlstm", "extra.json"):
        _refused(_forge({**members, name: b"* * * * * root echo owned"}, tmp_path / "extra.numlstm"),
                 "unexpected entries")
    assert not os.path.exists(tmp_path.parent.parent / "escape.txt")


def test_wrong_and_missing_format_versions(good, tmp_path):
    _, path = good
    members = _members(path)
    for version in (0, 3, 99, "2", None):
        metadata = json.loads(members["metadata.json"])
        metadata["format_version"] = version
        _refused(_forge({**members, "metadata.json": json.dumps(metadata)}, tmp_path / "version.numlstm"),
                 "format version")


def _npy_with_header(shape, payload=b"\0" * 16):
    header = repr({"descr": "<f8", "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


def test_memory_bomb_headers_are_refused_before_allocating(good, tmp_path):
    _, path = good
    members = _members(path)
    for shape in [(10 ** 12,), (2 ** 31, 2 ** 31), (4, 10 ** 9)]:
        bomb = io.BytesIO()
        with zipfile.ZipFile(bomb, "w") as inner:
            inner.writestr("array_0.npy", _npy_with_header(shape))
        started = time.perf_counter()
        _refused(_forge({**members, "weights.npz": bomb.getvalue()}, tmp_path / "bomb.numlstm"), "declares shape")
        assert time.perf_counter() - started < 5


def test_zip_bombs_are_refused_before_expanding(good, tmp_path):
    _, path = good
    members = _members(path)
    _refused(_forge({**members, "config.json": b" " * (200 << 20)}, tmp_path / "zipbomb.numlstm"),
             "would expand")


def test_forged_layer_sizes_cannot_allocate_gigabytes(good, tmp_path):
    _, path = good
    members = _members(path)
    config = json.loads(members["config.json"])
    config["layers"][1]["config"]["units"] = 10 ** 8
    _refused(_forge({**members, "config.json": json.dumps(config)}, tmp_path / "units.numlstm"), "units=100000000")


def test_hostile_json(good, tmp_path):
    _, path = good
    members = _members(path)
    _refused(_forge({**members, "config.json": b"[" * 100_000 + b"]" * 100_000}, tmp_path / "deep.numlstm"))
    _refused(_forge({**members, "config.json": b'{"layers": 7}'}, tmp_path / "shape.numlstm"))
    config = json.loads(members["config.json"])
    config["layers"][0]["config"] = {"__class__": "os.system", "units": "rm -rf /"}
    _refused(_forge({**members, "config.json": json.dumps(config)}, tmp_path / "weird.numlstm"))


def test_weights_files_get_the_same_checks(good, tmp_path):
    model, _ = good
    bomb = tmp_path / "weights.npz"
    with zipfile.ZipFile(bomb, "w") as archive:
        archive.writestr("array_0.npy", _npy_with_header((10 ** 12,)))
    with pytest.raises(saving.FileFormatError, match="declares shape"):
        model.load_weights(bomb)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, array_0=np.array([{"run": "me"}], dtype=object))
    with pytest.raises(saving.FileFormatError, match="Python objects"):
        model.load_weights(pickled)
    extra = tmp_path / "extra.npz"
    np.savez(extra, array_0=np.zeros(2), something=np.zeros(2))
    with pytest.raises(saving.FileFormatError, match="unexpected entries"):
        model.load_weights(extra)


@pytest.fixture
def good_graph(tmp_path):
    """A functional model: an encoder's states start a decoder; a second input joins after it."""
    sequence, static = layers.Input((4, 3), name="sequence"), layers.Input((2,), name="static")
    _, h, c = layers.LSTM(3, return_state=True, name="encoder")(sequence)
    decoded = layers.LSTM(3, name="decoder")(sequence, initial_state=[h, c])
    output = layers.Dense(1, name="head")(layers.Concatenate(name="join")([decoded, static]))
    model = numlstm.Model([sequence, static], output)
    model.compile("adam", "mse")
    model.fit([rng.standard_normal((8, 4, 3)), rng.standard_normal((8, 2))], rng.standard_normal(8), epochs=1,
              verbose=0)
    path = tmp_path / "graph.numlstm"
    model.save(path)
    return model, path


def _graph_entry(config, name):
    return next(entry for entry in config["layers"] if entry["name"] == name)


GRAPH_FORGERIES = {
    "cycle": (lambda c: _graph_entry(c, "encoder")["inbound_nodes"][0]["args"].__setitem__(0, ["decoder", 0, 0]),
              "does not connect"),
    "dangling": (lambda c: _graph_entry(c, "join")["inbound_nodes"][0]["args"].append(["ghost", 0, 0]),
                 "does not connect"),
    "self": (lambda c: _graph_entry(c, "head")["inbound_nodes"][0]["args"].__setitem__(0, ["head", 0, 0]),
             "does not connect"),
    "unknown class": (lambda c: _graph_entry(c, "join").__setitem__("class_name", "subprocess.Popen"), "unknown layer"),
    "units": (lambda c: _graph_entry(c, "decoder")["config"].__setitem__("units", 10 ** 8), "units=100000000"),
    "calls": (lambda c: _graph_entry(c, "head").__setitem__("inbound_nodes", [{"args": []}] * 2_000), "calls"),
    "duplicate name": (lambda c: _graph_entry(c, "join").__setitem__("name", "head"), "repeated"),
    "outputs": (lambda c: c["output_layers"].__setitem__("tensors", [["head", 5, 0]]), "does not make"),
    "reference": (lambda c: _graph_entry(c, "head")["inbound_nodes"][0]["args"].__setitem__(0, {"a": 1}),
                  "reference"),
}


@pytest.mark.parametrize("forgery", GRAPH_FORGERIES, ids=GRAPH_FORGERIES)
def test_forged_graphs_are_refused(good_graph, tmp_path, forgery):
    _, path = good_graph
    members = _members(path)
    config = json.loads(members["config.json"])
    mutate, message = GRAPH_FORGERIES[forgery]
    mutate(config)
    _refused(_forge({**members, "config.json": json.dumps(config)}, tmp_path / "forged.numlstm"), message)


def test_truncated_graph_files_are_refused(good_graph):
    _, path = good_graph
    data = path.read_bytes()
    for size in range(0, len(data), max(1, len(data) // 40)):
        truncated = path.with_name(f"cut{size}.numlstm")
        truncated.write_bytes(data[:size])
        _refused(truncated)
        truncated.unlink()
