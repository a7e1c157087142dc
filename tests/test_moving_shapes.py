"""numlstm.datasets.moving_shapes: shapes and ranges, seeding, motion and bounces, arguments, a naive baseline.

The trajectory test recovers a lone square's centre from its pixels (its intensity-weighted centre of mass)
and checks it against a step-by-step simulation of elastic reflection written here, independent of the
module's closed-form fold.
"""

import time

import numpy as np
import pytest

from numlstm import datasets
from numlstm.datasets import moving_shapes


def centre_of_mass(frames):
    """(..., 2) row and column centre of mass of frames (..., size, size, 1), in the frame's [0, size] units."""
    image = frames[..., 0].astype(np.float64)
    grid = np.arange(image.shape[-1]) + 0.5
    mass = image.sum((-2, -1))
    return np.stack([(image.sum(-1) * grid).sum(-1) / mass, (image.sum(-2) * grid).sum(-1) / mass], -1)


def reflect_step_by_step(start, velocity, low, high, steps):
    """Positions of a point moving at ``velocity`` in [low, high], reflected at the ends, one step at a time;
    and how often each component's velocity flipped."""
    x, v = np.array(start, float), np.array(velocity, float)
    positions, flips = [x.copy()], np.zeros(len(x), int)
    for _ in range(steps - 1):
        x = x + v
        for axis in range(len(x)):
            while not low <= x[axis] <= high:  # a fast object may meet both walls in one step
                wall = high if x[axis] > high else low
                x[axis] = 2 * wall - x[axis]
                v[axis] = -v[axis]
                flips[axis] += 1
        positions.append(x.copy())
    return np.array(positions), flips


def test_exported_from_datasets():
    assert "moving_shapes" in datasets.__all__ and datasets.moving_shapes is moving_shapes


@pytest.mark.parametrize("size", [16, 32])
@pytest.mark.parametrize("dtype", ["float32", np.float64])
@pytest.mark.parametrize("antialias", [True, False])
def test_shape_dtype_and_range(size, dtype, antialias):
    videos = moving_shapes(40, timesteps=7, size=size, antialias=antialias, dtype=dtype)
    assert videos.shape == (40, 7, size, size, 1) and videos.dtype == np.dtype(dtype)
    assert videos.min() == 0 and videos.max() == 1
    assert np.isfinite(videos).all() and (videos >= 0).all() and (videos <= 1).all()
    if not antialias:
        assert set(np.unique(videos)) == {0, 1}
    else:
        assert ((videos > 0) & (videos < 1)).any(), "anti-aliased edges take values between 0 and 1"
    assert (videos.sum((2, 3, 4)) > 0).all(), "every frame shows something"


def test_empty_and_single():
    assert moving_shapes(0).shape == (0, 20, 16, 16, 1)
    assert moving_shapes(1, timesteps=1, size=4, object_size=4).shape == (1, 1, 4, 4, 1)
    frames, centres = moving_shapes(5, timesteps=3, objects=3, return_centres=True)
    assert frames.shape == (5, 3, 16, 16, 1) and centres.shape == (5, 3, 3, 2)


def test_deterministic_for_a_seed_and_different_across_seeds():
    a = moving_shapes(50, seed=7)
    np.testing.assert_array_equal(a, moving_shapes(50, seed=7))
    np.testing.assert_array_equal(a, moving_shapes(50, seed=np.random.default_rng(7)))
    assert not np.array_equal(a, moving_shapes(50, seed=8))
    assert not np.array_equal(moving_shapes(50), moving_shapes(50, seed=None))  # None: fresh entropy
    # Every sequence differs from the others.
    flat = a.reshape(len(a), -1)
    assert len(np.unique(flat, axis=0)) == len(a)


def test_first_sequences_and_frames_do_not_depend_on_how_many():
    many = moving_shapes(300, timesteps=25, seed=3)
    np.testing.assert_array_equal(moving_shapes(4, timesteps=25, seed=3), many[:4])
    np.testing.assert_array_equal(moving_shapes(300, timesteps=10, seed=3), many[:, :10])
    np.testing.assert_array_equal(moving_shapes(1, timesteps=5, seed=3), many[:1, :5])


