"""Merging layers: several inputs, one output (Keras 3's Concatenate, Add, Multiply, Average)."""

from .. import backend
from .base import Backward, Layer


def _shape_list(input_shape, name):
    if not isinstance(input_shape, (list, tuple)) or not input_shape or not all(
            isinstance(shape, (list, tuple)) for shape in input_shape):
        raise ValueError(f"{name} must be called on a list of inputs, got input_shape={input_shape}")
    return [tuple(shape) for shape in input_shape]


def _agree(dims, what):
    """The one size that ``dims`` (ints or None) agree on, None when none is known; ValueError otherwise."""
    known = {d for d in dims if d is not None}
    if len(known) > 1:
        raise ValueError(what)
    return known.pop() if known else None


class _Merge(Layer):
    """Inputs of one shape merged elementwise; masks combined as Keras' ``Merge.compute_mask``."""

    def __init__(self, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype.name}

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        shapes = _shape_list(input_shape, self.name)
        if len({len(shape) for shape in shapes}) != 1:
            raise ValueError(f"{self.name}: inputs must have the same rank (no broadcasting), got {shapes}")
        message = f"{self.name}: inputs must have the same shape, got {shapes}"
        return tuple(_agree(dims, message) for dims in zip(*shapes))

    def compute_mask(self, inputs, mask=None):
        """None unless every input has a mask; then their logical or (Keras' rule)."""
        if mask is None:
            return None
        if not isinstance(mask, (list, tuple)) or len(mask) != len(inputs):
            raise ValueError(f"{self.name}: mask must be a list aligned with the inputs, got {mask!r}")
        if any(m is None for m in mask):
            return None
        ops = backend.array_ops(mask[0])
        combined = mask[0]
        for m in mask[1:]:
            combined = ops.logical_or(combined, m)
        return combined

    def _arrays(self, x):
        """``x``, a non-empty list, as arrays of the layer's dtype."""
        if not isinstance(x, (list, tuple)) or not x:
            raise ValueError(f"{self.name}: x must be a non-empty list of arrays, got {type(x).__name__}")
        return [self._as_input(item, f"x[{i}]") for i, item in enumerate(x)]

    def _inputs(self, x, mask):
        xs = self._arrays(x)
        shapes = [tuple(item.shape) for item in xs]
        if not self.built:
            self.build([(None,) + shape[1:] for shape in shapes])
        if len(set(shapes)) != 1:
            raise ValueError(f"{self.name}: inputs must have the same shape, got {shapes}")
        masks = [None] * len(xs) if mask is None else list(mask)
        if len(masks) != len(xs):
            raise ValueError(f"{self.name}: mask must be a list aligned with the inputs, got {len(masks)} masks "
                             f"for {len(xs)} inputs")
        return xs, masks, backend.array_ops(xs[0])


class Add(_Merge):
    """The elementwise sum of inputs of one shape: ``y = x_1 + x_2 + ...``.

    Parameters
    ----------
    name : str, optional
    dtype : str or numpy dtype, optional
        float32 (``floatx()``) by default, or float64.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import layers
    >>> layers.Add()([np.ones((2, 3)), np.ones((2, 3))]).shape
    (2, 3)
    """

    def forward(self, x, mask=None, training=False, initial_state=None):
        xs, _, ops = self._inputs(x, mask)
        return _sum(ops, xs), len(xs)

    def backward(self, cache, d_output, input_gradient=True):
        ops = backend.array_ops(d_output)
        d_output = ops.asarray(d_output, self.dtype)
        return Backward([d_output] * cache if input_gradient else None, [])


