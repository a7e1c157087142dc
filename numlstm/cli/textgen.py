"""``numlstm textgen``: a character-level LSTM language model on the packaged Shakespeare, and sampling from it."""

import time

import numpy as np

from .. import datasets, layers, losses, optimizers, saving, utils
from ..models import Sequential
from ..preprocessing import CharVocabulary, char_windows, sample_text
from .data import load_model_file
from .errors import CommandError


def train_char_model(text, options):
    vocabulary = CharVocabulary(text)
    x, y = char_windows(vocabulary.encode(text), options.lookback, options.stride)
    model = Sequential([layers.Embedding(len(vocabulary), options.embedding), layers.LSTM(options.units),
                        layers.Dense(len(vocabulary))], name="char_lm")
    model.compile(optimizers.Adam(options.learning_rate, clipnorm=1.0),
                  losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    print(f"training on {len(text):,} characters ({len(vocabulary)} distinct): {len(x):,} windows "
          f"of {options.lookback}")
    started = time.perf_counter()
    model.fit(x, y, batch_size=options.batch_size, epochs=options.epochs, verbose=options.verbose)
    print(f"trained in {time.perf_counter() - started:.1f} s")
    model.metadata = {"char_lm": vocabulary.get_config()}
    return model, vocabulary


def textgen(options):
    if options.temperature <= 0:
        raise CommandError(f"--temperature must be positive, got {options.temperature}")
    utils.set_random_seed(options.seed)
    if options.model:
        model, settings = load_model_file(options.model, "char_lm", "`numlstm textgen`")
        vocabulary = CharVocabulary.from_config(settings)
    else:
        text = datasets.load_text("shakespeare")[:options.chars]
        model, vocabulary = train_char_model(text, options)
        if options.out:
            saving.save_model(model, options.out)
            print(f"model saved to {options.out}")
    unknown = sorted(set(options.prime) - set(vocabulary.characters))
    if not options.prime or unknown:
        raise CommandError(f"--prime must be non-empty text made of the training characters; "
                           f"not in them: {''.join(unknown)!r}")
    generated = sample_text(model, vocabulary, options.prime, options.length, options.temperature,
                            np.random.default_rng(options.seed))
    print(f"\n--- sampled at temperature {options.temperature} ---\n{options.prime}{generated}")
    return generated
