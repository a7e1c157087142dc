"""Losses with Keras 3's names, formulas and reduction, each with its gradient.

Reduction as in Keras 3 (``reduction="sum_over_batch_size"``): a loss first
reduces the last axis of ``y_pred`` (the mean of the elementwise term for the
regression losses, binary crossentropy, Poisson and log-cosh; the sum for
KL divergence and the categorical crossentropies), which leaves one value per
*position* (shape ``y_pred.shape[:-1]``: one per sample, or one per sample
and timestep for sequence outputs). The batch loss is the sum of those values,
each times its sample weight, divided by the number of positions. Without
sample weights that is the mean over every position.

Targets of shape ``(N,)`` are accepted for outputs of shape ``(N, 1)`` (and in
general targets that lack, or have an extra, trailing axis of length 1), as
Keras' ``squeeze_or_expand_to_same_rank`` accepts them.

Sample weights (``sample_weight``) may have shape ``(N,)`` (one weight per
sample, applied to every position of that sample), the positions' shape
(``(N,)`` for outputs ``(N, F)``, ``(N, T)`` for sequence outputs
``(N, T, F)``; a trailing axis of length 1 is allowed), or be a scalar. They
must be finite and non-negative. For sequence outputs Keras 3 itself rejects
weights of shape ``(N,)`` (its broadcast fails unless ``N == T``); numlstm
gives them the per-sample meaning, equal to Keras with weights of shape
``(N, 1)``.

Every loss returns the gradient of its value with respect to ``y_pred``,
which training feeds into the model's backward pass: numlstm has no automatic
differentiation, so a loss must supply its own gradient.

Writing a custom loss
---------------------
Subclass :class:`Loss` and implement either

* ``_term(y_true, y_pred)``: the elementwise loss and its elementwise
  derivative with respect to ``y_pred`` (two arrays of ``y_pred``'s shape).
  The base class then applies Keras' reduction (the mean over the last axis,
  then the weighted mean over positions), ``(N,)`` targets and sample
  weights; or
* ``value_and_gradient(y_true, y_pred, sample_weight=None)``: returning
  ``(value, gradient)``, a float and an array of ``y_pred``'s shape and
  dtype. ``_reduce_positions`` helps to apply sample weights as Keras does.

Examples
--------
>>> import numpy as np
>>> from numlstm import losses
>>> class QuarticError(losses.Loss):
...     name = "quartic_error"
...     def _term(self, y_true, y_pred):
...         error = y_pred - y_true
...         return error ** 4, 4 * error ** 3
>>> value, gradient = QuarticError().value_and_gradient(np.zeros((2, 1)), np.ones((2, 1)))
>>> value, gradient.ravel().tolist()
(1.0, [2.0, 2.0])

Give an instance to ``model.compile(loss=QuarticError())``. A plain function
is refused by :func:`get`: it has no gradient.
"""

