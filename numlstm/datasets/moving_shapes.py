"""Procedural videos of squares and discs bouncing in a box, for next-frame prediction (ConvLSTM).

A seeded, dependency-free stand-in for Moving MNIST (Srivastava et al. 2015, used by Shi et al. 2015 for
ConvLSTM): each sequence shows a few filled shapes that move with constant velocity and bounce elastically
off the walls. Nothing is downloaded; the videos are computed, vectorised over sequences, frames and
objects, from a closed-form trajectory.
"""

import numbers
import operator

import numpy as np

__all__ = ["moving_shapes"]

SHAPES = ("square", "ball")

# Uniform draws per object, in this order: shape, side, row, column, direction, speed.
_DRAWS = 6


def _integer(value, name, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
    value = operator.index(value)
    if value < low:
        raise ValueError(f"{name} must be at least {low}, not {value}")
    return value


def _range(value, name, kind):
    """(low, high) from a number or a pair of numbers; ``kind`` is numbers.Integral or numbers.Real."""
    pair = value if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2:
        raise ValueError(f"{name} must be a number or a (low, high) pair, not {value!r}")
    for v in pair:
        if isinstance(v, bool) or not isinstance(v, kind):
            what = "an integer" if kind is numbers.Integral else "a real number"
            raise TypeError(f"{name} must be {what} or a (low, high) pair of them, not {value!r}")
    low, high = pair
    if not (np.isfinite(low) and np.isfinite(high)) or low > high:
        raise ValueError(f"{name} must be finite with low <= high, not {value!r}")
    return low, high


def _fold(x, low, high):
    """``x`` reflected into [low, high] (elastic bounces off both ends): a triangle wave of period 2 (high - low)."""
    span = high - low
    safe = np.where(span > 0, span, 1.0)
    u = np.mod(x - low, 2 * safe)
    return np.where(span > 0, low + np.minimum(u, 2 * safe - u), low)


def moving_shapes(n_sequences, timesteps=20, size=16, *, shapes=SHAPES, objects=2, object_size=None, speed=None,
                  antialias=True, seed=0, dtype="float32", return_centres=False):
    """Videos of filled squares and discs moving at constant velocity and bouncing off the walls.

    Each sequence has ``objects`` shapes, each drawn independently: its kind (uniformly from ``shapes``), its
    side or diameter (``object_size``), its starting centre (uniform over the positions where it lies fully
    inside the frame), its direction (uniform angle) and its speed (``speed``, pixels per frame). An object
    moves in a straight line and bounces elastically when its edge meets a wall (the velocity component
    normal to that wall flips), so it stays fully inside the frame at every step. Objects pass through each
    other; where they overlap the brighter pixel wins (their maximum). Pixels are 0 (background) to 1.

    Geometry: the frame spans [0, size] along each axis; pixel ``(i, j)`` covers [i, i+1] x [j, j+1] (row,
    column). With ``antialias`` (the default) a pixel's value is the fraction of it the object covers, exact
    for squares (so a lone square's intensity-weighted centre of mass, taken at the pixel centres, is its
    true centre, its sides being whole pixels) and, for discs, ``clip(r + 0.5 - d, 0, 1)`` with ``d`` the
    distance from the pixel's centre to the disc's (a one-pixel linear ramp at the rim). Without it, a pixel
    is 1 where its centre lies inside the object (a square's half-open ``[c - s/2, c + s/2)`` per axis, a
    disc's ``d <= r``) and 0 elsewhere.

    Reproducibility: one seed gives the same videos on a machine, and the same random draws (numpy's
    default ``PCG64``) everywhere; across platforms the frames may differ by floating-point rounding
    (``sin``, ``cos``, ``sqrt``). All the random draws are made in one block, one row per sequence, so the
    first ``k`` sequences do not depend on ``n_sequences``; the trajectories are computed in closed form, so
    the first frames do not depend on ``timesteps`` either. (They do depend on ``size``, ``shapes``,
    ``objects``, ``object_size`` and ``speed``.)

    Parameters
    ----------
    n_sequences : int
        How many videos (0 or more).
    timesteps : int, default 20
        Frames per video (1 or more).
    size : int, default 16
        Height and width of a frame in pixels (4 or more; 16, 32 and 64 are typical).
    shapes : sequence of {"square", "ball"} or str, default ("square", "ball")
        The kinds an object is drawn from, uniformly; a name may repeat to weight it.
    objects : int, default 2
        Objects per video (1 or more).
    object_size : int or (int, int), optional
        An object's side (square) or diameter (ball) in pixels, or an inclusive range of integers to draw it
        from per object; between 1 and ``size``. Default ``max(2, size // 4)`` (4 pixels at size 16).
    speed : float or (float, float), optional
        An object's speed in pixels per frame, or a range to draw it from uniformly per object; 0 or more.
        Default ``(size / 16, size / 8)`` (1 to 2 pixels per frame at size 16).
    antialias : bool, default True
        Area-coverage (soft) edges; False draws hard 0/1 edges.
    seed : int, numpy.random.SeedSequence or numpy.random.Generator, default 0
        What ``numpy.random.default_rng`` takes; a Generator is drawn from (and advanced). None gives
        different videos every call.
    dtype : str or numpy.dtype, default "float32"
        A floating-point dtype for the frames.
    return_centres : bool, default False
        Also return the objects' centres.

    Returns
    -------
    frames : numpy.ndarray, shape (n_sequences, timesteps, size, size, 1)
        Values in [0, 1], channels last (the layout Keras' ``ConvLSTM2D`` takes).
    centres : numpy.ndarray of float64, shape (n_sequences, timesteps, objects, 2)
        Only with ``return_centres``: each object's centre (row, column) in pixel units, on the frame's
        [0, size] axes.

    Raises
    ------
    TypeError
        An argument of the wrong type (the message names it).
    ValueError
        An argument out of its range, an unknown shape or a non-floating ``dtype`` (the message names it).

    Examples
    --------
    >>> import numpy as np
    >>> from numlstm.datasets import moving_shapes
    >>> videos = moving_shapes(100, timesteps=12, size=16, seed=1)
    >>> videos.shape, videos.dtype
    ((100, 12, 16, 16, 1), dtype('float32'))
    >>> bool(videos.min() >= 0.0 and videos.max() <= 1.0)
    True
    >>> x, y = videos[:, :-1], videos[:, 1:]  # next-frame prediction: predict y from x
    >>> bool(np.array_equal(moving_shapes(3, timesteps=12, seed=1), videos[:3]))
    True
    """
    n_sequences = _integer(n_sequences, "n_sequences", 0)
    timesteps = _integer(timesteps, "timesteps", 1)
    size = _integer(size, "size", 4)
    objects = _integer(objects, "objects", 1)
    if isinstance(shapes, str):
        shapes = (shapes,)
    try:
        shapes = tuple(shapes)
    except TypeError:
        raise TypeError(f"shapes must be a sequence of names from {SHAPES}, not {shapes!r}") from None
    if not shapes:
        raise ValueError("shapes must name at least one shape")
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        raise ValueError(f"shapes: unknown shape(s) {unknown!r}; the shapes are {', '.join(SHAPES)}")
    low_size, high_size = _range(max(2, size // 4) if object_size is None else object_size, "object_size",
                                 numbers.Integral)
    if low_size < 1 or high_size > size:
        raise ValueError(f"object_size must lie between 1 and size ({size}), not {object_size!r}")
    low_speed, high_speed = _range((size / 16, size / 8) if speed is None else speed, "speed", numbers.Real)
    if low_speed < 0:
        raise ValueError(f"speed must be 0 or more, not {speed!r}")
    if not isinstance(antialias, (bool, np.bool_)):
        raise TypeError(f"antialias must be True or False, not {antialias!r}")
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be a numpy floating-point dtype, not {dtype!r}") from None
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"dtype must be a floating-point dtype, not {dtype}")
    try:
        rng = np.random.default_rng(seed)
    except (TypeError, ValueError):
        raise TypeError(f"seed must be an int, a SeedSequence, a Generator or None, not {seed!r}") from None

    # One block of draws, one row per sequence: the first rows do not depend on n_sequences.
    u = rng.random((n_sequences, objects, _DRAWS))
    kind = np.minimum((u[..., 0] * len(shapes)).astype(np.intp), len(shapes) - 1)
    is_ball = np.array([s == "ball" for s in shapes])[kind]  # (n, objects)
    side = np.minimum(low_size + np.floor(u[..., 1] * (high_size - low_size + 1)), high_size)
    half = side / 2
    start = half[..., None] + u[..., 2:4] * (size - side)[..., None]  # (n, objects, 2): row, column
    angle = 2 * np.pi * u[..., 4]
    velocity = (low_speed + (high_speed - low_speed) * u[..., 5])[..., None] * np.stack([np.sin(angle),
                                                                                         np.cos(angle)], -1)
    t = np.arange(timesteps, dtype=np.float64)[:, None, None]
    centres = _fold(start[:, None] + velocity[:, None] * t, half[:, None, :, None],
                    (size - half)[:, None, :, None])  # (n, timesteps, objects, 2)

    frames = np.zeros((n_sequences, timesteps, size, size, 1), dtype)
    # Blocks of sequences whose temporaries (one object's frames) stay near 2 MiB, in cache.
    block = max(1, (1 << 21) // (timesteps * size * size * dtype.itemsize))
    for first in range(0, n_sequences, block):
        last = min(first + block, n_sequences)
        _draw(frames[first:last, ..., 0], centres[first:last], half[first:last], is_ball[first:last], antialias)
    if return_centres:
        return frames, centres
    return frames


def _draw(image, centres, half, is_ball, antialias):
    """Draw the objects at ``centres`` (m, timesteps, objects, 2) into ``image`` (m, timesteps, size, size),
    combining them by maximum."""
    dtype = image.dtype
    grid = np.arange(image.shape[-1], dtype=np.float64)
    for k in range(centres.shape[2]):
        for ball in (False, True):
            rows = np.flatnonzero(is_ball[:, k] == ball)
            if rows.size == 0:
                continue
            everything = rows.size == len(image)
            c = centres[:, :, k] if everything else centres[rows, :, k]  # (r, timesteps, 2)
            h = half[rows, k][:, None, None]  # broadcasts against (r, timesteps, size)
            cy, cx = c[..., 0, None], c[..., 1, None]
            if ball:
                dy2 = ((grid + 0.5 - cy) ** 2).astype(dtype)
                dx2 = ((grid + 0.5 - cx) ** 2).astype(dtype)
                distance = np.sqrt(dy2[..., :, None] + dx2[..., None, :])
                radius = h[..., None].astype(dtype)
                if antialias:
                    shape = np.clip(radius + dtype.type(0.5) - distance, 0, 1, out=distance)
                else:
                    shape = (distance <= radius).astype(dtype)
            else:
                if antialias:
                    ry = np.clip(np.minimum(grid + 1, cy + h) - np.maximum(grid, cy - h), 0, 1).astype(dtype)
                    rx = np.clip(np.minimum(grid + 1, cx + h) - np.maximum(grid, cx - h), 0, 1).astype(dtype)
                else:
                    ry = ((grid + 0.5 >= cy - h) & (grid + 0.5 < cy + h)).astype(dtype)
                    rx = ((grid + 0.5 >= cx - h) & (grid + 0.5 < cx + h)).astype(dtype)
                shape = ry[..., :, None] * rx[..., None, :]
            if everything:
                np.maximum(image, shape, out=image)
            else:
                image[rows] = np.maximum(image[rows], shape)
