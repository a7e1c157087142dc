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

:class:`QuantileLoss` (``"quantile_loss"``, ``"pinball_loss"``) trains one
output per quantile level for quantile regression: ``y_pred`` is
``(..., Q)`` and ``y_true`` has one value per position (``(...)`` or
``(..., 1)``), compared with every level.

:class:`CTC` (``"ctc"``) trains a speech or handwriting recogniser on
unsegmented transcriptions: ``y_pred`` is ``(batch, frames, classes)``
logits, ``y_true`` ``(batch, max_labels)`` padded label sequences, and the
frames of each sample come from the output's mask; the only loss that reads
the mask. :func:`ctc_loss` is the same loss as a function, with
``torch.nn.CTCLoss``'s explicit lengths.

:class:`GaussianNLL` (``"gaussian_nll"``) is the negative log-likelihood of a
Gaussian whose mean and (softplus-mapped) scale the network outputs, a
likelihood head for probabilistic forecasting: ``y_pred`` is ``(..., 2)`` and
``y_true`` ``(...)`` or ``(..., 1)``; :func:`gaussian_parameters` turns the
outputs into ``(mu, sigma)``.

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

from .ctc import CTC, ctc_loss, label_lengths_of
from .gaussian import GaussianNLL, gaussian_parameters
from .loss import _CUSTOM_LOSS_HELP, EPSILON, Loss, check_sample_weight
from .loss import _Elementwise  # noqa: F401  (for code that checks isinstance against it)
from .probabilistic import BinaryCrossentropy, CategoricalCrossentropy, KLDivergence, SparseCategoricalCrossentropy
from .quantile import QuantileLoss
from .regression import (Huber, LogCosh, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredError,
                         MeanSquaredLogarithmicError, Poisson)

__all__ = ["EPSILON", "Loss", "check_sample_weight", "get", "MeanSquaredError", "MeanAbsoluteError",
           "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "Huber", "LogCosh", "Poisson",
           "KLDivergence", "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
           "QuantileLoss", "GaussianNLL", "gaussian_parameters", "CTC", "ctc_loss", "label_lengths_of"]

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
    "quantile_loss": QuantileLoss, "pinball_loss": QuantileLoss,
    "gaussian_nll": GaussianNLL,
    "ctc": CTC,
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
