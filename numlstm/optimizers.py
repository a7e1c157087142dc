"""Optimizers and learning-rate schedules with Keras 3's names, defaults and update rules.

Each works on the model's single flat parameter buffer with a fused kernel
(``numlstm.kernels.optimizer_updates`` on the CPU, its CUDA twin in
``kernels/cuda/ops.py`` when the buffer lives on the GPU, where the state then lives
too): one pass over all weights per step, not a Python loop per array.
Gradient clipping as in Keras: ``clipvalue`` (elementwise), ``clipnorm``
(each weight array's norm), ``global_clipnorm`` (the norm of all gradients
together).
"""

import math

import numpy as np

from . import backend
from .utils import _real_argument
from .kernels.optimizer_updates import adam_step_size


class LearningRateSchedule:
    """Base class of learning-rate schedules: ``schedule(step)`` is the rate of optimizer step ``step``.

    Pass one as an optimizer's ``learning_rate``; the optimizer evaluates
    it at its step count (from 0), as Keras does. Subclasses implement
    ``__call__``.
    """

    def __call__(self, step):
        raise NotImplementedError


class ExponentialDecay(LearningRateSchedule):
    """Exponential decay: ``initial_learning_rate * decay_rate ** (step / decay_steps)``.

    Parameters
    ----------
    initial_learning_rate : float
    decay_steps : int
        The steps over which the rate is multiplied by ``decay_rate``.
    decay_rate : float
    staircase : bool, default False
        Floor ``step / decay_steps``: the rate drops every ``decay_steps``
        steps instead of smoothly.

    Examples
    --------
    >>> from numlstm import optimizers
    >>> schedule = optimizers.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    >>> [schedule(step) for step in (0, 9, 10, 20)]
    [0.1, 0.1, 0.05, 0.025]
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False):
        self.initial_learning_rate, self.decay_steps = float(initial_learning_rate), int(decay_steps)
        self.decay_rate, self.staircase = float(decay_rate), staircase

    def get_config(self):
        """The constructor's arguments."""
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase}

    def __call__(self, step):
        exponent = step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** (math.floor(exponent) if self.staircase else exponent)


class CosineDecay(LearningRateSchedule):
    """Cosine decay from ``initial_learning_rate`` to ``alpha * initial_learning_rate`` over ``decay_steps``.

    ``rate(step) = initial_learning_rate * ((1 - alpha) * cosine + alpha)``
    with ``cosine = 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps))``:
    constant after ``decay_steps``. Keras' warm-up arguments are not supported.

    Parameters
    ----------
    initial_learning_rate : float
    decay_steps : int
    alpha : float, default 0.0
        The final rate as a fraction of the initial one.

    Examples
    --------
    >>> from numlstm import optimizers
    >>> schedule = optimizers.CosineDecay(0.1, decay_steps=100)
    >>> [round(schedule(step), 4) for step in (0, 50, 100, 200)]
    [0.1, 0.05, 0.0, 0.0]
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0):
        self.initial_learning_rate, self.decay_steps, self.alpha = float(initial_learning_rate), int(decay_steps), float(alpha)

    def get_config(self):
        """The constructor's arguments."""
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha}

    def __call__(self, step):
        cosine = 0.5 * (1 + math.cos(math.pi * min(step, self.decay_steps) / self.decay_steps))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)