class Subtract(_Merge):
    """The difference of two inputs of one shape: ``y = x_1 - x_2``.

    Parameters
    ----------
    name : str, optional
    dtype : str or numpy dtype, optional
        float32 (``floatx()``) by default, or float64.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import layers
    >>> layers.Subtract()([np.ones((1, 2)), np.full((1, 2), 3.0)]).tolist()
    [[-2.0, -2.0]]
    """

    def forward(self, x, mask=None, training=False, initial_state=None):
        xs, _, ops = self._inputs(x, mask)
        if len(xs) != 2:
            raise ValueError(f"{self.name}: Subtract takes exactly two inputs, got {len(xs)}")
        return ops.add(xs[0], ops.scale(xs[1], -1.0)), None

    def backward(self, cache, d_output, input_gradient=True):
        ops = backend.array_ops(d_output)
        d_output = ops.asarray(d_output, self.dtype)
        return Backward([d_output, ops.scale(d_output, -1.0)] if input_gradient else None, [])


class Average(_Merge):
    """The elementwise mean of inputs of one shape: ``y = (x_1 + x_2 + ...) / n``.

    Parameters
    ----------
    name : str, optional
    dtype : str or numpy dtype, optional
        float32 (``floatx()``) by default, or float64.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import layers
    >>> layers.Average()([np.zeros((1, 2)), np.ones((1, 2))]).tolist()
    [[0.5, 0.5]]
    """

    def forward(self, x, mask=None, training=False, initial_state=None):
        xs, _, ops = self._inputs(x, mask)
        return ops.scale(_sum(ops, xs), 1.0 / len(xs)), len(xs)

    def backward(self, cache, d_output, input_gradient=True):
        ops = backend.array_ops(d_output)
        d_input = ops.scale(ops.asarray(d_output, self.dtype), 1.0 / cache)
        return Backward([d_input] * cache if input_gradient else None, [])


class Multiply(_Merge):
    """The elementwise product of inputs of one shape: ``y = x_1 * x_2 * ...``.

    With masks, as Keras: a masked step of an input counts as 1 in the
    product, and where every input has a mask, the steps that all of them
    mask come out 0.

    Parameters
    ----------
    name : str, optional
    dtype : str or numpy dtype, optional
        float32 (``floatx()``) by default, or float64.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import layers
    >>> layers.Multiply()([np.full((1, 2), 2.0), np.full((1, 2), 3.0)]).tolist()
    [[6.0, 6.0]]
    """

    def forward(self, x, mask=None, training=False, initial_state=None):
        xs, masks, ops = self._inputs(x, mask)
        factors = [item if m is None else ops.where_mask(item, m, 1) for item, m in zip(xs, masks)]
        output = factors[0]
        for factor in factors[1:]:
            output = ops.multiply(output, factor)
        keep = self.compute_mask(xs, masks) if all(m is not None for m in masks) else None
        if keep is not None:
            output = ops.where_mask(output, keep, 0)
        return output, (factors, masks, keep)

    def backward(self, cache, d_output, input_gradient=True):
        factors, masks, keep = cache
        if not input_gradient:
            return Backward(None, [])
        ops = backend.array_ops(factors[0])
        d_output = ops.asarray(d_output, self.dtype)
        if keep is not None:
            d_output = ops.where_mask(d_output, keep, 0)
        d_inputs = []
        for i, m in enumerate(masks):
            d = d_output
            for j, factor in enumerate(factors):
                if j != i:
                    d = ops.multiply(d, factor)
            d_inputs.append(d if m is None else ops.where_mask(d, m, 0))
        return Backward(d_inputs, [])


