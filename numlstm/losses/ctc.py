"""Connectionist temporal classification (CTC): a transcription loss for unsegmented sequences."""

import typing

import numpy as np

from .loss import Loss, _prediction, check_sample_weight

REDUCTIONS = ("mean", "sum", "sum_over_batch_size", "none")


def _ctc_kernels():
    from ..kernels.cpu import ctc  # compiled on first use, not when numlstm.losses is imported

    return ctc


def label_lengths_of(labels, blank=0):
    """The length of each row of padded ``labels``: the entries before the first padding entry.

    Padding is any negative entry (``-1``, as in ``torch``) or the blank
    itself (``0`` as in Keras' ``CTC``, whose targets are padded with the
    blank); a label after padding is an error.

    Parameters
    ----------
    labels : numpy.ndarray of int, shape (N, S)
    blank : int, default 0

    Returns
    -------
    numpy.ndarray of int64, shape (N,)

    Raises
    ------
    ValueError
        If a row has a label after its padding.

    Examples
    --------
    >>> import numpy as np
    >>> label_lengths_of(np.array([[3, 1, 1, -1], [2, 0, 0, 0]])).tolist()
    [3, 1]
    """
    padding = (labels < 0) | (labels == blank)
    lengths = np.where(padding.any(axis=1), padding.argmax(axis=1), labels.shape[1]).astype(np.int64)
    after = np.arange(labels.shape[1]) >= lengths[:, None]
    stray = ~padding & after
    if stray.any():
        row = int(np.flatnonzero(stray.any(axis=1))[0])
        hint = ""
        if np.any(labels[row, :lengths[row] + 1] == blank):
            hint = (f"; the blank ({blank}) is not a class: it counts as padding, so if {blank} is one of your "
                    f"labels, shift the labels by one (digit d as class d + 1) or give the blank another index")
        raise ValueError(f"labels: row {row} has a label after its padding ({labels[row].tolist()}); pad rows at the "
                         f"end, with -1 or the blank ({blank}){hint}")
    return lengths


def _input_lengths(input_lengths, mask, samples, frames):
    """Each sample's frame count: given, from the output's mask (a run of True from the start), or all."""
    if input_lengths is not None:
        lengths = np.asarray(input_lengths)
        if lengths.dtype.kind not in "iu" or lengths.shape != (samples,):
            raise ValueError(f"input_lengths must be {samples} integers (one per sample), got "
                             f"{lengths.dtype} of shape {lengths.shape}")
        lengths = lengths.astype(np.int64)
    elif mask is not None:
        mask = np.asarray(mask, bool)
        if mask.shape != (samples, frames):
            raise ValueError(f"the output's mask has shape {mask.shape}, expected ({samples}, {frames})")
        lengths = mask.sum(axis=1).astype(np.int64)
        gaps = np.any(mask != (np.arange(frames) < lengths[:, None]), axis=1)
        if gaps.any():
            row = int(np.flatnonzero(gaps)[0])
            raise ValueError(f"the CTC loss reads each sample's frames from the output's mask, which must keep a "
                             f"run of frames from the start (pad at the end); sample {row}'s does not")
    else:
        return np.full(samples, frames, np.int64)
    if lengths.size and (np.any(lengths < 1) or np.any(lengths > frames)):
        raise ValueError(f"input_lengths must lie between 1 and the {frames} frames of y_pred, got "
                         f"{lengths.min()}..{lengths.max()}")
    return lengths


def _frames_needed(labels, label_lengths):
    """The fewest frames that can emit each row: its labels, and a blank between each repeated pair."""
    repeats = (labels[:, 1:] == labels[:, :-1]) & (np.arange(1, labels.shape[1]) < label_lengths[:, None])
    return label_lengths + repeats.sum(axis=1)


