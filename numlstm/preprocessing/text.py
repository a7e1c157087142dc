"""Character vocabularies and training windows for character-level language models."""

import numpy as np


class CharVocabulary:
    """The characters of a text, numbered in sorted order.

    Parameters
    ----------
    text : str
        Non-empty; its distinct characters make the vocabulary.

    Examples
    --------
    >>> from numlstm.preprocessing import CharVocabulary
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
        """The text of ``indices`` (any shape, read in order); an index out of range is a ValueError."""
        indices = np.asarray(indices)
        if indices.size and (indices.min() < 0 or indices.max() >= len(self)):
            raise ValueError(f"indices must lie in [0, {len(self)}), got {indices.min()}..{indices.max()}")
        return "".join(self.characters[i] for i in indices.reshape(-1))

    def get_config(self):
        """``{"characters": ...}``, which :meth:`from_config` rebuilds the vocabulary from."""
        return {"characters": self.characters}

    @classmethod
    def from_config(cls, config):
        """The vocabulary that :meth:`get_config` described."""
        return cls(config["characters"])


def sample_text(model, vocabulary, prime, length, temperature=1.0, generator=None):
    """``length`` characters drawn one at a time after ``prime`` from a character model's logits.

    The model (Embedding, LSTMs, Dense logits) runs through
    :class:`numlstm.streaming.Stream`, which carries its state from one
    character to the next; each character is drawn from
    softmax(logits / temperature).

    Parameters
    ----------
    model : Sequential
        A model that streams (see :class:`numlstm.streaming.Stream`), taking
        one character index per step and giving ``len(vocabulary)`` logits.
    vocabulary : CharVocabulary
    prime : str
        The text to continue: at least one character, all in the vocabulary.
    length : int
        The number of characters to draw.
    temperature : float, default 1.0
        Positive: below 1 the likeliest characters get likelier, above 1 the
        draw is closer to uniform.
    generator : numpy.random.Generator, optional
        A fresh unseeded generator when omitted.

    Returns
    -------
    str
        The ``length`` characters drawn, without ``prime``.
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

    Parameters
    ----------
    encoded : array of int (characters,)
        A text's indices, e.g. from :meth:`CharVocabulary.encode`.
    lookback : int
        The characters in each window.
    stride : int, default 1
        The step between the starts of consecutive windows.

    Returns
    -------
    x : array (windows, lookback)
        The windows of indices.
    y : array (windows,)
        The index of the character after each window.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm.preprocessing import char_windows
    >>> x, y = char_windows(np.arange(6), lookback=3, stride=2)
    >>> x.tolist(), y.tolist()
    ([[0, 1, 2], [2, 3, 4]], [3, 5])
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
