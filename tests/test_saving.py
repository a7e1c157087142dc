"""Saving: round trips for every layer, exact resume, and files that are not ours."""

import hashlib
import io
import json
import zipfile

import numpy as np
import pytest

import numlstm
from numlstm import callbacks, layers, saving

rng = np.random.default_rng(30)

MODELS = {
    "lstm_variants": lambda: [layers.Input((5, 3)),
                              layers.LSTM(4, return_sequences=True, peephole=True, go_backwards=True),
                              layers.LSTM(3, return_sequences=True, cifg=True, use_bias=False),
                              layers.LSTM(2, unit_forget_bias=False, zero_output_for_mask=True),
                              layers.Dense(2, activation="softmax")],
    "bidirectional": lambda: [layers.Input((5, 3)),
                              layers.Bidirectional(layers.LSTM(3, return_sequences=True), merge_mode="sum"),
                              layers.Dropout(0.2, seed=1), layers.Bidirectional(layers.LSTM(2), merge_mode="ave"),
                              layers.Dense(1)],
    "text": lambda: [layers.Embedding(7, 4, mask_zero=True), layers.LSTM(3), layers.Dense(2, activation="relu")],
    "masking": lambda: [layers.Input((5, 3)), layers.Masking(0.0), layers.LSTM(3), layers.Dense(1, activation="tanh")],
}


def _data(name):
    if name == "text":
        return rng.integers(0, 7, (6, 5))
    x = rng.standard_normal((6, 5, 3))
    x[0, 3:] = 0.0
    return x


@pytest.mark.parametrize("name", MODELS)
def test_round_trip_keeps_structure_weights_and_outputs(tmp_path, name):
    model = numlstm.Sequential(MODELS[name](), name=name)
    x = _data(name)
    model(x)
    model.compile(numlstm.optimizers.RMSprop(0.01, clipnorm=1.0), "mse", metrics=["mae"])
    path = tmp_path / "model.numlstm"
    model.save(path)
    loaded = numlstm.load_model(path)
    assert saving.model_config(loaded) == saving.model_config(model)
    for got, want in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_model_metadata_travels_with_the_file(tmp_path):
    model = numlstm.Sequential(MODELS["masking"]())
    model.metadata = {"lookback": 5, "scaler": {"mean": [1.5], "scale": [np.float64(2.0)]}, "note": None}
    model.save(tmp_path / "m.numlstm")
    loaded = numlstm.load_model(tmp_path / "m.numlstm")
    assert loaded.metadata == {"lookback": 5, "scaler": {"mean": [1.5], "scale": [2.0]}, "note": None}
    model.metadata = {"scale": np.ones(2)}
    with pytest.raises(ValueError, match=r"model\.metadata\.scale.*ndarray"):
        model.save(tmp_path / "m.numlstm")
    assert numlstm.load_model(tmp_path / "m.numlstm").metadata["lookback"] == 5, "the failed save kept the file"


def test_weights_only_round_trip(tmp_path):
    model = numlstm.Sequential(MODELS["lstm_variants"]())
    other = numlstm.Sequential(MODELS["lstm_variants"]())
    model.save_weights(tmp_path / "w.npz")
    other.load_weights(tmp_path / "w.npz")
    for got, want in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="expects"):
        numlstm.Sequential(MODELS["masking"]()).load_weights(tmp_path / "w.npz")


def _training_setup(seed):
    numlstm.utils.set_random_seed(seed)
    model = numlstm.Sequential([layers.Input((6, 2)), layers.LSTM(4, dropout=0.1), layers.Dense(1)])
    model.compile(numlstm.optimizers.Adam(0.01), "mse")
    return model


def test_resume_from_backup_equals_an_uninterrupted_run(tmp_path):
    x = rng.standard_normal((40, 6, 2)).astype(np.float32)
    y = x.sum(axis=(1, 2))[:, None]
    uninterrupted = _training_setup(0)
    uninterrupted.fit(x, y, epochs=4, batch_size=8, verbose=0)

    class Crash(Exception):
        pass

    def crash(epoch, logs):
        if epoch == 1:
            raise Crash

    interrupted = _training_setup(0)
    with pytest.raises(Crash):
        interrupted.fit(x, y, epochs=4, batch_size=8, verbose=0,
                        callbacks=[callbacks.BackupAndRestore(tmp_path), callbacks.LambdaCallback(on_epoch_end=crash)])
    resumed = _training_setup(99)  # a fresh process would start from other weights and random state
    history = resumed.fit(x, y, epochs=4, batch_size=8, verbose=0, callbacks=[callbacks.BackupAndRestore(tmp_path)])
    assert history.epoch == [2, 3]
    for got, want in zip(resumed.get_weights(), uninterrupted.get_weights()):
        np.testing.assert_array_equal(got, want)
    assert not list(tmp_path.iterdir()), "the backup is deleted after a completed run"