def test_objects_move():
    videos = moving_shapes(200, objects=1)  # speeds of 1 to 2 pixels per frame by default at size 16
    changed = (videos[:, 1:] != videos[:, :-1]).any((2, 3, 4))
    assert changed.all(), "a lone object moving at least a pixel per frame changes every frame"
    videos = moving_shapes(200)
    assert (videos[:, 1:] != videos[:, :-1]).any((2, 3, 4)).mean() > 0.99
    static = moving_shapes(20, speed=0)
    np.testing.assert_array_equal(static, np.broadcast_to(static[:, :1], static.shape))


@pytest.mark.parametrize("seed", [1, 3, 8, 11])  # seeds whose first step meets no wall
def test_a_lone_square_bounces_elastically(seed):
    size, side, speed, steps = 16, 4, 1.7, 60
    frames = moving_shapes(1, timesteps=steps, size=size, shapes=("square",), objects=1, object_size=side,
                           speed=speed, seed=seed)[0]
    observed = centre_of_mass(frames)
    # Where the first step meets no wall, the first two frames give the velocity.
    start, velocity = observed[0], observed[1] - observed[0]
    assert np.hypot(*velocity) == pytest.approx(speed, abs=1e-4)
    low, high = side / 2, size - side / 2
    assert (low <= start).all() and (start <= high).all(), "fully inside the frame at t=0"
    expected, flips = reflect_step_by_step(start, velocity, low, high, steps)
    np.testing.assert_allclose(observed, expected, atol=1e-3)
    assert (flips >= 1).all(), "60 frames at 1.7 pixels per frame meet walls on both axes"
    # The area (the total intensity) never changes: the square is never cut by a wall.
    np.testing.assert_allclose(frames.sum((1, 2, 3)), side * side, rtol=1e-5)


def test_velocity_flips_at_the_walls_and_centres_stay_inside():
    size = 32
    frames, centres = moving_shapes(300, timesteps=40, size=size, shapes="square", objects=1, object_size=(2, 9),
                                    speed=(0.5, 3.0), seed=4, return_centres=True)
    observed = centre_of_mass(frames)
    np.testing.assert_allclose(observed, centres[:, :, 0], atol=1e-3)
    half = np.sqrt(frames[:, 0].sum((1, 2, 3)))[:, None, None] / 2  # a square's area is its side squared
    assert (observed >= half - 1e-4).all() and (observed <= size - half + 1e-4).all()
    step = np.diff(observed, axis=1)  # (n, steps - 1, 2)
    # Between bounces the velocity is constant; a sign change happens only at a wall, within one step of it
    # (of two consecutive steps at most one meets a wall, so the longer one is the full speed).
    turns = np.sign(step[:, 1:]) * np.sign(step[:, :-1]) < 0
    assert turns.sum() > 100
    at = observed[:, 1:-1]
    near_wall = np.minimum(at - half, size - half - at) <= np.maximum(abs(step[:, :-1]), abs(step[:, 1:])) + 1e-4
    assert near_wall[turns].all()
    straight = ~turns & (np.minimum(at - half, size - half - at) > np.abs(step[:, :-1]) + np.abs(step[:, 1:]))
    np.testing.assert_allclose(step[:, 1:][straight], step[:, :-1][straight], atol=1e-3)
    # Elastic: each axis keeps its speed through bounces. A step that meets no wall moves the full speed; a
    # shorter one meets a wall, so both its ends lie within a step of that wall.
    speed = np.abs(step)
    full = speed.max(axis=1, keepdims=True)
    short = speed < full - 1e-3
    distance = np.minimum(observed - half, size - half - observed)
    near = (distance[:, :-1] <= full + 1e-4) & (distance[:, 1:] <= full + 1e-4)
    assert short.any() and near[short].all()
    assert short.mean() < 0.1


def test_overlapping_objects_combine_by_maximum():
    size, side = 16, 5
    for antialias in (False, True):
        frames, centres = moving_shapes(30, timesteps=15, size=size, shapes="square", objects=3, object_size=side,
                                        antialias=antialias, seed=9, return_centres=True)
        grid = np.arange(size, dtype=float)
        lo, hi = centres[..., None] - side / 2, centres[..., None] + side / 2  # (n, t, objects, 2, size)
        if antialias:
            cover = np.clip(np.minimum(grid + 1, hi) - np.maximum(grid, lo), 0, 1)
        else:
            cover = ((grid + 0.5 >= lo) & (grid + 0.5 < hi)).astype(float)
        drawn = (cover[..., 0, :, None] * cover[..., 1, None, :]).max(axis=2)
        np.testing.assert_allclose(frames[..., 0], drawn, atol=1e-6)
        assert ((cover[..., 0, :, None] * cover[..., 1, None, :]).sum(2) > 1).any(), "some objects overlap"


