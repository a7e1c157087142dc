"""Three keras.io LSTM scripts, ported by changing only their import lines.

Each script below is written as Keras 3 code (after the keras.io examples:
the bidirectional IMDB classifier, sequence-to-sequence addition, and a
forecaster with a window of several series and static features), on
synthetic data of the same shapes. The test runs the very same text with
``import numlstm as keras`` and checks what it learned; where Keras 3 is
installed, the original imports run too, so the text is proven to be
Keras code.
"""

import os
import textwrap

import numpy as np
import pytest

KERAS_IMPORTS = "import keras\nfrom keras import layers\n"
NUMLSTM_IMPORTS = "import numlstm as keras\nfrom numlstm import layers\n"

pytestmark = pytest.mark.slow  # each port trains a model: about a minute in all

TEXT_CLASSIFIER = """
rng = np.random.default_rng(0)
keras.utils.set_random_seed(0)
max_features, maxlen = 2000, 40
positive, negative = np.arange(10, 20), np.arange(20, 30)


def review():
    words = list(rng.integers(30, max_features, rng.integers(10, 60)))
    label = int(rng.random() < 0.5)
    for _ in range(rng.integers(1, 4)):
        words.insert(rng.integers(0, len(words)), rng.choice(positive if label else negative))
    return words, label


reviews = [review() for _ in range(2500)]
x = keras.utils.pad_sequences([words for words, _ in reviews], maxlen=maxlen)
y = np.array([label for _, label in reviews])  # shape (N,), as keras.datasets.imdb gives them
x_train, y_train, x_val, y_val = x[:2000], y[:2000], x[2000:], y[2000:]

inputs = keras.Input(shape=(None,), dtype="int32")
h = layers.Embedding(max_features, 32)(inputs)
h = layers.Bidirectional(layers.LSTM(16, return_sequences=True))(h)
h = layers.Bidirectional(layers.LSTM(16))(h)
outputs = layers.Dense(1, activation="sigmoid")(h)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=32, epochs=EPOCHS, validation_data=(x_val, y_val), verbose=0)
result = history.history["val_accuracy"][-1]
"""

ADDITION = """
rng = np.random.default_rng(1)
keras.utils.set_random_seed(1)
digits = 2
maxlen = digits + 1 + digits
chars = "0123456789+ "
index = {c: i for i, c in enumerate(chars)}


def one_hot(text, length):
    encoded = np.zeros((length, len(chars)), dtype="float32")
    for i, c in enumerate(text.ljust(length)):
        encoded[i, index[c]] = 1
    return encoded


pairs = sorted({(int(a), int(b)) for a, b in rng.integers(0, 10 ** digits, (6000, 2))})
order = rng.permutation(len(pairs))
x = np.array([one_hot(f"{a}+{b}", maxlen)[::-1] for a, b in pairs])  # reversed input, as the keras.io example
y = np.array([one_hot(str(a + b), digits + 1) for a, b in pairs])
split = int(0.9 * len(pairs))
x_train, y_train = x[order[:split]], y[order[:split]]
x_val, y_val = x[order[split:]], y[order[split:]]

encoder_inputs = keras.Input(shape=(maxlen, len(chars)))
encoded, state_h, state_c = layers.LSTM(128, return_state=True)(encoder_inputs)
decoder_inputs = layers.RepeatVector(digits + 1)(encoded)
decoded = layers.LSTM(128, return_sequences=True)(decoder_inputs, initial_state=[state_h, state_c])
outputs = layers.TimeDistributed(layers.Dense(len(chars), activation="softmax"))(decoded)
model = keras.Model(encoder_inputs, outputs)
model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.Adam(learning_rate=0.005, clipnorm=1.0),
              metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=64, epochs=EPOCHS, validation_data=(x_val, y_val), verbose=0)
guesses = model.predict(x_val, verbose=0).argmax(axis=-1)
result = float((guesses == y_val.argmax(axis=-1)).all(axis=1).mean())  # exact-match accuracy on held-out sums
"""

