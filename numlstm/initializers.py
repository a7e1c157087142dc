"""Weight initializers with Keras 3's names, defaults and formulas.

Each is a callable ``initializer(shape, dtype) -> ndarray``. Those that draw
random numbers take an optional ``seed``; without one they draw from the
generator that ``numlstm.utils.set_random_seed`` seeds.
"""

import math

import numpy as np

from . import utils


def _generator(seed):
    return utils.global_generator() if seed is None else np.random.default_rng(seed)


def _fans(shape):
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class of initializers: ``initializer(shape, dtype)`` returns a new array of initial weights.

    Subclasses implement ``__call__`` and, when they take arguments,
    ``get_config``. Wherever numlstm takes an initializer, any
    ``callable(shape, dtype)`` also works.
    """

    def __call__(self, shape, dtype="float32"):
        raise NotImplementedError

    def get_config(self):
        """The constructor's arguments, which rebuild the initializer."""
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    """Initializes to 0.

    Examples
    --------
    >>> from numlstm import initializers
    >>> initializers.Zeros()((2,)).tolist()
    [0.0, 0.0]
    """

    def __call__(self, shape, dtype="float32"):
        return np.zeros(shape, dtype)


class Ones(Initializer):
    """Initializes to 1."""

    def __call__(self, shape, dtype="float32"):
        return np.ones(shape, dtype)


class Constant(Initializer):
    """Initializes to a constant ``value``.

    Parameters
    ----------
    value : float, default 0.0

    Examples
    --------
    >>> from numlstm import initializers
    >>> initializers.Constant(0.5)((2, 2)).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """

    def __init__(self, value=0.0):
        self.value = float(value)

    def __call__(self, shape, dtype="float32"):
        return np.full(shape, self.value, dtype)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    """Draws from a normal distribution of ``mean`` and ``stddev``.

    Parameters
    ----------
    mean : float, default 0.0
    stddev : float, default 0.05
    seed : int, optional
        Every call with a seed draws the same values; without one, the
        global generator (:func:`numlstm.utils.set_random_seed`) draws.
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = float(mean), float(stddev), seed

    def __call__(self, shape, dtype="float32"):
        return _generator(self.seed).normal(self.mean, self.stddev, shape).astype(dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    """Draws uniformly from [``minval``, ``maxval``).

    Parameters
    ----------
    minval : float, default -0.05
    maxval : float, default 0.05
    seed : int, optional
        Every call with a seed draws the same values; without one, the
        global generator (:func:`numlstm.utils.set_random_seed`) draws.
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = float(minval), float(maxval), seed

    def __call__(self, shape, dtype="float32"):
        return _generator(self.seed).uniform(self.minval, self.maxval, shape).astype(dtype)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class GlorotUniform(Initializer):
    """Glorot (Xavier) uniform: uniform on [-limit, limit], limit = sqrt(6 / (fan_in + fan_out)).

    For a (fan_in, fan_out) matrix; a shape of more axes multiplies both
    fans by the product of its leading axes (a convolution's window), as
    Keras.

    Parameters
    ----------
    seed : int, optional
        Every call with a seed draws the same values; without one, the
        global generator (:func:`numlstm.utils.set_random_seed`) draws.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import initializers
    >>> w = initializers.GlorotUniform(seed=0)((20, 4))
    >>> bool(np.abs(w).max() <= np.sqrt(6 / 24))
    True
    """

    def __init__(self, seed=None):
        self.seed = seed

    def __call__(self, shape, dtype="float32"):
        fan_in, fan_out = _fans(shape)
        limit = math.sqrt(6.0 / max(1.0, fan_in + fan_out))
        return _generator(self.seed).uniform(-limit, limit, shape).astype(dtype)

    def get_config(self):
        return {"seed": self.seed}


class Orthogonal(Initializer):
    """An orthogonal matrix (QR of a normal matrix, signs fixed), times ``gain``.

    As in Keras, a shape is flattened to (prod(shape[:-1]), shape[-1]) and
    the wider side gets orthonormal rows or columns.

    Parameters
    ----------
    gain : float, default 1.0
    seed : int, optional
        Every call with a seed draws the same values; without one, the
        global generator (:func:`numlstm.utils.set_random_seed`) draws.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import initializers
    >>> q = initializers.Orthogonal(seed=0)((4, 4), "float64")
    >>> bool(np.allclose(q @ q.T, np.eye(4)))
    True
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain, self.seed = float(gain), seed

    def __call__(self, shape, dtype="float32"):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal needs a shape of rank 2 or more, got {tuple(shape)}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        flat = _generator(self.seed).normal(0.0, 1.0, (max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(flat)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q).reshape(shape).astype(dtype)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


_BY_NAME = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
    "random_uniform": RandomUniform, "glorot_uniform": GlorotUniform, "orthogonal": Orthogonal,
}


def get(identifier):
    """An initializer from its name (as in Keras), an instance, or any callable(shape, dtype).

    Parameters
    ----------
    identifier : str or Initializer or callable
        ``"zeros"``, ``"ones"``, ``"constant"``, ``"random_normal"``,
        ``"random_uniform"``, ``"glorot_uniform"`` or ``"orthogonal"``, with
        its default arguments; an instance or callable is returned as it is.

    Returns
    -------
    Initializer or callable

    Examples
    --------
    >>> from numlstm import initializers
    >>> initializers.get("orthogonal")
    Orthogonal(gain=1.0, seed=None)
    """
    if isinstance(identifier, Initializer) or (callable(identifier) and not isinstance(identifier, type)):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    raise ValueError(f"unknown initializer {identifier!r}; valid names: {', '.join(sorted(_BY_NAME))}, "
                     "an instance of numlstm.initializers.Initializer, or a callable(shape, dtype)")
