"""A character-level language model on Shakespeare: Embedding -> LSTM -> Dense logits, then sampling.

    python examples/char_lm.py            # under a minute on 2 cores
    python examples/char_lm.py --fast     # a smoke run (CI)

Trains on the packaged slice of Tiny Shakespeare (next-character
prediction, sparse categorical cross-entropy on logits), reports the
validation loss in bits per character beside the unigram baseline (the
character frequencies alone), then samples text one character at a time
with ``numlstm.streaming.Stream``, which carries the LSTM state between
characters instead of re-reading a window.
"""

import argparse

import numpy as np

import numlstm
from numlstm import layers, losses
from numlstm.preprocessing import CharVocabulary, char_windows, sample_text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="a small model for one epoch, for a smoke test")
    args = parser.parse_args(argv)

    numlstm.utils.set_random_seed(0)
    text = numlstm.datasets.load_text("shakespeare")[:20_000 if args.fast else 100_000]
    vocabulary = CharVocabulary(text)
    split = int(0.9 * len(text))  # validation: the last 10% of the text, never seen in training
    encoded = vocabulary.encode(text)
    x, y = char_windows(encoded[:split], lookback=48, stride=3)
    x_val, y_val = char_windows(encoded[split:], lookback=48, stride=3)

    model = numlstm.Sequential([
        layers.Embedding(len(vocabulary), 32),
        layers.LSTM(32 if args.fast else 128),
        layers.Dense(len(vocabulary)),
    ])
    model.compile(numlstm.optimizers.Adam(4e-3, clipnorm=1.0), losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=64, epochs=1 if args.fast else 6, validation_data=(x_val, y_val), verbose=2)

    val_loss, val_accuracy = model.evaluate(x_val, y_val)
    counts = np.bincount(encoded[:split], minlength=len(vocabulary)) + 1.0
    frequencies = counts / counts.sum()
    unigram_bits = -np.mean(np.log2(frequencies[y_val]))
    bits = val_loss / np.log(2)
    print(f"validation: {bits:.2f} bits per character (unigram baseline {unigram_bits:.2f}), "
          f"next-character accuracy {val_accuracy:.1%}")
    generated = "ROMEO:\n" + sample_text(model, vocabulary, "ROMEO:\n", 300, 0.7, np.random.default_rng(0))
    print("\n" + generated)
    return {"bits_per_character": bits, "unigram_bits": unigram_bits, "sample": generated}


if __name__ == "__main__":
    main()