def ctc_loss(logits, labels, input_lengths=None, label_lengths=None, blank=0, reduction="mean",
             zero_infinity=False, sample_weight=None):
    r"""The CTC loss of ``logits`` against ``labels``, and its gradient with respect to ``logits``.

    ``torch.nn.CTCLoss`` applied to ``log_softmax(logits)``, with the
    gradient taken through the log-softmax; the recursion runs in log space
    in float64 (Numba, the samples in parallel), the gradient comes back in
    the logits' dtype.

    Parameters
    ----------
    logits : array_like, shape (N, T, C)
        Unnormalised scores of the ``C`` classes (the blank among them) in
        each frame: a Dense layer's output, no softmax.
    labels : array_like of int, shape (N, S)
        Each sample's transcription, class indices other than ``blank``,
        padded at the end with ``-1`` or with the blank (Keras' convention).
        A row may be empty.
    input_lengths : array_like of int, shape (N,), optional
        The frames of each sample (the rest is padding); all ``T`` by default.
    label_lengths : array_like of int, shape (N,), optional
        The labels of each row; read from the padding by default.
    blank : int, default 0
        The blank's class index.
    reduction : {"mean", "sum", "sum_over_batch_size", "none"}, default "mean"
        As ``torch.nn.functional.ctc_loss``: ``"mean"`` divides each sample's
        loss by its label count (at least 1) and averages over the batch;
        ``"sum"`` adds them. ``"sum_over_batch_size"`` averages the samples'
        losses (Keras' ``CTC``, and the :class:`CTC` loss's default).
        ``"none"``: one loss per sample.
    zero_infinity : bool, default False
        Give a loss of 0 and a zero gradient to a sample whose labels cannot
        fit in its frames. Without it such a sample is an error (``torch``
        returns an infinite loss). A sample with a NaN or ``+inf`` logit gets
        a NaN loss and gradient, as with the other losses (so that
        ``TerminateOnNaN`` sees it).
    sample_weight : array_like, shape (N,), optional
        Each sample's loss is multiplied by its weight before the reduction.

    Returns
    -------
    value : float or numpy.ndarray of shape (N,)
        The reduced loss (``"none"``: one per sample).
    gradient : numpy.ndarray
        ``d value / d logits`` (``"none"``: each sample's loss with respect to
        its own logits), of the logits' shape and dtype, zero beyond
        ``input_lengths``.

    Raises
    ------
    ValueError
        For labels outside ``[0, C)``, equal to the blank, or packed wrongly;
        lengths out of range; a sample whose labels need more frames than it
        has (each label one frame, and a blank between repeated labels),
        unless ``zero_infinity``.

    Notes
    -----
    For one sample with frames :math:`x_{1..T}` and labels :math:`l`,
    :math:`-\log p(l \mid x) = -\log \sum_{\pi \in B^{-1}(l)} \prod_t y_{\pi_t}^t`,
    where :math:`B` removes repeats, then blanks, from a frame-wise path
    :math:`\pi`, and :math:`y^t = \mathrm{softmax}(\text{logits}_t)`.

    Examples
    --------
    >>> import numpy as np
    >>> logits = np.zeros((1, 3, 2))  # 3 frames, classes {blank, "a"}, uniform
    >>> value, gradient = ctc_loss(logits, np.array([[1]]), reduction="sum")
    >>> bool(np.isclose(value, -np.log(6 / 8)))  # 6 of the 8 paths read "a" (not "___", "a_a")
    True
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, REDUCTIONS))}, got {reduction!r}")
    logits = _prediction(logits)
    if logits.ndim != 3 or 0 in logits.shape:
        raise ValueError(f"logits (y_pred) must have shape (batch, frames, classes), got {logits.shape}")
    return _value_and_gradient(logits, _plan(logits.shape, labels, input_lengths, label_lengths, blank, zero_infinity),
                               blank, reduction, sample_weight)


def _value_and_gradient(logits, plan, blank, reduction, sample_weight):
    """The CPU kernel's losses and gradients for a checked ``plan``, reduced."""
    nll = np.empty(len(logits))
    gradient = np.empty_like(logits)
    if len(logits):
        _ctc_kernels().ctc_loss_and_gradient(np.ascontiguousarray(logits), plan.labels, plan.label_lengths,
                                             plan.input_lengths, blank, nll, gradient)
    nll[~plan.feasible] = 0.0
    gradient[~plan.feasible] = 0.0
    if reduction == "none":
        return nll, gradient
    scales = _sample_scales(plan, reduction, sample_weight)
    counted = scales != 0  # a sample of weight 0, or that cannot be aligned, counts for nothing, NaN included
    gradient *= scales.astype(logits.dtype)[:, None, None]
    gradient[~counted] = 0.0
    return float(np.dot(scales[counted], nll[counted])), gradient


class _Plan(typing.NamedTuple):
    """A batch's checked labels (int64 (N, S)), label and input lengths (int64 (N,)), and which samples can be
    aligned at all (bool (N,))."""

    labels: np.ndarray
    label_lengths: np.ndarray
    input_lengths: np.ndarray
    feasible: np.ndarray


