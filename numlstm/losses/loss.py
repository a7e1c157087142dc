"""The base class of the losses: Keras' reduction, target shapes and sample weights.

See :mod:`numlstm.losses` for the reduction and for writing a custom loss.
"""

import numpy as np

_PACKAGE = __name__.rpartition(".")[0]  # numlstm.losses, whose losses the GPU kernels compute

EPSILON = 1e-7  # Keras' backend epsilon: probabilities are clipped to [EPSILON, 1 - EPSILON]

_CUSTOM_LOSS_HELP = """numlstm needs the gradient of a loss with respect to y_pred (it has no automatic
differentiation).
Write a Loss subclass that implements the elementwise term and its derivative:

    class MyLoss(numlstm.losses.Loss):
        name = "my_loss"

        def _term(self, y_true, y_pred):
            error = y_pred - y_true
            return error ** 4, 4 * error ** 3   # elementwise loss, d loss / d y_pred

or implement value_and_gradient(self, y_true, y_pred, sample_weight=None) -> (float, gradient array),
then compile(loss=MyLoss())."""


def _log_softmax(z):
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _prediction(y_pred):
    """``y_pred`` as a floating-point array (lists and integer arrays become float64)."""
    y_pred = np.asarray(y_pred)
    return y_pred if y_pred.dtype.kind == "f" else y_pred.astype(np.float64)


def _positions(shape):
    """The shape of the per-position values: ``shape`` without its last axis (Keras reduces it)."""
    return tuple(shape[:-1])


def check_sample_weight(sample_weight, samples=None):
    """``sample_weight`` as a float64 array, checked.

    Parameters
    ----------
    sample_weight : array_like
        Non-negative, finite weights: a scalar, or an array whose first axis
        holds the samples.
    samples : int, optional
        The number of samples the weights must cover (the length of the first
        axis), when known.

    Returns
    -------
    numpy.ndarray
        The weights as float64.

    Raises
    ------
    TypeError
        If the weights are not real numbers.
    ValueError
        If they hold a negative or non-finite value, or the wrong number of
        samples.
    """
    weights = np.asarray(sample_weight)
    if weights.dtype.kind not in "biuf":
        raise TypeError(f"sample_weight must hold real numbers, got an array of dtype {weights.dtype}")
    weights = weights.astype(np.float64, copy=False)
    if not np.all(np.isfinite(weights)):
        raise ValueError("sample_weight must be finite, got NaN or infinity")
    if np.any(weights < 0):
        raise ValueError(f"sample_weight must be non-negative, got {weights.min()}")
    if samples is not None and weights.ndim and len(weights) != samples:
        raise ValueError(f"sample_weight must hold one weight per sample ({samples}), got shape {weights.shape}")
    return weights


def _position_weights(sample_weight, positions, who):
    """The weights, checked and broadcast to ``positions`` (see :mod:`numlstm.losses` for the shapes)."""
    weights = check_sample_weight(sample_weight)
    if weights.ndim == 0:
        return np.broadcast_to(weights, positions)
    expected = f"{positions}" if len(positions) == 1 else f"({positions[0]},) (one weight per sample) or {positions}"
    if not positions:
        raise ValueError(f"{who}: sample_weight must be a scalar for an output without a batch axis, "
                         f"got shape {weights.shape}")
    samples = positions[0]
    if weights.shape == positions + (1,):
        weights = weights[..., 0]
    if weights.shape in ((samples,), (samples, 1)):
        weights = weights.reshape((samples,) + (1,) * (len(positions) - 1))
    elif weights.shape != positions:
        raise ValueError(f"{who}: sample_weight must have shape {expected} (one weight per output position), "
                         f"got {weights.shape}")
    return np.broadcast_to(weights, positions)


