"""Optimizers: Keras' update rules step by step, clipping, and learning-rate schedules."""

import math

import numpy as np
import pytest

from numlstm import optimizers

rng = np.random.default_rng(4)


def test_adam_and_sgd_kernels_follow_keras_update_rules():
    params = rng.standard_normal(7)
    grads = rng.standard_normal(7)
    adam = optimizers.Adam(learning_rate=0.1)
    adam.build(params)
    p = params.copy()
    for step in (1, 2):
        adam.apply(p, grads)
    m = v = 0.0
    expected = params.copy()
    for step in (1, 2):
        m = 0.9 * m + 0.1 * grads
        v = 0.999 * v + 0.001 * grads**2
        alpha = 0.1 * np.sqrt(1 - 0.999**step) / (1 - 0.9**step)
        expected -= alpha * m / (np.sqrt(v) + 1e-7)
    np.testing.assert_allclose(p, expected, rtol=1e-12)

    sgd = optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True)
    sgd.build(params)
    p = params.copy()
    sgd.apply(p, grads)
    velocity = -0.1 * grads
    np.testing.assert_allclose(p, params + 0.9 * velocity - 0.1 * grads, rtol=1e-12)


def test_rmsprop_centered_with_momentum():
    params, grads = rng.standard_normal(5), rng.standard_normal(5)
    opt = optimizers.RMSprop(learning_rate=0.01, rho=0.8, momentum=0.5, centered=True)
    opt.build(params)
    p = params.copy()
    opt.apply(p, grads.copy())
    opt.apply(p, grads.copy())
    velocity = average = buffer = 0.0
    expected = params.copy()
    for _ in range(2):
        velocity = 0.8 * velocity + 0.2 * grads**2
        average = 0.8 * average + 0.2 * grads
        increment = 0.01 * grads / np.sqrt(velocity - average**2 + 1e-7)
        buffer = 0.5 * buffer + increment
        expected -= buffer
    np.testing.assert_allclose(p, expected, rtol=1e-12)


def test_adagrad():
    params, grads = rng.standard_normal(5), rng.standard_normal(5)
    opt = optimizers.Adagrad(learning_rate=0.1)
    opt.build(params)
    p = params.copy()
    opt.apply(p, grads.copy())
    np.testing.assert_allclose(p, params - 0.1 * grads / np.sqrt(0.1 + grads**2 + 1e-7), rtol=1e-12)


def test_clipping():
    grads = np.array([3.0, 4.0, 0.5, -10.0])
    opt = optimizers.SGD(learning_rate=1.0, clipnorm=1.0)
    opt.build(np.zeros(4), sizes=[2, 2])
    p = np.zeros(4)
    opt.apply(p, grads.copy())
    np.testing.assert_allclose(-p[:2], [0.6, 0.8])
    np.testing.assert_allclose(np.linalg.norm(p[2:]), 1.0)
    opt = optimizers.SGD(learning_rate=1.0, global_clipnorm=2.0)
    opt.build(np.zeros(4), sizes=[2, 2])
    p = np.zeros(4)
    opt.apply(p, grads.copy())
    np.testing.assert_allclose(-p, grads * 2.0 / np.linalg.norm(grads))
    opt = optimizers.SGD(learning_rate=1.0, clipvalue=1.0)
    opt.build(np.zeros(4))
    p = np.zeros(4)
    opt.apply(p, grads.copy())
    np.testing.assert_allclose(-p, [1.0, 1.0, 0.5, -1.0])
    with pytest.raises(ValueError, match="clipnorm or global_clipnorm, not both"):
        optimizers.SGD(clipnorm=1.0, global_clipnorm=1.0)


def test_schedules_drive_the_learning_rate():
    decay = optimizers.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert decay(5) == pytest.approx(0.1 * 0.5**0.5)
    assert optimizers.ExponentialDecay(0.1, 10, 0.5, staircase=True)(15) == pytest.approx(0.05)
    cosine = optimizers.CosineDecay(1.0, decay_steps=100, alpha=0.1)
    assert cosine(0) == pytest.approx(1.0) and cosine(100) == pytest.approx(0.1) and cosine(500) == pytest.approx(0.1)
    assert cosine(50) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 2)))
    opt = optimizers.SGD(learning_rate=decay)
    opt.build(np.zeros(1))
    p = np.zeros(1)
    for _ in range(3):
        opt.apply(p, np.ones(1))
    assert p[0] == pytest.approx(-(decay(0) + decay(1) + decay(2)))


def test_lbfgs_full_batch_fit():
    import numlstm
    from numlstm import layers

    numlstm.utils.set_random_seed(0)
    data = np.random.default_rng(0)
    x = data.uniform(-1, 1, (64, 10, 1))
    y = x.sum(axis=1) / 2
    model = numlstm.Sequential([layers.Input((10, 1)), layers.LSTM(4, dtype="float64"),
                                layers.Dense(1, dtype="float64")])
    model.compile("lbfgs", "mse")
    history = model.fit(x, y, epochs=60, verbose=0)
    assert 1 <= len(history.epoch) <= 60 and model.optimizer.iterations == len(history.epoch)
    assert history.history["loss"][-1] < 0.01 * np.var(y)
    assert model.evaluate(x, y) == pytest.approx(history.history["loss"][-1])
    with pytest.raises(ValueError, match="L-BFGS is full-batch"):
        model.train_on_batch(x, y)