class Optimizer:
    """Base class of the stochastic optimizers: gradient clipping, the learning rate, the step count.

    ``fit`` calls :meth:`build` once and :meth:`apply` every step. The
    clipping arguments are Keras' and every subclass takes them as keywords.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule
        Positive.
    clipnorm : float, optional
        Scale each weight array's gradient to an L2 norm of at most this.
    clipvalue : float, optional
        Clip every gradient element to [-clipvalue, clipvalue] (first).
    global_clipnorm : float, optional
        Scale all gradients together to a global L2 norm of at most this
        (not with ``clipnorm``).
    """

    name = None

    def __init__(self, learning_rate, clipnorm=None, clipvalue=None, global_clipnorm=None):
        owner = type(self).__name__
        if not isinstance(learning_rate, LearningRateSchedule):
            learning_rate = _real_argument(learning_rate, f"{owner}: learning_rate")
            if not learning_rate > 0:
                raise ValueError(f"{owner}: learning_rate must be positive or a schedule, got {learning_rate!r}")
        clipnorm, clipvalue, global_clipnorm = (
            _real_argument(value, f"{owner}: {argument}", optional=True)
            for argument, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue), ("global_clipnorm", global_clipnorm)))
        if clipnorm is not None and global_clipnorm is not None:
            raise ValueError(f"{owner}: pass clipnorm or global_clipnorm, not both")
        self.learning_rate = learning_rate
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.iterations = 0
        self._boundaries = None

    def get_config(self):
        """Constructor arguments (the learning rate may be a schedule object)."""
        names = [n for n in self.__init__.__code__.co_varnames[1:self.__init__.__code__.co_argcount]]
        config = {name: getattr(self, name) for name in names}
        config.update(clipnorm=self.clipnorm, clipvalue=self.clipvalue, global_clipnorm=self.global_clipnorm)
        return config

    def current_learning_rate(self):
        """The learning rate of the next step (Keras evaluates schedules at the step count)."""
        if isinstance(self.learning_rate, LearningRateSchedule):
            return float(self.learning_rate(self.iterations))
        return self.learning_rate

    def build(self, params, sizes=None):
        """Allocate the state for a flat parameter buffer made of arrays of ``sizes``, where ``params`` lives."""
        self._boundaries = np.cumsum([0] + list(sizes if sizes is not None else [params.size]))
        ops = backend.array_ops(params)
        for name, initial in self._state.items():
            setattr(self, name, ops.full_like(params, getattr(self, initial) if isinstance(initial, str) else initial))

    def move_to(self, ops):
        """Move the state to the backend ``ops`` (where the parameters just moved)."""
        for name in self._state:
            setattr(self, name, ops.from_host(backend.to_host(getattr(self, name))))

    def apply(self, params, grads):
        """Update ``params`` in place from ``grads`` (both flat, same dtype); clips ``grads`` in place."""
        ops = backend.array_ops(params)
        if self.clipvalue is not None:
            ops.clip_values(grads, float(self.clipvalue))
        if self.clipnorm is not None:
            ops.clip_segment_norms(grads, self._boundaries, float(self.clipnorm))
        if self.global_clipnorm is not None:
            # the norm of all gradients: one segment (kept on the device)
            ops.clip_segment_norms(grads, self._boundaries[[0, -1]], float(self.global_clipnorm))
        learning_rate = self.current_learning_rate()
        self.iterations += 1
        self._update(ops, params, grads, learning_rate)

    # name of each state array: its initial value, or the attribute that holds it
    _state = {}

    def variables(self):
        """The optimizer's state arrays (on the device of the parameters), for saving."""
        return [getattr(self, name) for name in self._state]


class SGD(Optimizer):
    """Stochastic gradient descent, with momentum and Nesterov momentum as Keras' ``SGD``.

    Without momentum ``w -= learning_rate * g``; with it
    ``v = momentum * v - learning_rate * g``, then ``w += v``, or with
    ``nesterov`` ``w += momentum * v - learning_rate * g``.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.01
    momentum : float, default 0.0
        In [0, 1].
    nesterov : bool, default False
    **clipping
        ``clipnorm``, ``clipvalue``, ``global_clipnorm``: see :class:`Optimizer`.

    Examples
    --------
    >>> from numlstm import optimizers
    >>> optimizer = optimizers.SGD(learning_rate=0.05, momentum=0.9, clipnorm=1.0)
    """

    name = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **clipping):
        super().__init__(learning_rate, **clipping)
        momentum = _real_argument(momentum, "SGD: momentum")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1], got {momentum!r}")
        self.momentum, self.nesterov = momentum, bool(nesterov)

    _state = {"velocity": 0.0}

    def _update(self, ops, params, grads, learning_rate):
        ops.sgd_update(params, grads, self.velocity, learning_rate, self.momentum, self.nesterov)


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015) with Keras' update rule.

    At step ``t`` (from 1): ``m = beta_1 * m + (1 - beta_1) * g``,
    ``v = beta_2 * v + (1 - beta_2) * g**2``, then
    ``w -= learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) + epsilon)``.
    A ``weight_decay`` above 0 first applies decoupled weight decay,
    ``w -= learning_rate * weight_decay * w`` (AdamW). ``amsgrad`` is not
    supported.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
    beta_1 : float, default 0.9
        The decay of the first-moment average ``m``.
    beta_2 : float, default 0.999
        The decay of the second-moment average ``v``.
    epsilon : float, default 1e-7
    weight_decay : float, default 0.0
        Decoupled weight decay (Keras' default, None, means 0).
    **clipping
        ``clipnorm``, ``clipvalue``, ``global_clipnorm``: see :class:`Optimizer`.
    """

    name = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.0, **clipping):
        super().__init__(learning_rate, **clipping)
        self.beta_1, self.beta_2, self.epsilon, self.weight_decay = (
            _real_argument(value, f"{type(self).__name__}: {argument}")
            for argument, value in (("beta_1", beta_1), ("beta_2", beta_2), ("epsilon", epsilon),
                                    ("weight_decay", weight_decay)))

    _state = {"m": 0.0, "v": 0.0}

    def _update(self, ops, params, grads, learning_rate):
        alpha = adam_step_size(learning_rate, self.beta_1, self.beta_2, self.iterations)
        ops.adam_update(params, grads, self.m, self.v, learning_rate, alpha, self.beta_1, self.beta_2,
                        self.epsilon, self.weight_decay)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019), as Keras' ``AdamW``.

    :class:`Adam` with a default ``weight_decay`` of 0.004, Keras'; note
    that ``weight_decay`` comes second here, as in Keras.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
    weight_decay : float, default 0.004
        Each step first does ``w -= learning_rate * weight_decay * w``.
    beta_1, beta_2 : float, default 0.9, 0.999
    epsilon : float, default 1e-7
    **clipping
        ``clipnorm``, ``clipvalue``, ``global_clipnorm``: see :class:`Optimizer`.
    """

    name = "adamw"

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 **clipping):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay, **clipping)


