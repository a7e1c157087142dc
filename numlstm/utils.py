"""Reproducibility helpers, and Keras' data utilities on numpy arrays.

:func:`pad_sequences`, :func:`to_categorical` and
:func:`timeseries_dataset_from_array` take Keras 3's arguments and give the
same values as ``keras.utils``; the last returns a re-iterable
:class:`TimeseriesDataset` of numpy batches.
"""

import numbers

import numpy as np

_generator = np.random.default_rng()


def set_random_seed(seed):
    """Seed every random draw numlstm makes (initializers, shuffling, dropout).

    With the same seed and thread count, CPU training is bit-reproducible.

    Parameters
    ----------
    seed : int
        Non-negative.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import layers, utils
    >>> utils.set_random_seed(42)
    >>> first = layers.Dense(2)(np.ones((1, 3)))
    >>> utils.set_random_seed(42)
    >>> bool((layers.Dense(2)(np.ones((1, 3))) == first).all())
    True
    """
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed must be a non-negative int, got {seed!r}")
    _generator = np.random.default_rng(int(seed))


def global_generator():
    """The generator behind draws that were given no seed of their own."""
    return _generator


def set_global_generator(generator):
    """Replace the generator behind unseeded draws (``MPIStrategy`` gives each rank its own).

    Parameters
    ----------
    generator : numpy.random.Generator
    """
    global _generator
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"generator must be a numpy.random.Generator, got {type(generator).__name__}")
    _generator = generator


# -- data utilities (Keras' keras.utils functions, on numpy) ------------------------------
def _int_argument(value, argument, minimum=None, optional=False):
    """``value`` as an int, checked: a TypeError unless an integer (or None when ``optional``), a ValueError
    below ``minimum``."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{argument} must be an int{' or None' if optional else ''}, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{argument} must be >= {minimum}, got {value}")
    return int(value)


def _real_argument(value, argument, optional=False):
    """``value`` as a float, checked: a TypeError unless a real number (not a bool), or None when ``optional``.

    Before a range check: a string compared with a number raises a TypeError that names neither.
    """
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{argument} must be a number{' or None' if optional else ''}, got {value!r}")
    return float(value)


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pad (and truncate) sequences to one length, as ``keras.utils.pad_sequences``.

    Parameters
    ----------
    sequences : sequence of sequences
        ``num_samples`` sequences (lists or arrays; their items may be arrays
        of one shape).
    maxlen : int, optional
        The output length. Defaults to the longest sequence's length.
    dtype : str or numpy dtype, optional
        The output's dtype. Defaults to ``"int32"`` (as in Keras: float values
        are truncated to integers unless a float dtype is given); ``object``
        for strings.
    padding : {"pre", "post"}, optional
        Pad before (the default) or after each sequence.
    truncating : {"pre", "post"}, optional
        Drop values from the start (the default) or the end of sequences
        longer than ``maxlen``.
    value : float or str, optional
        The padding value. Defaults to 0.

    Returns
    -------
    numpy.ndarray
        Shape ``(num_samples, maxlen) + item_shape``.

    Raises
    ------
    ValueError
        For a sequence that is not a sequence, items of different shapes,
        an unknown ``padding`` or ``truncating``, a string ``value`` with a
        non-string ``dtype``, or no sequences and no ``maxlen``.

    Examples
    --------
    >>> pad_sequences([[1], [2, 3], [4, 5, 6]], maxlen=2).tolist()
    [[0, 1], [2, 3], [5, 6]]
    >>> pad_sequences([[1], [2, 3]], padding="post", value=-1).tolist()
    [[1, -1], [2, 3]]
    """
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise ValueError(f"sequences must be a list of sequences, got {type(sequences).__name__}")
    maxlen = _int_argument(maxlen, "maxlen", 0, optional=True)
    for argument, given in (("padding", padding), ("truncating", truncating)):
        if given not in ("pre", "post"):
            raise ValueError(f"{argument} must be 'pre' or 'post', got {given!r}")
    lengths, sample_shape = [], None
    for index, sequence in enumerate(sequences):
        try:
            lengths.append(len(sequence))
        except TypeError:
            raise ValueError(f"sequences must be a list of sequences; item {index} is {sequence!r}") from None
        if sample_shape is None and len(sequence):
            sample_shape = np.asarray(sequence).shape[1:]
    sample_shape = sample_shape or ()
    if maxlen is None:
        if not lengths:
            raise ValueError("pad_sequences: sequences is empty, so maxlen must be given")
        maxlen = max(lengths)
    is_string_dtype = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_string_dtype:
        raise ValueError(f"dtype {dtype} does not hold the string value {value!r}; use dtype=object for strings")
    padded = np.full((len(lengths), maxlen) + tuple(sample_shape), value, dtype=dtype)
    for index, sequence in enumerate(sequences):
        kept = sequence[max(len(sequence) - maxlen, 0):] if truncating == "pre" else sequence[:maxlen]
        if not len(kept):
            continue
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != tuple(sample_shape):
            raise ValueError(f"the items of sequence {index} have shape {kept.shape[1:]}, "
                             f"expected {tuple(sample_shape)} (that of the first non-empty sequence)")
        if padding == "post":
            padded[index, :len(kept)] = kept
        else:
            padded[index, -len(kept):] = kept
    return padded