def test_model_checkpoint_saves_the_best(tmp_path):
    x = rng.standard_normal((16, 6, 2))
    y = x.sum(axis=(1, 2))[:, None]
    model = _training_setup(1)
    path = tmp_path / "best.numlstm"
    model.fit(x, y, epochs=3, verbose=0, validation_data=(x, y),
              callbacks=[callbacks.ModelCheckpoint(path, save_best_only=True)])
    assert numlstm.load_model(path).evaluate(x, y) <= model.evaluate(x, y) + 1e-6


def _valid_file(tmp_path):
    model = numlstm.Sequential(MODELS["masking"]())
    model.compile("adam", "mse")
    path = tmp_path / "good.numlstm"
    model.save(path)
    return model, path


def test_damaged_and_foreign_files_raise_clear_errors(tmp_path):
    _, good = _valid_file(tmp_path)
    data = good.read_bytes()
    cases = {
        "random.numlstm": rng.bytes(500),
        "truncated.numlstm": data[: len(data) // 2],
        "empty.numlstm": b"",
    }
    foreign = io.BytesIO()
    with zipfile.ZipFile(foreign, "w") as archive:
        archive.writestr("readme.txt", "hello")
    cases["foreign.numlstm"] = foreign.getvalue()
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(saving.FileFormatError, match="is not a numlstm model file"):
            numlstm.load_model(path)


def _rewrite(path, target, replace):
    """A copy of a model file with entries replaced, checksums recomputed (as a forger would)."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members.update(replace)
    metadata = json.loads(members["metadata.json"])
    if isinstance(metadata, dict) and "sha256" in metadata and "metadata.json" not in replace:
        metadata["sha256"] = {name: hashlib.sha256(members[name]).hexdigest()
                              for name in ("weights.npz", "optimizer.npz")}
        members["metadata.json"] = json.dumps(metadata)
    with zipfile.ZipFile(target, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


def test_pickled_arrays_and_unknown_classes_are_refused(tmp_path):
    _, good = _valid_file(tmp_path)
    pickled = io.BytesIO()
    np.savez(pickled, array_0=np.array([{"code": "run me"}], dtype=object))
    _rewrite(good, tmp_path / "pickle.numlstm", {"weights.npz": pickled.getvalue()})
    with pytest.raises(saving.FileFormatError, match="weights hold Python objects, which are never loaded"):
        numlstm.load_model(tmp_path / "pickle.numlstm")
    config = saving.model_config(numlstm.load_model(good))
    config["layers"][0]["class_name"] = "os.system"
    _rewrite(good, tmp_path / "class.numlstm", {"config.json": json.dumps(config)})
    with pytest.raises(saving.FileFormatError, match="unknown layer 'os.system'"):
        numlstm.load_model(tmp_path / "class.numlstm")
    _rewrite(good, tmp_path / "version.numlstm",
             {"metadata.json": '{"format": "numlstm", "format_version": 99}'})
    with pytest.raises(saving.FileFormatError, match="format version 99"):
        numlstm.load_model(tmp_path / "version.numlstm")


def test_a_failed_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    model, path = _valid_file(tmp_path)
    before = path.read_bytes()

    def broken(arrays):
        raise OSError("disk full")

    monkeypatch.setattr(saving, "_npz_bytes", broken)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.numlstm"], "no temporary file is left"


def test_a_save_removes_the_temporary_files_that_killed_saves_of_its_target_left(tmp_path):
    """Files ``.NAME.HOST-PID-RANDOM.tmp`` of this machine whose process has ended go; those of a running
    process, another machine or another target stay."""
    import os
    import socket
    import subprocess
    import sys

    model, path = _valid_file(tmp_path)
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                           text=True, check=True)
    dead, host = int(ended.stdout), socket.gethostname()
    orphan = tmp_path / f".{path.name}.{host}-{dead}-abc123.tmp"
    kept = [tmp_path / f".{path.name}.{host}-{os.getppid()}-abc123.tmp",  # a running process
            tmp_path / f".{path.name}.elsewhere-{dead}-abc123.tmp",  # another machine
            tmp_path / f".other.numlstm.{host}-{dead}-abc123.tmp"]  # another target
    for file in [orphan, *kept]:
        file.write_bytes(b"partial")
    model.save(path)
    assert not orphan.exists() and all(file.exists() for file in kept)
    numlstm.load_model(path)


def test_a_saved_model_gets_the_permissions_of_a_plain_open(tmp_path):
    """0666 less the umask, as any file the user writes (not a temporary file's 0600)."""
    import os
    import stat

    umask = os.umask(0o022)
    os.umask(umask)
    model, path = _valid_file(tmp_path)
    model.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_saving_into_a_missing_folder_names_the_folder(tmp_path):
    model = numlstm.Sequential([numlstm.layers.Input((3, 1)), numlstm.layers.LSTM(2)])
    with pytest.raises(FileNotFoundError, match=r"cannot write .*m.numlstm: no such directory .*nodir"):
        model.save(tmp_path / "nodir" / "m.numlstm")
    with pytest.raises(IsADirectoryError, match="it is a directory"):
        model.save(tmp_path)
    assert list(tmp_path.iterdir()) == []
