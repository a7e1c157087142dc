"""Character vocabularies and training windows for character-level language models."""

import numpy as np


class CharVocabulary:
    """The characters of a text, numbered in sorted order.

    >>> vocabulary = CharVocabulary("hello")
    >>> vocabulary.encode("hole")
    array([1, 3, 2, 0])
    >>> vocabulary.decode([1, 0, 2, 2, 3])
    'hello'
    """

    def __init__(self, text):
        if not isinstance(text, str) or not text:
            raise ValueError("text must be a non-empty string")
        self.characters = "".join(sorted(set(text)))
        self._index = {character: i for i, character in enumerate(self.characters)}

    def __len__(self):
        return len(self.characters)

    def encode(self, text):
        """The indices of ``text``'s characters, int64; a character not in the vocabulary is a ValueError."""
        try:
            return np.array([self._index[character] for character in text], np.int64)
        except KeyError as exc:
            raise ValueError(f"character {exc.args[0]!r} is not in the vocabulary") from None

    def decode(self, indices):
        indices = np.asarray(indices)
        if indices.size and (indices.min() < 0 or indices.max() >= len(self)):
            raise ValueError(f"indices must lie in [0, {len(self)}), got {indices.min()}..{indices.max()}")
        return "".join(self.characters[i] for i in indices.reshape(-1))

    def get_config(self):
        return {"characters": self.characters}

    @classmethod
    def from_config(cls, config):
        return cls(config["characters"])


def sample_text(model, vocabulary, prime, length, temperature=1.0, generator=None):
    """``length`` characters drawn one at a time after ``prime`` from a character model's logits.

    The model (Embedding, LSTMs, Dense logits) runs through
    :class:`numlstm.streaming.Stream`, which carries its state from one
    character to the next; each character is drawn from
    softmax(logits / temperature).
    """
    from ..streaming import Stream

    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    generator = np.random.default_rng() if generator is None else generator
    stream = Stream(model)
    logits = None
    for index in vocabulary.encode(prime):
        logits = stream.step(np.array([index]))[0]
    if logits is None:
        raise ValueError("prime must hold at least one character")
    drawn = []
    for _ in range(length):
        scaled = logits.astype(np.float64) / temperature
        probabilities = np.exp(scaled - scaled.max())
        index = generator.choice(len(probabilities), p=probabilities / probabilities.sum())
        drawn.append(index)
        logits = stream.step(np.array([index]))[0]
    return vocabulary.decode(drawn)


def char_windows(encoded, lookback, stride=1):
    """Next-character training pairs from an encoded text.

    Returns ``x`` (windows, lookback) of indices and ``y`` (windows,): the
    index of the character after each window.
    """
    encoded = np.asarray(encoded)
    lookback, stride = int(lookback), int(stride)
    if lookback < 1 or stride < 1:
        raise ValueError(f"lookback and stride must be at least 1, got {lookback} and {stride}")
    if len(encoded) <= lookback:
        raise ValueError(f"the text has {len(encoded)} characters: too short for lookback {lookback}")
    starts = np.arange(0, len(encoded) - lookback, stride)
    x = np.lib.stride_tricks.sliding_window_view(encoded[:-1], lookback)[starts]
    return np.ascontiguousarray(x), encoded[starts + lookback]