class RMSprop(Optimizer):
    """RMSprop with Keras' update rule, optionally centered and with momentum.

    ``v = rho * v + (1 - rho) * g**2`` and ``w -= learning_rate * g / sqrt(v + epsilon)``;
    ``centered`` subtracts the square of the average gradient,
    ``a = rho * a + (1 - rho) * g``, from ``v + epsilon``; a ``momentum``
    above 0 accumulates the increments, ``b = momentum * b + increment``,
    and subtracts ``b``.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
    rho : float, default 0.9
        The decay of the average of squared gradients.
    momentum : float, default 0.0
    epsilon : float, default 1e-7
    centered : bool, default False
    **clipping
        ``clipnorm``, ``clipvalue``, ``global_clipnorm``: see :class:`Optimizer`.
    """

    name = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **clipping):
        super().__init__(learning_rate, **clipping)
        self.rho, self.momentum, self.epsilon = (_real_argument(value, f"RMSprop: {argument}") for argument, value in
                                                 (("rho", rho), ("momentum", momentum), ("epsilon", epsilon)))
        self.centered = bool(centered)

    _state = {"velocity": 0.0, "average_grad": 0.0, "momentum_buffer": 0.0}

    def _update(self, ops, params, grads, learning_rate):
        ops.rmsprop_update(params, grads, self.velocity, self.average_grad, self.momentum_buffer, learning_rate,
                           self.rho, self.momentum, self.epsilon, self.centered)


class Adagrad(Optimizer):
    """Adagrad with Keras' update rule: ``a += g**2``, then ``w -= learning_rate * g / sqrt(a + epsilon)``.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
    initial_accumulator_value : float, default 0.1
        The starting value of every ``a``.
    epsilon : float, default 1e-7
    **clipping
        ``clipnorm``, ``clipvalue``, ``global_clipnorm``: see :class:`Optimizer`.
    """

    name = "adagrad"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **clipping):
        super().__init__(learning_rate, **clipping)
        self.initial_accumulator_value = _real_argument(initial_accumulator_value, "Adagrad: initial_accumulator_value")
        self.epsilon = _real_argument(epsilon, "Adagrad: epsilon")

    _state = {"accumulator": "initial_accumulator_value"}

    def _update(self, ops, params, grads, learning_rate):
        ops.adagrad_update(params, grads, self.accumulator, learning_rate, self.epsilon)


class LBFGS:
    """Full-batch L-BFGS through ``scipy.optimize.minimize(method="L-BFGS-B")``.

    With it, ``fit`` ignores ``batch_size`` and ``shuffle``: every iteration
    sees the whole training set, and an "epoch" is one L-BFGS iteration
    (``epochs`` caps them). Suited to small models and data sets, where it
    often reaches a much lower loss than stochastic optimizers.

    Parameters
    ----------
    maxcor : int, default 10
        The number of correction pairs the inverse Hessian approximation
        keeps (scipy's ``maxcor``).
    gtol : float, default 1e-7
        Stop when the largest gradient element is below this.
    ftol : float, default 1e-12
        Stop when the loss's relative reduction is below this.

    Examples
    --------
    >>> from numlstm import optimizers
    >>> optimizer = optimizers.LBFGS(maxcor=20)
    """

    name = "lbfgs"

    def __init__(self, maxcor=10, gtol=1e-7, ftol=1e-12):
        self.maxcor, self.gtol, self.ftol = int(maxcor), float(gtol), float(ftol)
        self.iterations = 0
        self.learning_rate = None

    def build(self, params, sizes=None):
        """Nothing to allocate: scipy keeps the state (the optimizer interface's ``build``)."""

    def move_to(self, ops):
        """Nothing to move (the optimizer interface's ``move_to``)."""

    def variables(self):
        """No state arrays: an empty list."""
        return []

    def get_config(self):
        """The constructor's arguments."""
        return {"maxcor": self.maxcor, "gtol": self.gtol, "ftol": self.ftol}


_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad, "lbfgs": LBFGS}


def get(identifier):
    """An optimizer from its name or an instance.

    Parameters
    ----------
    identifier : str or Optimizer or LBFGS
        ``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"``, ``"adagrad"`` or
        ``"lbfgs"`` (any case), with its default arguments; an instance
        is returned as it is.

    Returns
    -------
    Optimizer or LBFGS

    Examples
    --------
    >>> from numlstm import optimizers
    >>> optimizers.get("Adam").learning_rate
    0.001
    """
    if isinstance(identifier, (Optimizer, LBFGS)):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"unknown optimizer {identifier!r}; valid names: {', '.join(sorted(_BY_NAME))}")