class Loss:
    """Base class of numlstm's losses; subclass it to write a differentiable custom loss.

    A subclass implements ``_term(y_true, y_pred)`` (the elementwise loss and
    its derivative with respect to ``y_pred``) or overrides
    :meth:`value_and_gradient`; see :mod:`numlstm.losses`.

    Attributes
    ----------
    name : str
        Keras' name of the loss (e.g. ``"mean_squared_error"``); ``"accuracy"``
        metrics resolve by it.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import losses
    >>> mse = losses.MeanSquaredError()
    >>> mse(np.array([0.0, 1.0]), np.array([[0.5], [1.0]]))  # (N,) targets for (N, 1) outputs
    0.125
    >>> mse(np.array([0.0, 1.0]), np.array([[0.5], [1.0]]), sample_weight=[2.0, 0.0])
    0.25
    """

    name = None
    _last_axis = "mean"  # how the elementwise term is reduced over the last axis: "mean" or "sum"
    # Which CUDA kernel computes this loss on the GPU ("elementwise", "crossentropy" or "ctc"); None: the host does,
    # with value_and_gradient (every loss defined outside numlstm.losses: its formulas are its own).
    gpu_kernel = None
    # True for a loss whose value_and_gradient takes the output's mask (``mask=``, (batch, timesteps), True on
    # real steps): the CTC loss reads its input lengths there. The others never see a mask.
    reads_output_mask = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__module__.startswith(_PACKAGE + "."):
            cls.gpu_kernel = None

    def kernel_targets(self, y_true, output):
        """``y_true`` as the GPU kernel reads it for an output of ``output.shape`` and ``output.dtype``.

        Checked and of the output's shape; class indices for the sparse crossentropy.

        Parameters
        ----------
        y_true : array_like
        output : array or (shape, dtype) record
        """
        return self._targets_like(y_true, output)

    def kernel_options(self):
        """The settings the GPU kernel reads: ``delta`` (Huber), ``from_logits``, ``sparse`` (class indices)."""
        return {"delta": 1.0, "from_logits": bool(getattr(self, "from_logits", False)), "sparse": False}

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The loss value (a float); see :meth:`value_and_gradient`."""
        if sample_weight is None:
            return self.value_and_gradient(y_true, y_pred)[0]
        return self.value_and_gradient(y_true, y_pred, sample_weight=sample_weight)[0]

    def value_and_gradient(self, y_true, y_pred, sample_weight=None):
        """The loss and its gradient with respect to ``y_pred``.

        Parameters
        ----------
        y_true : array_like
            Targets, of ``y_pred``'s shape (or lacking its trailing axis of
            length 1).
        y_pred : numpy.ndarray
            The model's output.
        sample_weight : array_like, optional
            Weights of shape ``(N,)``, of the positions' shape
            ``y_pred.shape[:-1]``, or a scalar (see :mod:`numlstm.losses`).

        Returns
        -------
        value : float
            The weighted mean of the per-position losses (Keras'
            ``"sum_over_batch_size"``).
        gradient : numpy.ndarray
            ``d value / d y_pred``, of ``y_pred``'s shape and dtype.
        """
        if type(self)._term is Loss._term:
            raise NotImplementedError(f"{type(self).__name__} implements neither _term nor value_and_gradient.\n"
                                      + _CUSTOM_LOSS_HELP)
        y_pred = _prediction(y_pred)
        y_true = self._targets_like(y_true, y_pred)
        term, derivative = self._term(y_true, y_pred)
        term, derivative = np.asarray(term), np.asarray(derivative)
        width = y_pred.shape[-1] if y_pred.ndim else 1
        if sample_weight is None:  # sums, not mean(): numpy's mean() costs 5 us of Python a call
            count = (term.size // width if width else 0) if self._last_axis == "sum" else term.size
            return float(term.sum() / count), (derivative / count).astype(y_pred.dtype, copy=False)
        if self._last_axis == "sum":
            values, d_values = term.sum(axis=-1), derivative
        else:
            values, d_values = term.mean(axis=-1), derivative / width
        return self._reduce_positions(values, d_values, y_pred, sample_weight)

    def _term(self, y_true, y_pred):
        """The elementwise loss and its derivative with respect to ``y_pred`` (both of its shape)."""
        raise NotImplementedError

    def _reduce_positions(self, values, d_values, y_pred, sample_weight):
        """Keras' weighted ``"sum_over_batch_size"`` of per-position values.

        Parameters
        ----------
        values : numpy.ndarray
            One loss per position, of shape ``y_pred.shape[:-1]``.
        d_values : numpy.ndarray
            ``d values / d y_pred`` of ``y_pred``'s shape (each position's
            value depends on its own row of the last axis only).
        y_pred : numpy.ndarray
            The model's output.
        sample_weight : array_like or None
            The weights.

        Returns
        -------
        (float, numpy.ndarray)
            The value and its gradient with respect to ``y_pred``.
        """
        positions = _positions(y_pred.shape)
        count = int(np.prod(positions))
        if sample_weight is None:
            weights = np.ones(positions)
        else:
            weights = _position_weights(sample_weight, positions, self.name or type(self).__name__)
        value = float((values * weights).sum() / count) if count else 0.0
        gradient = d_values * (weights[..., None] / max(count, 1))
        return value, gradient.astype(y_pred.dtype)

    def get_config(self):
        """The arguments that rebuild this loss: ``type(loss)(**loss.get_config())``.

        Returns
        -------
        dict
        """
        return {}

    def _targets_per_position(self, y_true, y_pred, width, layout):
        """``y_true`` of the positions' shape ``y_pred.shape[:-1]`` and ``y_pred``'s dtype, checked, for a loss
        whose last axis holds ``width`` values about one target (quantile levels, a distribution's parameters);
        ``layout`` says what ``y_pred`` must be, in the error message."""
        y_true = np.asarray(y_true)
        if y_true.dtype.kind not in "biuf":
            raise TypeError(f"{self.name}: y_true must hold numbers, got an array of dtype {y_true.dtype}")
        shape = tuple(y_pred.shape)
        if not shape or shape[-1] != width or y_true.shape not in (shape[:-1], shape[:-1] + (1,)):
            raise ValueError(f"{self.name}: y_true has shape {y_true.shape} and y_pred {shape}; {layout} and y_true "
                             "(...) or (..., 1), (...) being y_pred's shape without its last axis")
        return y_true.astype(y_pred.dtype, copy=False).reshape(shape[:-1])

    def _targets_like(self, y_true, y_pred):
        """``y_true`` as an array of ``y_pred``'s shape and dtype, checked (``y_pred`` needs only ``shape``
        and ``dtype``): a missing or extra trailing axis of length 1 is added or removed, as in Keras."""
        y_true = np.asarray(y_true)
        if y_true.dtype.kind not in "biuf":
            raise TypeError(f"{self.name}: y_true must hold numbers, got an array of dtype {y_true.dtype}")
        y_true = y_true.astype(y_pred.dtype, copy=False)
        shape = tuple(y_pred.shape)
        if y_true.shape != shape:
            if (len(shape) and shape[-1] == 1 and y_true.shape == shape[:-1]) or (
                    y_true.ndim and y_true.shape[-1] == 1 and y_true.shape[:-1] == shape):
                y_true = y_true.reshape(shape)
            else:
                raise ValueError(f"{self.name}: y_true has shape {y_true.shape} but the model outputs {shape}")
        return y_true


class _Elementwise(Loss):
    """Losses that reduce an elementwise term (kept for code that checks for this class)."""