def test_balls_are_discs():
    frames, centres = moving_shapes(50, timesteps=10, size=32, shapes=["ball"], objects=1, object_size=10,
                                    antialias=False, seed=2, return_centres=True)
    grid = np.arange(32) + 0.5
    d2 = (grid[:, None] - centres[..., 0, 0, None, None]) ** 2 + (grid[None, :] - centres[..., 0, 1, None, None]) ** 2
    np.testing.assert_array_equal(frames[..., 0], (d2 <= 25).astype(np.float32))
    soft = moving_shapes(50, timesteps=10, size=32, shapes=["ball"], objects=1, object_size=10, seed=2)
    np.testing.assert_allclose(centre_of_mass(soft), centres[:, :, 0], atol=0.1)
    np.testing.assert_allclose(soft.sum((2, 3, 4)), np.pi * 25, rtol=0.03)
    mixed = moving_shapes(400, shapes=("square", "ball"), objects=1, antialias=False, object_size=6, seed=1)
    lit = mixed[:, 0].sum((1, 2, 3))
    square = lit == 36  # a square of side 6 lights 6 x 6 pixels wherever it is; a disc of diameter 6 fewer
    assert 0.4 < square.mean() < 0.6 and ((20 <= lit[~square]) & (lit[~square] < 36)).all()


@pytest.mark.parametrize("kwargs,error,name", [
    ({"n_sequences": -1}, ValueError, "n_sequences"),
    ({"n_sequences": 2.0}, TypeError, "n_sequences"),
    ({"n_sequences": True}, TypeError, "n_sequences"),
    ({"timesteps": 0}, ValueError, "timesteps"),
    ({"size": 3}, ValueError, "size"),
    ({"size": "16"}, TypeError, "size"),
    ({"objects": 0}, ValueError, "objects"),
    ({"shapes": ()}, ValueError, "shapes"),
    ({"shapes": ("square", "triangle")}, ValueError, "shapes"),
    ({"shapes": 3}, TypeError, "shapes"),
    ({"object_size": 0}, ValueError, "object_size"),
    ({"object_size": 17}, ValueError, "object_size"),
    ({"object_size": (6, 3)}, ValueError, "object_size"),
    ({"object_size": (2, 3, 4)}, ValueError, "object_size"),
    ({"object_size": 2.5}, TypeError, "object_size"),
    ({"speed": -1.0}, ValueError, "speed"),
    ({"speed": (2.0, 1.0)}, ValueError, "speed"),
    ({"speed": float("nan")}, ValueError, "speed"),
    ({"speed": "fast"}, TypeError, "speed"),
    ({"antialias": "yes"}, TypeError, "antialias"),
    ({"dtype": "int32"}, ValueError, "dtype"),
    ({"dtype": "not a dtype"}, TypeError, "dtype"),
    ({"seed": "abc"}, TypeError, "seed"),
])
def test_bad_arguments_name_themselves(kwargs, error, name):
    arguments = {"n_sequences": 2, **kwargs}
    with pytest.raises(error, match=name):
        moving_shapes(**arguments)


def test_copy_last_frame_baseline():
    videos = moving_shapes(500, seed=5)
    last, target = videos[:, :-1], videos[:, 1:]
    mse = float(np.mean((target - last) ** 2))
    zeros = float(np.mean(target ** 2))
    assert 0 < mse < zeros, "copying the last frame is imperfect, but better than predicting a blank frame"
    assert float(np.mean((moving_shapes(500, seed=5, speed=0)[:, 1:] - moving_shapes(500, seed=5, speed=0)[:, :-1])
                         ** 2)) == 0
    fast = moving_shapes(500, seed=5, speed=(3.0, 4.0))
    assert float(np.mean((fast[:, 1:] - fast[:, :-1]) ** 2)) > mse, "faster objects are harder to copy"


def test_fast_enough():
    moving_shapes(10)
    best = min(_timed(lambda: moving_shapes(2000, timesteps=20, size=16)) for _ in range(3))
    assert best < 1.0, f"2,000 sequences of 20 frames at 16x16 took {best:.2f} s"


def _timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start