FORECASTER = """
rng = np.random.default_rng(2)
keras.utils.set_random_seed(2)
stations, length, lookback = 12, 240, 24
amplitude = rng.uniform(0.5, 2.0, stations)
phase = rng.uniform(0, 2 * np.pi, stations)
t = np.arange(length)
temperature = amplitude[:, None] * np.sin(2 * np.pi * t / 24 + phase[:, None]) + 0.1 * rng.standard_normal((stations, length))
humidity = np.cos(2 * np.pi * t / 24 + phase[:, None]) + 0.1 * rng.standard_normal((stations, length))
series = np.stack([temperature, humidity], axis=-1)  # (stations, time, 2 series)
static = np.stack([amplitude, np.sin(phase), np.cos(phase)], axis=-1)  # per-station features

windows, features, targets = [], [], []
for s in range(stations):
    for start in range(length - lookback - 1):
        windows.append(series[s, start:start + lookback])
        features.append(static[s])
        targets.append(series[s, start + lookback, 0])
windows, features, targets = (np.array(a, dtype="float32") for a in (windows, features, targets))
order = rng.permutation(len(targets))
train, val = order[:2000], order[2000:2600]

window_input = keras.Input(shape=(lookback, 2), name="window")
static_input = keras.Input(shape=(3,), name="static")
h = layers.LSTM(32)(window_input)
merged = layers.Concatenate()([h, static_input])
hidden = layers.Dense(16, activation="relu")(merged)
forecast = layers.Dense(1)(hidden)
model = keras.Model([window_input, static_input], forecast)
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=4, restore_best_weights=True)
model.fit({"window": windows[train], "static": features[train]}, targets[train], batch_size=64, epochs=EPOCHS,
          validation_data=({"window": windows[val], "static": features[val]}, targets[val]), callbacks=[stop],
          verbose=0)
predicted = model.predict({"window": windows[val], "static": features[val]}, verbose=0)[:, 0]
persistence = windows[val][:, -1, 0]  # tomorrow as today: the baseline to beat
result = float(np.mean((predicted - targets[val]) ** 2) / np.mean((persistence - targets[val]) ** 2))
"""


def run(script, imports, epochs):
    namespace = {"np": np, "EPOCHS": epochs}
    exec(compile(imports + textwrap.dedent(script), "<port>", "exec"), namespace)
    return namespace["result"]


def test_bidirectional_text_classifier_port():
    # Three epochs end where the rounding of every step takes them: over seeds 0-3 the validation accuracy was
    # 0.90-0.95 here and 0.93-0.95 with Keras 3 on JAX. Guessing gets 0.5.
    assert run(TEXT_CLASSIFIER, NUMLSTM_IMPORTS, epochs=3) > 0.85


def test_sequence_to_sequence_addition_port():
    # Where 40 epochs end depends on the rounding of every step (the machine's BLAS, how a GEMM is split, the
    # order of the gate kernels' operations): over seeds 1-5 the exact-match accuracy was 0.85-0.97 with the
    # gate loops and 0.86-0.98 with the SIMD gate kernels, and without the clipping above one seed in ten fell
    # to 0.72 after a spike. Guessing gets 0.001.
    assert run(ADDITION, NUMLSTM_IMPORTS, epochs=40) >= 0.8


def test_two_input_forecaster_port():
    assert run(FORECASTER, NUMLSTM_IMPORTS, epochs=30) < 0.5


@pytest.mark.parametrize("script", [TEXT_CLASSIFIER, ADDITION, FORECASTER], ids=["text", "addition", "forecaster"])
def test_the_ports_are_keras_code(script):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    pytest.importorskip("keras", reason="needs the extra 'keras' (Keras 3 on JAX)")
    run(script, KERAS_IMPORTS, epochs=1)
