"""Where the taps of a convolution read: gather tables shared by the CPU and CUDA ConvLSTM kernels.

A convolution over a grid of any rank is, for every output position ``p``
and kernel tap ``k``, a read of input position ``table[p, k]`` (or of a zero
where the tap falls in the padding, ``-1``). The kernels take such tables and
never see the rank: the same code runs ConvLSTM1D and ConvLSTM2D. Positions
and taps are numbered in row-major order, so that a patch laid out as
``[tap, channel]`` meets a Keras kernel of shape ``kernel_size + (channels,
filters)`` reshaped to ``(taps * channels, filters)``.

The gradient of a convolution with respect to its input is a gather as well:
``inverse[q, k]`` is the output position whose tap ``k`` reads input
position ``q`` (or ``-1``). For a fixed tap the map from output to input
positions is one to one (strides and dilation only spread it), so the
inverse is well defined and lets the backward pass sum into every input
position from one thread, without atomics.

Padding follows Keras 3: ``"valid"`` none, ``"same"`` ``ceil(size /
stride)`` outputs with the zeros split evenly, the odd one after.
"""

import math

import numpy as np

PADDINGS = ("valid", "same")


def output_size(size, kernel, stride, dilation, padding):
    """The output length along one axis of ``size`` input positions."""
    extent = (kernel - 1) * dilation + 1
    if padding == "same":
        return -(-size // stride)
    return (size - extent) // stride + 1


def leading_padding(size, kernel, stride, dilation, padding):
    """The zeros before the first input position along one axis ("same": the smaller half)."""
    if padding != "same":
        return 0
    extent = (kernel - 1) * dilation + 1
    total = max((output_size(size, kernel, stride, dilation, padding) - 1) * stride + extent - size, 0)
    return total // 2


def gather_table(input_shape, kernel_size, strides, dilation_rate, padding):
    """The output grid's shape and the table of the input position each (output position, tap) reads.

    Parameters
    ----------
    input_shape, kernel_size, strides, dilation_rate : tuples of ints, one per spatial axis
    padding : {"valid", "same"}

    Returns
    -------
    output_shape : tuple of ints
    table : int32 array (prod(output_shape), prod(kernel_size))
        Row-major input position, or -1 in the padding.
    """
    axes = list(zip(input_shape, kernel_size, strides, dilation_rate))
    output_shape = tuple(output_size(n, k, s, d, padding) for n, k, s, d in axes)
    if min(output_shape) < 1:
        raise ValueError(f"a kernel of size {tuple(kernel_size)} at dilation {tuple(dilation_rate)} with padding "
                         f"{padding!r} leaves no output position on an input of spatial shape {tuple(input_shape)}")
    # Per axis: (outputs, taps) source coordinates, -1 outside the input.
    coordinates = []
    for (n, k, s, d), outputs in zip(axes, output_shape):
        before = leading_padding(n, k, s, d, padding)
        source = np.arange(outputs)[:, None] * s + np.arange(k)[None, :] * d - before
        coordinates.append(np.where((source >= 0) & (source < n), source, -1))
    rank = len(axes)
    flat = np.zeros(output_shape + tuple(kernel_size), np.int64)
    inside = np.ones(flat.shape, bool)
    for axis, source in enumerate(coordinates):
        shape = [1] * (2 * rank)
        shape[axis], shape[rank + axis] = source.shape
        source = source.reshape(shape)
        flat = flat * input_shape[axis] + source
        inside &= source >= 0
    table = np.where(inside, flat, -1).reshape(math.prod(output_shape), math.prod(kernel_size)).astype(np.int32)
    return output_shape, table


def inverse_table(table, input_positions):
    """For each input position and tap, the output position that reads it through that tap, or -1."""
    inverse = np.full((input_positions, table.shape[1]), -1, np.int32)
    outputs, taps = np.nonzero(table >= 0)
    inverse[table[outputs, taps], taps] = outputs
    return inverse
