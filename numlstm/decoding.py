"""From a CTC model's logits to label sequences, and how far they are from the truth.

A model trained with :class:`numlstm.losses.CTC` outputs one row of logits
per frame. :func:`ctc_greedy_decode` takes the best class in each frame, then
merges repeats and drops blanks; :func:`ctc_beam_search_decode` searches for
the most probable *labelling*, summing the probabilities of all the paths
that read the same (prefix beam search), which can differ from the best
path's labelling when the network is unsure. :func:`label_error_rate` scores
either against the references (the edit distance over the reference length:
a word or character error rate).

Examples
--------
>>> import numpy as np
>>> from numlstm import decoding
>>> logits = np.log(np.array([[[0.1, 0.9], [0.1, 0.9], [0.9, 0.1], [0.1, 0.9]]]))
>>> [labels.tolist() for labels in decoding.ctc_greedy_decode(logits)]  # 1 1 _ 1 reads "1 1"
[[1, 1]]
"""

import math
import numbers

import numpy as np

from .kernels.log_space import log_add
from .losses.loss import _log_softmax

__all__ = ["ctc_greedy_decode", "ctc_beam_search_decode", "edit_distance", "label_error_rate"]


def _checked(logits, input_lengths, blank):
    logits = np.asarray(logits)
    if logits.dtype.kind not in "fiu" or logits.ndim != 3 or 0 in logits.shape:
        raise ValueError(f"logits must be numbers of shape (batch, frames, classes), got {logits.dtype} of shape "
                         f"{logits.shape}")
    samples, frames, classes = logits.shape
    if isinstance(blank, bool) or not isinstance(blank, (int, np.integer)) or not 0 <= blank < classes:
        raise ValueError(f"blank must be a class index in [0, {classes}), got {blank!r}")
    if input_lengths is None:
        return logits, np.full(samples, frames)
    lengths = np.asarray(input_lengths)
    if lengths.dtype.kind not in "iu" or lengths.shape != (samples,) or np.any(lengths < 0) or \
            np.any(lengths > frames):
        raise ValueError(f"input_lengths must be {samples} integers in [0, {frames}], got {lengths.tolist()}")
    return logits, lengths


def ctc_greedy_decode(logits, input_lengths=None, blank=0):
    """The best path's labelling of each sample: the most likely class per frame, repeats merged, blanks dropped.

    Parameters
    ----------
    logits : array_like, shape (N, T, C)
        The model's output (logits, log probabilities or probabilities: only
        the order within a frame matters).
    input_lengths : array_like of int, shape (N,), optional
        The frames of each sample; all ``T`` by default.
    blank : int, default 0
        The blank's class index.

    Returns
    -------
    list of numpy.ndarray of int64
        One label sequence per sample.

    Examples
    --------
    >>> import numpy as np
    >>> best = np.array([[0, 3, 3, 0, 3, 5, 5, 0]])  # the best class in each frame
    >>> logits = np.eye(6)[best]
    >>> ctc_greedy_decode(logits)[0].tolist()
    [3, 3, 5]
    """
    logits, lengths = _checked(logits, input_lengths, blank)
    best = logits.argmax(axis=-1)
    decoded = []
    for path, length in zip(best, lengths):
        path = path[:length]
        keep = np.ones(len(path), bool)
        keep[1:] = path[1:] != path[:-1]
        decoded.append(path[keep & (path != blank)].astype(np.int64))
    return decoded


def _prefix_beam_search(log_probs, blank, beam_width, top_paths):
    """Prefix beam search over one sample's (T, C) log probabilities: the ``top_paths`` best labellings and
    their log probabilities. Each prefix keeps two scores: of its paths ending in a blank, and in its last
    label, for a repeated label extends the prefix only after a blank."""
    beams = {(): (0.0, -math.inf)}  # prefix -> (log p ending in blank, log p ending in its last label)
    classes = log_probs.shape[1]
    for frame in log_probs:
        frame = frame.tolist()
        following = {}

        def add(prefix, blank_score, label_score):
            old_blank, old_label = following.get(prefix, (-math.inf, -math.inf))
            following[prefix] = (log_add(old_blank, blank_score), log_add(old_label, label_score))

        for prefix, (ends_blank, ends_label) in beams.items():
            total = log_add(ends_blank, ends_label)
            add(prefix, total + frame[blank], -math.inf)  # a blank keeps the prefix
            last = prefix[-1] if prefix else None
            for label in range(classes):
                if label == blank:
                    continue
                p = frame[label]
                if label == last:
                    add(prefix, -math.inf, ends_label + p)  # the repeat merges into the last label
                    add(prefix + (label,), -math.inf, ends_blank + p)  # after a blank it is a new label
                else:
                    add(prefix + (label,), -math.inf, total + p)
        ranked = sorted(following.items(), key=lambda item: -log_add(*item[1]))
        beams = dict(ranked[:beam_width])
    ranked = sorted(beams.items(), key=lambda item: -log_add(*item[1]))[:top_paths]
    return [(np.array(prefix, np.int64), log_add(*scores)) for prefix, scores in ranked]