import numpy as np

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
    """The weights, checked and broadcast to ``positions`` (see the module's docstring for the shapes)."""
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
    :meth:`value_and_gradient`; see the module's docstring.

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
    # Which CUDA kernel computes this loss on the GPU ("elementwise" or "crossentropy"); None: the host does,
    # with value_and_gradient (every loss defined outside this module: its formulas are its own).
    gpu_kernel = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__ != __name__:
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
            ``y_pred.shape[:-1]``, or a scalar (see the module's docstring).

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
        if sample_weight is None:
            if self._last_axis == "sum":
                count = term.size // width if width else 0
                return float(term.sum() / count), (derivative / count).astype(y_pred.dtype)
            return float(term.mean()), (derivative / term.size).astype(y_pred.dtype)
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


class MeanSquaredError(_Elementwise):
    """Mean of ``(y_true - y_pred) ** 2`` (``"mse"``, ``"mean_squared_error"``).

    Examples
    --------
    >>> import numpy as np
    >>> MeanSquaredError()(np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]]))
    0.5
    """

    name = "mean_squared_error"
    gpu_kernel = "elementwise"

    def _term(self, y_true, y_pred):
        error = y_pred - y_true
        return error * error, 2 * error


class MeanAbsoluteError(_Elementwise):
    """Mean of ``abs(y_true - y_pred)`` (``"mae"``, ``"mean_absolute_error"``)."""

    name = "mean_absolute_error"
    gpu_kernel = "elementwise"

    def _term(self, y_true, y_pred):
        error = y_pred - y_true
        return np.abs(error), np.sign(error)


class MeanAbsolutePercentageError(_Elementwise):
    """``100 * mean(abs((y_true - y_pred) / max(abs(y_true), 1e-7)))`` (``"mape"``).

    Also ``"mean_absolute_percentage_error"``; the denominator is clipped to
    Keras' epsilon, as in Keras.

    Examples
    --------
    >>> import numpy as np
    >>> MeanAbsolutePercentageError()(np.array([[2.0, 4.0]]), np.array([[1.0, 5.0]]))
    37.5
    """

    name = "mean_absolute_percentage_error"

    def _term(self, y_true, y_pred):
        scale = np.maximum(np.abs(y_true), EPSILON)
        return 100.0 * np.abs((y_true - y_pred) / scale), 100.0 * np.sign(y_pred - y_true) / scale


class MeanSquaredLogarithmicError(_Elementwise):
    """Mean of ``(log(max(y_pred, 1e-7) + 1) - log(max(y_true, 1e-7) + 1)) ** 2`` (``"msle"``).

    Also ``"mean_squared_logarithmic_error"``; values below Keras' epsilon
    are clipped to it (the gradient is zero there), as in Keras.
    """

    name = "mean_squared_logarithmic_error"

    def _term(self, y_true, y_pred):
        shifted = np.maximum(y_pred, EPSILON) + 1.0
        difference = np.log(shifted) - np.log(np.maximum(y_true, EPSILON) + 1.0)
        return difference * difference, np.where(y_pred > EPSILON, 2 * difference / shifted, 0.0)


class Huber(_Elementwise):
    """Huber loss: quadratic for errors up to ``delta``, linear beyond (``"huber"``).

    Parameters
    ----------
    delta : float, optional
        Where the loss changes from quadratic to linear. Defaults to 1.0.
    """

    name = "huber"
    gpu_kernel = "elementwise"

    def __init__(self, delta=1.0):
        self.delta = float(delta)

    def _term(self, y_true, y_pred):
        error = y_pred - y_true
        small = np.abs(error) <= self.delta
        value = np.where(small, 0.5 * error * error, self.delta * (np.abs(error) - 0.5 * self.delta))
        return value, np.where(small, error, self.delta * np.sign(error))

    def get_config(self):
        return {"delta": self.delta}

    def kernel_options(self):
        return {**super().kernel_options(), "delta": self.delta}


class LogCosh(_Elementwise):
    """Mean of ``log(cosh(y_pred - y_true))`` (``"log_cosh"``, ``"logcosh"``).

    Computed as Keras does, ``x + softplus(-2 x) - log(2)``, which does not
    overflow; the derivative is ``tanh(x)``.
    """

    name = "log_cosh"

    def _term(self, y_true, y_pred):
        error = y_pred - y_true
        return error + np.logaddexp(0.0, -2.0 * error) - np.log(2.0), np.tanh(error)


class Poisson(_Elementwise):
    """Mean of ``y_pred - y_true * log(y_pred + 1e-7)`` (``"poisson"``).

    ``y_pred`` is a rate and must be positive (a softplus or exponential
    output); Keras' epsilon is added inside the logarithm, as in Keras.
    """

    name = "poisson"

    def _term(self, y_true, y_pred):
        shifted = y_pred + EPSILON
        return y_pred - y_true * np.log(shifted), 1.0 - y_true / shifted


class KLDivergence(_Elementwise):
    """Kullback-Leibler divergence ``sum(y_true * log(y_true / y_pred), axis=-1)`` (``"kl_divergence"``).

    Also ``"kld"``. Both arguments are clipped to ``[1e-7, 1]`` as in Keras
    (the gradient is zero where ``y_pred`` is clipped); the last axis is
    summed, not averaged.
    """

    name = "kl_divergence"
    _last_axis = "sum"

    def _term(self, y_true, y_pred):
        p = np.clip(y_true, EPSILON, 1.0)
        q = np.clip(y_pred, EPSILON, 1.0)
        return p * np.log(p / q), np.where((y_pred > EPSILON) & (y_pred < 1.0), -p / q, 0.0)


class BinaryCrossentropy(_Elementwise):
    """Binary crossentropy, the mean over the last axis (``"binary_crossentropy"``).

    Parameters
    ----------
    from_logits : bool, optional
        Whether ``y_pred`` holds logits rather than probabilities (which are
        clipped to ``[1e-7, 1 - 1e-7]``, as in Keras). Defaults to False.
    """

    name = "binary_crossentropy"
    gpu_kernel = "elementwise"

    def __init__(self, from_logits=False):
        self.from_logits = from_logits

    def _term(self, y_true, y_pred):
        if self.from_logits:
            z = y_pred
            value = np.maximum(z, 0) - z * y_true + np.log1p(np.exp(-np.abs(z)))
            return value, 0.5 * np.tanh(0.5 * z) + 0.5 - y_true
        p = np.clip(y_pred, EPSILON, 1 - EPSILON)
        value = -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))
        inside = (y_pred > EPSILON) & (y_pred < 1 - EPSILON)
        return value, np.where(inside, (p - y_true) / (p * (1 - p)), 0.0)

    def get_config(self):
        return {"from_logits": self.from_logits}


