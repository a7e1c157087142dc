"""SIGKILL during training: the last complete checkpoint always loads, and a restarted fit ends where an
uninterrupted one does."""

import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import numlstm

TRAINER = pathlib.Path(__file__).parent / "crash" / "trainer.py"
KILLS = 12

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")]


def _start(*arguments):
    return subprocess.Popen([sys.executable, str(TRAINER), *map(str, arguments)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "NUMBA_NUM_THREADS": "1"})


def test_checkpoints_survive_kills_at_random_moments(tmp_path):
    rng = np.random.default_rng(5)
    checkpoint = tmp_path / "checkpoint.numlstm"
    loaded = 0
    for kill in range(KILLS):
        process = _start("checkpoint", tmp_path)
        saved = process.stdout.readline()  # wait until it is saving, then kill it somewhere in the next saves
        assert saved.startswith("saved"), process.stderr.read()
        time.sleep(float(rng.uniform(0.0, 0.25)))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        numlstm.load_model(checkpoint)  # raises if a kill ever left a damaged file behind
        loaded += 1
    assert loaded == KILLS
    stray = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(stray) <= 1, "each save removes the temporary files of the saves killed before it"


def test_a_killed_and_restarted_fit_ends_like_an_uninterrupted_one(tmp_path):
    epochs = 60
    reference = tmp_path / "reference"
    reference.mkdir()
    assert _start("backup", reference, epochs).wait(timeout=300) == 0
    interrupted = tmp_path / "interrupted"
    interrupted.mkdir()
    rng = np.random.default_rng(6)
    kills = 0
    while not (interrupted / "final.npz").exists():
        process = _start("backup", interrupted, epochs)
        # Let it finish a few epochs, then kill it a moment later: during training or a backup write.
        for _ in range(int(rng.integers(1, 12))):
            if not process.stdout.readline():
                break
        time.sleep(float(rng.uniform(0.0, 0.05)))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=300)
        assert kills < 40, "training never finished"
    assert kills >= 2, f"only {kills} kills: the test did not interrupt training"
    want, got = np.load(reference / "final.npz"), np.load(interrupted / "final.npz")
    for key in want.files:
        np.testing.assert_array_equal(got[key], want[key])
