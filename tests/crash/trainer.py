"""A training process for the crash-safety tests, killed with SIGKILL at random moments.

    python trainer.py checkpoint DIR   # saves the model after every batch (ModelCheckpoint-style), forever
    python trainer.py backup DIR       # seeded fit with BackupAndRestore; writes DIR/final.npz when done
"""

import os
import pathlib
import sys

import numpy as np

import numlstm
from numlstm import callbacks, layers

mode, folder = sys.argv[1], pathlib.Path(sys.argv[2])
numlstm.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.standard_normal((64, 8, 4)).astype(np.float32)
y = x.sum(axis=(1, 2))[:, None]
model = numlstm.Sequential([layers.Input((8, 4)), layers.LSTM(64, return_sequences=True), layers.LSTM(64),
                            layers.Dense(1)])
model.compile("adam", "mse")

if mode == "checkpoint":
    def save(batch, logs):
        model.save(folder / "checkpoint.numlstm")
        print("saved", flush=True)

    model.fit(x, y, batch_size=8, epochs=10 ** 6, verbose=0, callbacks=[callbacks.LambdaCallback(on_train_batch_end=save)])
else:
    model.fit(x, y, batch_size=8, epochs=int(sys.argv[3]), verbose=0,
              callbacks=[callbacks.BackupAndRestore(folder / "backup"),
                         callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: print("epoch", epoch, flush=True))])
    # Written aside, then renamed: a kill during the write must not leave a final.npz the test reads as done.
    np.savez(folder / "final.tmp.npz", *model.get_weights())
    os.replace(folder / "final.tmp.npz", folder / "final.npz")
