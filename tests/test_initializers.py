"""Initializers: Keras' formulas, seeds, and lookup by name."""

import numpy as np
import pytest

from numlstm import initializers, utils


def test_glorot_uniform_limit_and_spread():
    w = initializers.GlorotUniform(seed=1)((300, 500), "float64")
    limit = np.sqrt(6 / 800)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    assert abs(w.std() - limit / np.sqrt(3)) < 0.01 * limit


@pytest.mark.parametrize("shape", [(8, 32), (32, 8), (16, 16)])
def test_orthogonal_has_orthonormal_rows_or_columns(shape):
    w = initializers.Orthogonal(gain=2.0, seed=3)(shape, "float64")
    small = min(shape)
    gram = w.T @ w if shape[0] >= shape[1] else w @ w.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-12)


def test_seeded_initializers_repeat_and_global_seed_reproduces():
    a = initializers.RandomNormal(seed=7)((3, 4))
    np.testing.assert_array_equal(a, initializers.RandomNormal(seed=7)((3, 4)))
    utils.set_random_seed(11)
    first = initializers.GlorotUniform()((5, 6))
    utils.set_random_seed(11)
    np.testing.assert_array_equal(first, initializers.GlorotUniform()((5, 6)))


def test_constant_zeros_ones_and_dtype():
    assert initializers.Constant(2.5)((2,), "float64").tolist() == [2.5, 2.5]
    assert initializers.get("zeros")((3,), "float32").dtype == np.float32
    assert initializers.get("ones")((2, 2)).sum() == 4


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown initializer 'he_normal'; valid names: constant, glorot_uniform"):
        initializers.get("he_normal")


def test_bad_seed_is_a_type_error():
    with pytest.raises(TypeError, match="seed must be a non-negative int"):
        utils.set_random_seed(1.5)