def to_categorical(x, num_classes=None):
    """One-hot encode integer class labels, as ``keras.utils.to_categorical``.

    Parameters
    ----------
    x : array_like
        Class indices in ``[0, num_classes)``, any shape (a trailing axis of
        length 1 is dropped, as in Keras). Floats must be whole numbers.
    num_classes : int, optional
        The number of classes. Defaults to ``max(x) + 1``.

    Returns
    -------
    numpy.ndarray
        float64, of shape ``x.shape + (num_classes,)`` (without ``x``'s
        trailing axis of length 1).

    Raises
    ------
    ValueError
        For labels that are negative, not whole, or not below
        ``num_classes``, or for no labels and no ``num_classes``.

    Examples
    --------
    >>> to_categorical([0, 2], num_classes=3).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    labels = np.asarray(x)
    if labels.dtype.kind not in "biuf":
        raise TypeError(f"x must hold integer class indices, got an array of dtype {labels.dtype}")
    if labels.dtype.kind == "f" and not np.all(np.isfinite(labels) & (labels == np.round(labels))):
        raise ValueError("x must hold whole-number class indices")
    labels = labels.astype(np.int64)
    num_classes = _int_argument(num_classes, "num_classes", 1, optional=True)
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    labels = labels.reshape(-1)
    if num_classes is None:
        if not labels.size:
            raise ValueError("to_categorical: x is empty, so num_classes must be given")
        num_classes = int(labels.max()) + 1
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"x must hold class indices in [0, {num_classes}), "
                         f"got values from {labels.min()} to {labels.max()}")
    categorical = np.zeros((labels.size, num_classes))
    categorical[np.arange(labels.size), labels] = 1
    return categorical.reshape(shape + (num_classes,))


class TimeseriesDataset:
    """Batches of sliding windows over a series; see :func:`timeseries_dataset_from_array`.

    Re-iterable: each ``iter()`` yields every batch again (in a new order
    when shuffled), so it can serve as an epoch's data. ``len()`` is the
    number of batches (of samples when ``batch_size`` is None).

    Parameters
    ----------
    data : numpy.ndarray
        The part of the series in use (``data[start_index:end_index]``); axis 0 is time.
    targets : numpy.ndarray or None
        Aligned with ``data``: the target of the window starting at ``i`` is
        ``targets[i]``.
    start_positions : numpy.ndarray
        Where each window starts in ``data``, in chronological order.
    sequence_length : int
    sampling_rate : int
    batch_size : int or None
        None yields single windows.
    rng : numpy.random.RandomState, optional
        Shuffles the windows at every iteration; None keeps their order.

    Attributes
    ----------
    start_positions : numpy.ndarray
        Where each window starts, relative to ``start_index``, in
        chronological order.
    """

    def __init__(self, data, targets, start_positions, sequence_length, sampling_rate, batch_size, rng):
        self._data, self._targets = data, targets
        self.start_positions = start_positions
        self._steps = np.arange(sequence_length) * sampling_rate
        self.batch_size = batch_size
        self._rng = rng
        self._first_order = None
        if rng is not None:  # Keras shuffles the start positions once, with RandomState(seed)
            self._first_order = start_positions.copy()
            rng.shuffle(self._first_order)

    @property
    def num_samples(self):
        """The number of windows."""
        return len(self.start_positions)

    def __len__(self):
        if self.batch_size is None:
            return self.num_samples
        return (self.num_samples + self.batch_size - 1) // self.batch_size

    def _order(self):
        if self._rng is None:
            return self.start_positions
        if self._first_order is not None:
            order, self._first_order = self._first_order, None
            return order
        order = self.start_positions.copy()
        self._rng.shuffle(order)
        return order

    def __iter__(self):
        order = self._order()
        if self.batch_size is None:
            for position in order:
                window = self._data[position + self._steps]
                yield window if self._targets is None else (window, self._targets[position])
            return
        for start in range(0, len(order), self.batch_size):
            positions = order[start:start + self.batch_size]
            windows = self._data[positions[:, None] + self._steps]
            yield windows if self._targets is None else (windows, self._targets[positions])

    def __repr__(self):
        return (f"<TimeseriesDataset: {self.num_samples} windows of {len(self._steps)} steps, "
                f"{len(self)} {'samples' if self.batch_size is None else 'batches'}>")


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1,
                                  batch_size=128, shuffle=False, seed=None, start_index=None, end_index=None):
    """Sliding windows over a series, in batches, as ``keras.utils.timeseries_dataset_from_array``.

    Window ``i`` holds ``data[start_index + p_i + k * sampling_rate]`` for
    ``k`` in ``range(sequence_length)``, where ``p_i = i * sequence_stride``,
    and its target is ``targets[start_index + p_i]``. Only steps before
    ``end_index`` are used.

    Parameters
    ----------
    data : array_like
        The series; axis 0 is time.
    targets : array_like or None
        ``targets[i]`` is the target of the window that starts at ``i``. None
        for windows without targets.
    sequence_length : int
        Steps per window.
    sequence_stride : int, optional
        Steps between the starts of successive windows. Defaults to 1.
    sampling_rate : int, optional
        Steps between the samples within a window. Defaults to 1.
    batch_size : int or None, optional
        Windows per batch (the last may be smaller). None yields single
        windows. Defaults to 128.
    shuffle : bool, optional
        Shuffle the windows (again at every iteration). Defaults to False.
    seed : int, optional
        Seed of the shuffle; without one it is drawn from numlstm's global
        generator (see :func:`set_random_seed`).
    start_index, end_index : int, optional
        Use only ``data[start_index:end_index]``.

    Returns
    -------
    TimeseriesDataset
        Re-iterable; yields ``(x, y)`` batches of numpy arrays, ``x`` of shape
        ``(batch, sequence_length) + data.shape[1:]``, or ``x`` alone when
        ``targets`` is None. ``len()`` is the number of batches.

    Notes
    -----
    Without shuffling the batches equal Keras' exactly. With ``shuffle`` and
    a seed, the first iteration's order is Keras' first shuffle
    (``numpy.random.RandomState(seed).shuffle`` of the start positions);
    Keras then also shuffles within a buffer of ``tf.data``, which has no
    numpy equivalent, so the batches hold the same windows in another order.

    Examples
    --------
    >>> import numpy as np
    >>> series = np.arange(10)
    >>> dataset = timeseries_dataset_from_array(series[:-3], series[3:], sequence_length=3, batch_size=2)
    >>> len(dataset)
    3
    >>> x, y = next(iter(dataset))
    >>> x.tolist(), y.tolist()
    ([[0, 1, 2], [1, 2, 3]], [3, 4])
    """
    data = np.asarray(data)
    if data.ndim == 0:
        raise ValueError("data must be an array with time on axis 0, got a scalar")
    if targets is not None:
        targets = np.asarray(targets)
        if targets.ndim == 0:
            raise ValueError("targets must be an array (one target per step) or None, got a scalar")
    sequence_length = _int_argument(sequence_length, "sequence_length", 1)
    sequence_stride = _int_argument(sequence_stride, "sequence_stride", 1)
    sampling_rate = _int_argument(sampling_rate, "sampling_rate", 1)
    batch_size = _int_argument(batch_size, "batch_size", 1, optional=True)
    start_index = _int_argument(start_index, "start_index", 0, optional=True)
    end_index = _int_argument(end_index, "end_index", 1, optional=True)
    seed = _int_argument(seed, "seed", 0, optional=True)
    if start_index is not None and start_index >= len(data):
        raise ValueError(f"start_index must be lower than the length of the data ({len(data)}), got {start_index}")
    if end_index is not None:
        if start_index and end_index <= start_index:
            raise ValueError(f"end_index must be higher than start_index ({start_index}), got {end_index}")
        if end_index >= len(data):
            raise ValueError(f"end_index must be lower than the length of the data ({len(data)}), got {end_index}")
    if sampling_rate >= len(data):
        raise ValueError(f"sampling_rate must be lower than the length of the data ({len(data)}), got {sampling_rate}")
    if sequence_stride >= len(data):
        raise ValueError(f"sequence_stride must be lower than the length of the data ({len(data)}), "
                         f"got {sequence_stride}")
    start_index = start_index or 0
    end_index = len(data) if end_index is None else end_index
    count = end_index - start_index - (sequence_length - 1) * sampling_rate
    if targets is not None:
        count = min(count, len(targets))
    positions = np.arange(0, max(count, 0), sequence_stride, dtype=np.int64)
    if targets is not None:
        targets = targets[start_index:end_index]
        if len(positions) and positions[-1] >= len(targets):
            raise ValueError(f"targets is too short: the window starting at step {start_index + positions[-1]} "
                             f"needs a target there, but targets has {start_index + len(targets)} steps")
    rng = None
    if shuffle:
        if seed is None:
            seed = int(global_generator().integers(1_000_000))
        rng = np.random.RandomState(seed)
    return TimeseriesDataset(data[start_index:end_index], targets, positions, sequence_length, sampling_rate,
                             batch_size, rng)