def _plan(shape, labels, input_lengths, label_lengths, blank, zero_infinity, mask=None):
    """The checks of :func:`ctc_loss` on what it gets besides the logits (of ``shape``), for either device."""
    samples, frames, classes = shape
    if isinstance(blank, bool) or not isinstance(blank, (int, np.integer)) or not 0 <= blank < classes:
        raise ValueError(f"blank must be a class index in [0, {classes}), got {blank!r}")
    labels = np.asarray(labels)
    if labels.ndim == 1 and samples == 1:
        labels = labels[None]
    if labels.dtype.kind == "f" and labels.size and np.all(labels == np.round(labels)):
        labels = labels.astype(np.int64)  # targets stored as floats, as numlstm's data utilities may give them
    if labels.dtype.kind not in "iu" or labels.ndim != 2 or len(labels) != samples:
        raise ValueError(f"labels (y_true) must be integers of shape ({samples}, max_labels), padded with -1 or the "
                         f"blank, got {labels.dtype} of shape {labels.shape}")
    labels = np.ascontiguousarray(labels, np.int64)
    if label_lengths is None:
        label_lengths = label_lengths_of(labels, blank)
    else:
        label_lengths = np.asarray(label_lengths)
        if label_lengths.dtype.kind not in "iu" or label_lengths.shape != (samples,) or np.any(label_lengths < 0) \
                or np.any(label_lengths > labels.shape[1]):
            raise ValueError(f"label_lengths must be {samples} integers in [0, {labels.shape[1]}], got "
                             f"{label_lengths.tolist()}")
        label_lengths = label_lengths.astype(np.int64)
    used = np.arange(labels.shape[1]) < label_lengths[:, None]
    bad = used & ((labels < 0) | (labels >= classes) | (labels == blank))
    if bad.any():
        row, column = map(int, np.argwhere(bad)[0])
        raise ValueError(f"labels must be class indices in [0, {classes}) other than the blank ({blank}); row {row} "
                         f"holds {labels[row, column]} at position {column}")
    input_lengths = _input_lengths(input_lengths, mask, samples, frames)
    needed = _frames_needed(labels, label_lengths)
    feasible = needed <= input_lengths
    if not zero_infinity and not feasible.all():
        row = int(np.flatnonzero(~feasible)[0])
        raise ValueError(f"sample {row} (of this batch): its {label_lengths[row]} labels need at least {needed[row]} "
                         f"frames (a blank between repeated labels), but it has {input_lengths[row]}; give it more "
                         "frames or use zero_infinity=True")
    return _Plan(labels, label_lengths, input_lengths, feasible)


def _sample_scales(plan, reduction, sample_weight):
    """What each sample's loss counts for in the reduced loss (0 for a sample that cannot be aligned)."""
    samples = len(plan.labels)
    scales = plan.feasible.astype(np.float64)
    if sample_weight is not None:
        weights = check_sample_weight(sample_weight, samples)
        if weights.ndim not in (0, 1):
            raise ValueError(f"sample_weight for the CTC loss must hold one weight per sample, got shape "
                             f"{weights.shape}")
        scales = scales * weights
    if reduction == "mean":
        scales = scales / (np.maximum(plan.label_lengths, 1) * max(samples, 1))
    elif reduction == "sum_over_batch_size":
        scales = scales / max(samples, 1)
    return scales