class CategoricalCrossentropy(Loss):
    """Categorical crossentropy of one-hot (or soft) targets (``"categorical_crossentropy"``).

    Parameters
    ----------
    from_logits : bool, optional
        Whether ``y_pred`` holds logits rather than probabilities (which are
        normalised over the last axis and clipped to ``[1e-7, 1 - 1e-7]``, as
        in Keras). Defaults to False.
    """

    name = "categorical_crossentropy"
    gpu_kernel = "crossentropy"

    def __init__(self, from_logits=False):
        self.from_logits = from_logits

    def _one_hot(self, y_true, y_pred):
        return self._targets_like(y_true, y_pred)

    def value_and_gradient(self, y_true, y_pred, sample_weight=None):
        """See :meth:`Loss.value_and_gradient`."""
        y_pred = _prediction(y_pred)
        y_true = self._one_hot(y_true, y_pred)
        positions = y_pred.size // y_pred.shape[-1]
        if self.from_logits:
            log_q = _log_softmax(y_pred)
            value = -(y_true * log_q).sum(axis=-1)
            derivative = np.exp(log_q) * y_true.sum(axis=-1, keepdims=True) - y_true
        else:
            total = y_pred.sum(axis=-1, keepdims=True)
            q = y_pred / total
            clipped = np.clip(q, EPSILON, 1 - EPSILON)
            value = -(y_true * np.log(clipped)).sum(axis=-1)
            d_q = np.where((q > EPSILON) & (q < 1 - EPSILON), -y_true / clipped, 0.0)
            derivative = (d_q - (d_q * q).sum(axis=-1, keepdims=True)) / total
        if sample_weight is not None:
            return self._reduce_positions(value, derivative, y_pred, sample_weight)
        return float(value.mean()), (derivative / positions).astype(y_pred.dtype)

    def get_config(self):
        return {"from_logits": self.from_logits}


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical crossentropy of integer class indices (``"sparse_categorical_crossentropy"``).

    ``y_true`` holds class indices of shape ``y_pred.shape[:-1]`` (or with a
    trailing axis of length 1).

    Parameters
    ----------
    from_logits : bool, optional
        Whether ``y_pred`` holds logits. Defaults to False.
    """

    name = "sparse_categorical_crossentropy"

    def _one_hot(self, y_true, y_pred):
        return np.eye(y_pred.shape[-1], dtype=y_pred.dtype)[self._labels(y_true, y_pred)]

    def kernel_targets(self, y_true, output):
        return self._labels(y_true, output)

    def kernel_options(self):
        return {**super().kernel_options(), "sparse": True}

    def _labels(self, y_true, y_pred):
        """The class indices of ``y_true`` (shape ``y_pred.shape[:-1]``, int64), checked."""
        labels = np.asarray(y_true)
        shape = tuple(y_pred.shape)
        if labels.shape == shape[:-1] + (1,):
            labels = labels[..., 0]
        if labels.shape != shape[:-1]:
            raise ValueError(f"{self.name}: y_true must hold class indices of shape {shape[:-1]}, "
                             f"got {labels.shape}")
        if labels.dtype.kind == "f":
            if not np.all(labels == np.round(labels)):
                raise ValueError(f"{self.name}: y_true must hold integer class indices")
            labels = labels.astype(np.int64)
        classes = shape[-1]
        if labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= classes:
            raise ValueError(f"{self.name}: y_true must hold class indices in [0, {classes}), "
                             f"got values from {labels.min()} to {labels.max()}")
        return labels.astype(np.int64, copy=False)


_BY_NAME = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError, "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "huber": Huber, "log_cosh": LogCosh, "logcosh": LogCosh, "poisson": Poisson,
    "kl_divergence": KLDivergence, "kld": KLDivergence,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    # Keras' other spellings: upper-case abbreviations, "bce", and the class names
    "MSE": MeanSquaredError, "MAE": MeanAbsoluteError, "MAPE": MeanAbsolutePercentageError,
    "MSLE": MeanSquaredLogarithmicError, "KLD": KLDivergence, "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
}
_BY_NAME.update({cls.__name__: cls for cls in set(_BY_NAME.values())})


def get(identifier):
    """A loss from its Keras name, a :class:`Loss` instance, or a :class:`Loss` subclass.

    Parameters
    ----------
    identifier : str or Loss or type
        A name (``"mse"``, ``"kl_divergence"``, ...; see ``_BY_NAME``), a loss
        instance (returned as it is), or a Loss subclass (instantiated with no
        arguments).

    Returns
    -------
    Loss

    Raises
    ------
    ValueError
        For an unknown name.
    TypeError
        For a plain function or other callable: numlstm needs the loss's
        gradient, so a custom loss is a :class:`Loss` subclass (see the module's
        docstring).

    Examples
    --------
    >>> get("msle").name
    'mean_squared_logarithmic_error'
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, str):
        if identifier in _BY_NAME:
            return _BY_NAME[identifier]()
        names = sorted(name for name in _BY_NAME if name.islower())
        raise ValueError(f"unknown loss {identifier!r}; valid names: {', '.join(names)} "
                         "(and their class names and Keras' upper-case abbreviations)")
    if callable(identifier):
        what = getattr(identifier, "__name__", type(identifier).__name__)
        raise TypeError(f"loss {what!r} is a plain callable, not a numlstm Loss. {_CUSTOM_LOSS_HELP}")
    raise TypeError(f"loss must be a name or a numlstm Loss, got {type(identifier).__name__}")
