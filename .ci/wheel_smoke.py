"""What a user of the installed wheel does first, run by CI from outside the checkout in a venv that never
saw it: import, every data set loader, fit, predict, save and load a small stacked bidirectional model, and
``numlstm info``. Each step fails loudly; the last line says what was checked."""

import pathlib
import subprocess
import sys
import tempfile

import numpy as np

import numlstm
from numlstm import layers

installed = pathlib.Path(numlstm.__file__).resolve().parent
assert installed.parent.name == "site-packages", f"numlstm was imported from {installed}, not from the wheel"
import numlstm.kernels.cpu.lstm  # noqa: E402  (kernels/ installs inside numlstm)

assert pathlib.Path(numlstm.kernels.cpu.lstm.__file__).resolve().is_relative_to(installed)

loaders = sorted(name for name in numlstm.datasets.__all__ if name.startswith("load_") and name != "load_series")
for name in loaders:
    data = getattr(numlstm.datasets, name)()
    assert len(data) > 0, f"{name}() returned nothing"

numlstm.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.standard_normal((64, 12, 3)).astype(np.float32)
y = x[:, :, :1].sum(axis=1) / np.sqrt(12)
model = numlstm.Sequential([
    layers.Input((12, 3)),
    layers.Bidirectional(layers.LSTM(8, return_sequences=True)),
    layers.Bidirectional(layers.LSTM(4)),
    layers.Dense(1),
])
model.compile("adam", "mse")
history = model.fit(x, y, batch_size=16, epochs=3, verbose=0)
losses = history.history["loss"]
assert all(np.isfinite(losses)) and losses[-1] < losses[0], losses
predictions = model.predict(x, verbose=0)
with tempfile.TemporaryDirectory() as folder:
    path = pathlib.Path(folder) / "model.numlstm"
    model.save(path)
    reloaded = numlstm.load_model(path)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), predictions)

info = subprocess.run([pathlib.Path(sys.executable).with_name("numlstm"), "info"], capture_output=True, text=True,
                      check=True)
assert numlstm.__version__ in info.stdout, info.stdout

print(f"wheel ok: numlstm {numlstm.__version__} from {installed}; loaders {', '.join(loaders)}; "
      f"bidirectional fit loss {losses[0]:.3f} -> {losses[-1]:.3f}; save/load identical; numlstm info ran")