class CTC(Loss):
    r"""Connectionist temporal classification (``"ctc"``): transcribes a sequence of frames without an alignment.

    The model outputs one row of logits per frame, ``(batch, frames,
    classes)`` (a Dense layer after a recurrent one with
    ``return_sequences=True``; no softmax), one class being the blank. The
    loss is :math:`-\log p(l \mid x)`, the probability of the transcription
    :math:`l` summed over every frame-wise path that reads :math:`l` once
    repeats, then blanks, are removed; see :func:`ctc_loss` for the formula
    and :mod:`numlstm.decoding` to turn the logits back into labels.

    Targets ``y_true``: ``(batch, max_labels)`` integers, each row a
    transcription padded at the end with ``-1`` or with the blank.

    Frames: a sample's frames are those its output's mask keeps (put a
    :class:`~numlstm.layers.Masking` layer first for variable-length
    batches, padded at the end), or all of them.

    Parameters
    ----------
    blank : int, default 0
        The blank's class index, as ``torch.nn.CTCLoss``'s ``blank``.
    reduction : {"sum_over_batch_size", "mean", "sum"}, default "sum_over_batch_size"
        ``"sum_over_batch_size"`` averages the samples' losses, as
        ``keras.losses.CTC()`` does, so that a Keras script ports with its
        numbers. ``"mean"`` and ``"sum"`` are ``torch.nn.CTCLoss``'s:
        ``"mean"`` (torch's default, and :func:`ctc_loss`'s) divides each
        sample's loss by its label count, then averages over the batch;
        ``"sum"`` adds the samples' losses.
    zero_infinity : bool, default False
        Ignore (loss 0, gradient 0) a sample whose labels cannot fit in its
        frames; without it such a sample raises ``ValueError``.

    Examples
    --------
    >>> import numpy as np
    >>> import numlstm
    >>> from numlstm import layers
    >>> model = numlstm.Sequential([layers.Input((20, 3)), layers.LSTM(8, return_sequences=True),
    ...                             layers.Dense(4)])  # 3 labels and the blank
    >>> model.compile("adam", loss=numlstm.losses.CTC())
    >>> x = np.random.default_rng(0).normal(size=(2, 20, 3))
    >>> y = np.array([[1, 2, 2], [3, -1, -1]])  # padded with -1
    >>> loss = model.train_on_batch(x, y)
    """

    name = "ctc"
    reads_output_mask = True
    gpu_kernel = "ctc"  # kernels/cuda/ctc.py, fed by device_plan

    def __init__(self, blank=0, reduction="sum_over_batch_size", zero_infinity=False):
        if reduction not in REDUCTIONS[:3]:
            raise ValueError(f"reduction must be one of {', '.join(map(repr, REDUCTIONS[:3]))}, got {reduction!r}; "
                             "ctc_loss gives the per-sample losses")
        if isinstance(blank, bool) or not isinstance(blank, (int, np.integer)):
            raise TypeError(f"blank must be an integer class index, got {blank!r}")
        if blank < 0:
            raise ValueError(f"blank must be a non-negative class index, got {blank!r}")
        if not isinstance(zero_infinity, (bool, np.bool_)):
            raise TypeError(f"zero_infinity must be True or False, got {zero_infinity!r}")
        self.blank = int(blank)
        self.reduction = reduction
        self.zero_infinity = bool(zero_infinity)

    def __repr__(self):
        return f"CTC(blank={self.blank}, reduction={self.reduction!r}, zero_infinity={self.zero_infinity})"

    def get_config(self):
        return {"blank": self.blank, "reduction": self.reduction, "zero_infinity": self.zero_infinity}

    def value_and_gradient(self, y_true, y_pred, sample_weight=None, mask=None):
        """The loss and its gradient with respect to ``y_pred``.

        Parameters
        ----------
        y_true : array_like of int, shape (N, max_labels)
            The transcriptions, padded with ``-1`` or the blank.
        y_pred : numpy.ndarray, shape (N, frames, classes)
            The logits.
        sample_weight : array_like, shape (N,), optional
            One weight per sample.
        mask : array_like of bool, shape (N, frames), optional
            The output's mask: each sample's frames (a run from the start).

        Returns
        -------
        value : float
        gradient : numpy.ndarray
            Of ``y_pred``'s shape and dtype.
        """
        y_pred = _prediction(y_pred)
        plan = self._plan(y_true, y_pred.shape, mask)
        return _value_and_gradient(y_pred, plan, self.blank, self.reduction, sample_weight)

    def _plan(self, y_true, shape, mask):
        if len(shape) != 3 or 0 in shape:
            raise ValueError(f"{self.name}: y_pred must have shape (batch, frames, classes): the model's last layer "
                             f"needs one row of logits per frame (return_sequences=True), got {tuple(shape)}")
        return _plan(tuple(shape), y_true, None, None, self.blank, self.zero_infinity, mask=mask)

    def device_plan(self, y_true, shape, sample_weight=None, mask=None):
        """What the GPU kernel needs besides the logits, checked on the host as :meth:`value_and_gradient` checks.

        Parameters
        ----------
        y_true : array_like of int, shape (N, max_labels)
        shape : tuple of int
            The logits' shape (N, frames, classes).
        sample_weight : array_like, shape (N,), optional
        mask : array_like of bool, shape (N, frames), optional

        Returns
        -------
        labels, label_lengths, input_lengths : numpy.ndarray of int64
        scales : numpy.ndarray of float64, shape (N,)
            Each sample's weight in the reduced loss, 0 where it cannot be aligned.
        """
        plan = self._plan(y_true, shape, mask)
        return plan.labels, plan.label_lengths, plan.input_lengths, _sample_scales(plan, self.reduction, sample_weight)