class Concatenate(_Merge):
    """Inputs joined along ``axis``; they agree on every other axis.

    Parameters
    ----------
    axis : int, default -1
        The axis to join along (the features by default).
    name : str, optional
    dtype : str or numpy dtype, optional
        float32 (``floatx()``) by default, or float64.

    Notes
    -----
    Masks, as Keras: none when no input has one; joined along ``axis`` when
    it is the batch or time axis (an input without a mask counts as all
    kept); otherwise their logical or, all True where an input has none.

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm import layers
    >>> layers.Concatenate()([np.ones((2, 5, 3)), np.ones((2, 5, 4))]).shape
    (2, 5, 7)
    """

    def __init__(self, axis=-1, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"{self.name}: axis must be an int, got {axis!r}")
        self.axis = axis

    def get_config(self):
        return {"axis": self.axis, **super().get_config()}

    def _axis(self, ndim):
        if not -ndim <= self.axis < ndim:
            raise ValueError(f"{self.name}: axis {self.axis} is out of range for inputs of rank {ndim}")
        return self.axis % ndim

    def compute_output_shape(self, input_shape):
        shapes = _shape_list(input_shape, self.name)
        if len({len(shape) for shape in shapes}) != 1:
            raise ValueError(f"{self.name}: inputs must have the same rank, got {shapes}")
        axis = self._axis(len(shapes[0]))
        message = f"{self.name}: inputs must have the same shape except on axis {self.axis}, got {shapes}"
        output = [None if i == axis else _agree(dims, message) for i, dims in enumerate(zip(*shapes))]
        sizes = [shape[axis] for shape in shapes]
        output[axis] = None if None in sizes else sum(sizes)
        return tuple(output)

    def compute_mask(self, inputs, mask=None):
        if mask is None or all(m is None for m in mask):
            return None
        if not isinstance(mask, (list, tuple)) or len(mask) != len(inputs):
            raise ValueError(f"{self.name}: mask must be a list aligned with the inputs, got {mask!r}")
        ops = backend.array_ops(next(m for m in mask if m is not None))
        mask_ndim = len(tuple(next(m for m in mask if m is not None).shape))
        shapes = [tuple(item.shape) for item in inputs]
        axis = self._axis(len(shapes[0]))
        if axis >= mask_ndim:
            if any(m is None for m in mask):
                return ops.mask_ones(shapes[0][:mask_ndim])
            return _Merge.compute_mask(self, inputs, mask)
        full = [ops.mask_ones(shape[:mask_ndim]) if m is None else ops.local(m) for m, shape in zip(mask, shapes)]
        return ops.concat_axis(full, axis)

    def _inputs(self, x, mask):
        xs = self._arrays(x)
        shapes = [tuple(item.shape) for item in xs]
        self.compute_output_shape(shapes)  # raises for shapes that do not fit together
        self.built = True
        return xs, shapes, backend.array_ops(xs[0])

    def forward(self, x, mask=None, training=False, initial_state=None):
        xs, shapes, ops = self._inputs(x, mask)
        axis = self._axis(len(shapes[0]))
        return ops.concat_axis(xs, axis), (axis, [shape[axis] for shape in shapes])

    def backward(self, cache, d_output, input_gradient=True):
        if not input_gradient:
            return Backward(None, [])
        axis, sizes = cache
        ops = backend.array_ops(d_output)
        return Backward(ops.split_axis(ops.asarray(d_output, self.dtype), sizes, axis), [])


def _sum(ops, xs):
    """The elementwise sum of the arrays ``xs``, in their order."""
    total = xs[0]
    for item in xs[1:]:
        total = ops.add(total, item)
    return total


def _functional_form(layer_class):
    """Keras' lowercase function for a merging layer: ``add(inputs, **kwargs)`` is ``Add(**kwargs)(inputs)``."""
    def merge(inputs, **kwargs):
        return layer_class(**kwargs)(inputs)

    merge.__name__ = merge.__qualname__ = layer_class.__name__.lower()
    merge.__doc__ = f"""``{layer_class.__name__}(**kwargs)(inputs)``: Keras' functional form.

    Parameters
    ----------
    inputs : list of tensors or arrays
    **kwargs
        ``{layer_class.__name__}``'s arguments (``name``, ``dtype``).
    """
    return merge


add, subtract, multiply, average = (_functional_form(cls) for cls in (Add, Subtract, Multiply, Average))


def concatenate(inputs, axis=-1, **kwargs):
    """``Concatenate(axis, **kwargs)(inputs)``: Keras' functional form.

    Parameters
    ----------
    inputs : list of tensors or arrays
    axis : int
    **kwargs
        ``Concatenate``'s other arguments (``name``, ``dtype``).
    """
    return Concatenate(axis=axis, **kwargs)(inputs)