def ctc_beam_search_decode(logits, input_lengths=None, blank=0, beam_width=16, top_paths=1):
    """The most probable labellings of each sample, by prefix beam search over the CTC paths.

    A labelling's probability sums over every path that reads it (the CTC
    loss's own definition), so the search can find a labelling that no single
    best path spells; with ``beam_width=1`` it is close to, but not always
    the same as, :func:`ctc_greedy_decode`.

    Parameters
    ----------
    logits : array_like, shape (N, T, C)
        The model's output: logits or log probabilities (a log-softmax is
        applied, which leaves log probabilities as they are); not
        probabilities.
    input_lengths : array_like of int, shape (N,), optional
        The frames of each sample; all ``T`` by default.
    blank : int, default 0
        The blank's class index.
    beam_width : int, default 16
        The prefixes kept after each frame.
    top_paths : int, default 1
        How many labellings to return per sample, best first.

    Returns
    -------
    list
        With ``top_paths=1``, one label sequence (int64 array) per sample;
        otherwise, per sample, a list of ``(labels, log_probability)`` pairs,
        the log probability summed over the paths the beam kept: exact when
        no path of the labelling fell out of the beam, a lower bound
        otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> # Each frame: blank 0.6, label 1 0.4. The best path is all blanks (probability 0.216),
    >>> # but 6 of the 8 paths read "1", with probability 1 - 0.216 - 0.096 ("1 _ 1") = 0.688.
    >>> logits = np.log(np.array([[[0.6, 0.4]] * 3]))
    >>> ctc_greedy_decode(logits)[0].tolist(), ctc_beam_search_decode(logits)[0].tolist()
    ([], [1])
    """
    logits, lengths = _checked(logits, input_lengths, blank)
    for name, value in (("beam_width", beam_width), ("top_paths", top_paths)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if top_paths > beam_width:
        raise ValueError(f"top_paths ({top_paths}) cannot exceed beam_width ({beam_width})")
    log_probs = _log_softmax(logits.astype(np.float64))
    results = [_prefix_beam_search(sample[:length], blank, beam_width, top_paths)
               for sample, length in zip(log_probs, lengths)]
    if top_paths == 1:
        return [paths[0][0] for paths in results]
    return results


def edit_distance(reference, hypothesis):
    """The Levenshtein distance: the fewest insertions, deletions and substitutions that turn one into the other.

    Parameters
    ----------
    reference, hypothesis : sequence
        Label sequences (arrays, lists or strings).

    Returns
    -------
    int

    Examples
    --------
    >>> edit_distance([1, 2, 3], [1, 3, 3, 4])
    2
    """
    reference, hypothesis = list(reference), list(hypothesis)
    previous = list(range(len(hypothesis) + 1))
    for i, wanted in enumerate(reference, 1):
        current = [i]
        for j, got in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (wanted != got)))
        previous = current
    return previous[-1]


def _unpadded(row):
    """A label sequence without its negative (padding) entries, numpy scalars as Python ones."""
    return [label.item() if isinstance(label, np.generic) else label for label in row
            if not (isinstance(label, (numbers.Real, np.number)) and label < 0)]


def label_error_rate(references, hypotheses):
    """The total edit distance over the total reference length (a word, character or digit error rate).

    Parameters
    ----------
    references, hypotheses : sequence of sequences
        The true and decoded label sequences, in the same order. Negative
        entries are padding and are dropped, so the ``-1``-padded targets a
        CTC model trained on can be given as they are.

    Returns
    -------
    float
        0 for a perfect transcription; above 1 is possible (insertions).

    Raises
    ------
    ValueError
        If the two hold different numbers of sequences, or the references no labels.

    Examples
    --------
    >>> label_error_rate([[1, 2, 3], [4, 5]], [[1, 2, 3], [4]])
    0.2
    >>> label_error_rate(np.array([[3, -1], [4, 4]]), [[3], [4]])  # padded targets as they are
    0.3333333333333333
    """
    references, hypotheses = [_unpadded(row) for row in references], [_unpadded(row) for row in hypotheses]
    if len(references) != len(hypotheses):
        raise ValueError(f"references and hypotheses must hold as many sequences, got {len(references)} and "
                         f"{len(hypotheses)}")
    total = sum(len(reference) for reference in references)
    if total == 0:
        raise ValueError("references must hold at least one label")
    return sum(edit_distance(r, h) for r, h in zip(references, hypotheses)) / total
