"""The CTC loss on the GPU: each sample's negative log likelihood and its gradient with respect to the logits.

The CUDA twin of ``kernels/cpu/ctc.py``, whose docstring has the math (the
forward variables ``alpha``, the backward variables ``beta``, the log
likelihood and the gradient); this module computes the same numbers, in the
same order where it can, everything in float64 inside whatever the logits'
dtype, the gradient stored in the logits' dtype. Two kernels:

- ``forward_backward``: one block per sample. Its threads first write the
  log-softmax of the sample's frames (threads over frames), then run both
  recursions at once (threads over the extended label positions ``s < 2S + 1``,
  with a stride when there are more positions than threads): at step ``i``,
  ``alpha[i]`` from ``alpha[i - 1]`` and ``beta[frames - 1 - i]`` from
  ``beta[frames - i]``, a ``syncthreads()`` between steps. Thread 0 then
  writes the sample's negative log likelihood, ``inf`` where no alignment
  fits in its frames (log likelihood ``-inf``), NaN where a logit is NaN or
  ``+inf``.
- ``gradient``: one thread per (sample, frame, class): the sample's scale
  times ``exp(lp) - sum_{s: l'[s] = k} exp(alpha + beta - lp - log p)``, zero
  beyond the sample's frames, for an infeasible sample and for a scale of 0.

The log-softmax, ``alpha`` and ``beta`` live in float64 workspaces in global
memory, (N, T, C) and (N, T, 2 S + 1), that :func:`ctc_loss_and_gradient`
allocates. The kernels never use fastmath: the recursions compare with
``-inf`` (probability 0), which fastmath's no-infinities assumption would
fold away.
"""

import functools
import math
from types import SimpleNamespace

import numpy as np
from numba import cuda

from .. import log_space
from .. import options as kernel_options
from .jit import kernel_decorator
from .launch import launch
from .memory import device_array, to_device

log_add = cuda.jit(device=True, inline=True)(log_space.log_add)
log_add3 = cuda.jit(device=True, inline=True)(log_space.log_add3)


