"""The CTC loss's forward-backward recursion in log space, and its gradient with respect to the logits.

Graves et al. (2006), "Connectionist temporal classification". For one
sample with frames ``t < T``, labels ``l`` of length ``S`` and the extended
label sequence ``l'`` of length ``L = 2S + 1`` (a blank before, between and
after the labels), with ``y[t, k]`` the softmax of the logits:

* ``alpha[t, s]``: log probability of the paths' prefixes that emit
  ``l'[:s + 1]`` in frames ``0..t`` and are at ``l'[s]`` in frame ``t``;
* ``beta[t, s]``: likewise for the suffixes from frame ``t`` (``y[t, l'[s]]``
  counted in both, as in the paper);
* ``log p(l | x) = logaddexp(alpha[T-1, L-1], alpha[T-1, L-2])``;
* ``d(-log p) / d logit[t, k] = y[t, k] - sum_{s: l'[s] = k} exp(alpha[t, s] + beta[t, s] - log y[t, k] - log p)``.

Everything is float64 inside whatever the logits' dtype; the gradient is
stored in the logits' dtype. ``kernels/cuda/ctc.py`` is the GPU twin.
"""

import math

import numpy as np
from numba import prange

from .. import log_space
from ..disk_cache import njit
from ..options import JIT_KWARGS

log_add = njit(inline="always", **JIT_KWARGS)(log_space.log_add)
log_add3 = njit(inline="always", **JIT_KWARGS)(log_space.log_add3)


@njit(inline="always", **JIT_KWARGS)
def extended_label(labels, s, blank):
    """``l'[s]``: the blank at even ``s``, label ``s // 2`` at odd ``s``."""
    return blank if s % 2 == 0 else labels[s // 2]


@njit(inline="always", **JIT_KWARGS)
def may_skip(labels, s):
    """Whether a path may jump from ``l'[s - 2]`` to ``l'[s]``: ``l'[s]`` is a label unlike the one before."""
    return s % 2 == 1 and s >= 2 and labels[s // 2] != labels[s // 2 - 1]


@njit(**JIT_KWARGS)
def log_softmax_rows(logits, frames, log_probs):
    """``log_probs[t] = log_softmax(logits[t])`` for ``t < frames``, in float64."""
    classes = logits.shape[1]
    for t in range(frames):
        top = -math.inf
        for k in range(classes):
            top = max(top, float(logits[t, k]))
        total = 0.0
        for k in range(classes):
            total += math.exp(float(logits[t, k]) - top)
        shift = top + math.log(total)
        for k in range(classes):
            log_probs[t, k] = float(logits[t, k]) - shift


@njit(inline="always", **JIT_KWARGS)
def band(t, frames, extended):
    """The positions ``s`` a path can be at in frame ``t`` and still read the whole sequence: at most
    ``2t + 1`` (two positions a frame from the start), at least ``extended - 2 (frames - t)`` (likewise to the
    end). Outside it ``alpha + beta`` is ``-inf``, so neither variable is needed there."""
    return max(0, extended - 2 * (frames - t)), min(extended, 2 * t + 2)


@njit(**JIT_KWARGS)
def forward_variables(log_probs, labels, frames, extended, blank, alpha):
    """``alpha`` (frames, extended) of one sample, inside the band (``-inf`` outside it)."""
    alpha[:frames, :extended] = -math.inf
    alpha[0, 0] = log_probs[0, blank]
    if extended > 1:
        alpha[0, 1] = log_probs[0, labels[0]]
    for t in range(1, frames):
        low, high = band(t, frames, extended)
        for s in range(low, high):
            skip = alpha[t - 1, s - 2] if may_skip(labels, s) else -math.inf
            total = log_add3(alpha[t - 1, s], alpha[t - 1, s - 1] if s >= 1 else -math.inf, skip)
            if total != -math.inf:
                alpha[t, s] = total + log_probs[t, extended_label(labels, s, blank)]


@njit(**JIT_KWARGS)
def backward_variables(log_probs, labels, frames, extended, blank, beta):
    """``beta`` (frames, extended) of one sample, inside the band (``-inf`` outside it)."""
    beta[:frames, :extended] = -math.inf
    last = frames - 1
    beta[last, extended - 1] = log_probs[last, blank]
    if extended > 1:
        beta[last, extended - 2] = log_probs[last, labels[(extended - 2) // 2]]
    for t in range(last - 1, -1, -1):
        low, high = band(t, frames, extended)
        for s in range(low, high):
            following = beta[t + 1, s + 1] if s + 1 < extended else -math.inf
            skip = beta[t + 1, s + 2] if s + 2 < extended and may_skip(labels, s + 2) else -math.inf
            total = log_add3(beta[t + 1, s], following, skip)
            if total != -math.inf:
                beta[t, s] = total + log_probs[t, extended_label(labels, s, blank)]


@njit(**JIT_KWARGS)
def ctc_sample(logits, labels, label_length, frames, blank, gradient):
    """The negative log likelihood of one sample, and its gradient wrt ``logits`` written to ``gradient``
    (zero beyond ``frames``); ``inf`` and a zero gradient when no alignment fits in ``frames``; NaN for both
    when a logit is NaN or ``+inf``, as the other losses propagate them."""
    classes = logits.shape[1]
    extended = 2 * label_length + 1
    gradient[:, :] = 0.0
    log_probs = np.empty((frames, classes))
    alpha = np.empty((frames, extended))
    beta = np.empty((frames, extended))
    log_softmax_rows(logits, frames, log_probs)
    for t in range(frames):  # a NaN or +inf logit makes its frame's log-softmax NaN: the loss is NaN, as others'
        if math.isnan(log_probs[t, 0]):
            gradient[:frames, :] = math.nan
            return math.nan
    forward_variables(log_probs, labels, frames, extended, blank, alpha)
    log_likelihood = alpha[frames - 1, extended - 1]
    if extended > 1:
        log_likelihood = log_add(log_likelihood, alpha[frames - 1, extended - 2])
    if log_likelihood == -math.inf:
        return math.inf
    backward_variables(log_probs, labels, frames, extended, blank, beta)
    for t in range(frames):
        for k in range(classes):
            gradient[t, k] = math.exp(log_probs[t, k])
        low, high = band(t, frames, extended)
        for s in range(low, high):
            both = alpha[t, s] + beta[t, s]
            if both != -math.inf:
                k = extended_label(labels, s, blank)
                gradient[t, k] -= math.exp(both - log_probs[t, k] - log_likelihood)
    return -log_likelihood


@njit(parallel=True, **JIT_KWARGS)
def ctc_loss_and_gradient(logits, labels, label_lengths, input_lengths, blank, nll, gradient):
    """Each sample's negative log likelihood into ``nll`` (float64, (N,)) and its gradient wrt ``logits``
    (N, T, C) into ``gradient`` (the logits' shape and dtype); ``labels`` (N, S) int64, padded beyond
    ``label_lengths``. The samples run in parallel."""
    for b in prange(logits.shape[0]):
        nll[b] = ctc_sample(logits[b], labels[b], label_lengths[b], input_lengths[b], blank, gradient[b])