@cuda.jit(device=True, inline=True)
def extended_label(labels, b, s, blank):
    """``l'[s]`` of sample ``b``: the blank at even ``s``, label ``s // 2`` at odd ``s``."""
    return blank if s % 2 == 0 else labels[b, s // 2]


@cuda.jit(device=True, inline=True)
def may_skip(labels, b, s):
    """Whether a path may jump from ``l'[s - 2]`` to ``l'[s]``: ``l'[s]`` is a label unlike the one before."""
    return s % 2 == 1 and s >= 2 and labels[b, s // 2] != labels[b, s // 2 - 1]


@functools.lru_cache(maxsize=None)
def build_kernels(dtype, cache):
    """The kernels for logits of one float dtype, with the on-disk cache as ``GpuKernelOptions`` says (never
    fastmath: see the module's docstring). Their code does not depend on the block size: the host picks it."""
    jit = kernel_decorator(("cuda.ctc", dtype), False, cache)

    @jit
    def forward_backward(logits, labels, label_lengths, input_lengths, blank, log_probs, alpha, beta, nll):
        """One block per sample ``b``: ``log_probs[b, :frames]``, ``alpha[b, :frames, :extended]``,
        ``beta[b, :frames, :extended]`` and ``nll[b]`` (``inf`` for an infeasible sample)."""
        b = cuda.blockIdx.x
        first = cuda.threadIdx.x
        stride = cuda.blockDim.x
        classes = logits.shape[2]
        frames = input_lengths[b]
        extended = 2 * label_lengths[b] + 1
        # The log-softmax of each frame, one thread per frame, as kernels/cpu/ctc.py's log_softmax_rows.
        for t in range(first, frames, stride):
            top = -math.inf
            for k in range(classes):
                top = max(top, float(logits[b, t, k]))
            total = 0.0
            for k in range(classes):
                total += math.exp(float(logits[b, t, k]) - top)
            shift = top + math.log(total)
            for k in range(classes):
                log_probs[b, t, k] = float(logits[b, t, k]) - shift
        cuda.syncthreads()
        last = frames - 1
        for s in range(first, extended, stride):
            alpha[b, 0, s] = -math.inf
            beta[b, last, s] = -math.inf
            if s == 0:
                alpha[b, 0, 0] = log_probs[b, 0, blank]
            if s == 1:
                alpha[b, 0, 1] = log_probs[b, 0, labels[b, 0]]
            if s == extended - 1:
                beta[b, last, s] = log_probs[b, last, blank]
            if s == extended - 2:
                beta[b, last, s] = log_probs[b, last, labels[b, s // 2]]
        cuda.syncthreads()
        for step in range(1, frames):
            t = step  # alpha[t] from alpha[t - 1]
            u = last - step  # beta[u] from beta[u + 1]
            for s in range(first, extended, stride):
                previous = alpha[b, t - 1, s - 1] if s >= 1 else -math.inf
                skip = alpha[b, t - 1, s - 2] if may_skip(labels, b, s) else -math.inf
                total = log_add3(alpha[b, t - 1, s], previous, skip)
                alpha[b, t, s] = -math.inf if total == -math.inf else \
                    total + log_probs[b, t, extended_label(labels, b, s, blank)]
                following = beta[b, u + 1, s + 1] if s + 1 < extended else -math.inf
                skip = beta[b, u + 1, s + 2] if s + 2 < extended and may_skip(labels, b, s + 2) else -math.inf
                total = log_add3(beta[b, u + 1, s], following, skip)
                beta[b, u, s] = -math.inf if total == -math.inf else \
                    total + log_probs[b, u, extended_label(labels, b, s, blank)]
            cuda.syncthreads()
        if first == 0:
            log_likelihood = alpha[b, last, extended - 1]
            if extended > 1:
                log_likelihood = log_add(log_likelihood, alpha[b, last, extended - 2])
            nll[b] = math.inf if log_likelihood == -math.inf else -log_likelihood
            for t in range(frames):  # a NaN or +inf logit made its frame's log-softmax NaN: so is the loss
                if math.isnan(log_probs[b, t, 0]):
                    nll[b] = math.nan

    @jit
    def gradient(log_probs, alpha, beta, nll, labels, label_lengths, input_lengths, blank, scales, out, weighted):
        """out[b, t, k] = scales[b] * d nll[b] / d logits[b, t, k] in the logits' dtype, one thread per
        element; the thread of (b, 0, 0) also writes weighted[b] = scales[b] * nll[b] (0 where the scale is 0,
        whatever the loss: an infinite or NaN loss of weight 0 counts for nothing)."""
        i = cuda.grid(1)
        samples, frames, classes = out.shape
        if i < samples * frames * classes:
            b = i // (frames * classes)
            t = (i // classes) % frames
            k = i % classes
            if t == 0 and k == 0:
                weighted[b] = 0.0 if scales[b] == 0.0 else scales[b] * nll[b]
            if t >= input_lengths[b] or nll[b] == math.inf or scales[b] == 0.0:
                out[b, t, k] = 0.0
                return
            if math.isnan(nll[b]):
                out[b, t, k] = math.nan
                return
            log_likelihood = -nll[b]
            log_prob = log_probs[b, t, k]
            value = math.exp(log_prob)
            for s in range(2 * label_lengths[b] + 1):  # in the CPU kernel's order
                if extended_label(labels, b, s, blank) == k:
                    both = alpha[b, t, s] + beta[b, t, s]
                    if both != -math.inf:
                        value -= math.exp(both - log_prob - log_likelihood)
            out[b, t, k] = value * scales[b]

    return SimpleNamespace(forward_backward=forward_backward, gradient=gradient)


def ctc_loss_and_gradient(logits, labels, label_lengths, input_lengths, blank, scales=None):
    """Each sample's CTC negative log likelihood and its gradient with respect to ``logits``, on the device.

    Parameters
    ----------
    logits : device array, float32 or float64, shape (N, T, C)
        C-contiguous.
    labels : device array of int64, shape (N, S)
        Padded beyond ``label_lengths``.
    label_lengths, input_lengths : device arrays of int64, shape (N,)
        Each sample's labels (``0..S``) and frames (``1..T``).
    blank : int
        The blank's class index.
    scales : device array of float64, shape (N,), optional
        Each sample's gradient is multiplied by its scale (the loss's
        reduction and sample weights); 1 by default.

    Returns
    -------
    nll : device array of float64, shape (N,)
        ``inf`` for a sample whose labels cannot fit in its frames.
    gradient : device array of the logits' dtype, shape (N, T, C)
        Zero beyond each sample's frames, for an infeasible sample and for a scale of 0; NaN for a sample
        with a NaN or +inf logit.
    weighted : device array of float64, shape (N,)
        ``scales * nll``, 0 where the scale is 0: the reduced loss is its sum.

    The callers validate (``numlstm/losses/ctc.py``); nothing is checked here
    and nothing waits for the device.
    """
    samples, frames, classes = logits.shape
    extended = 2 * labels.shape[1] + 1
    nll = device_array((samples,), np.float64)
    out = device_array((samples, frames, classes), logits.dtype)
    weighted = device_array((samples,), np.float64)
    if samples == 0:
        return nll, out, weighted
    options = kernel_options.gpu_options().kernels
    threads = options.threads
    kernels = build_kernels(np.dtype(logits.dtype).name, options.cache)
    log_probs = device_array((samples, frames, classes), np.float64)
    alpha = device_array((samples, frames, extended), np.float64)
    beta = device_array((samples, frames, extended), np.float64)
    blank = int(blank)
    if scales is None:
        scales = to_device(np.ones(samples))
    launch(kernels.forward_backward, samples, threads,
           (logits, labels, label_lengths, input_lengths, blank, log_probs, alpha, beta, nll))
    launch(kernels.gradient, -(-samples * frames * classes // threads), threads,
           (log_probs, alpha, beta, nll, labels, label_lengths, input_lengths, blank, scales, out, weighted))
    return nll, out, weighted
