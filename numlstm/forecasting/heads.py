"""What a forecaster's network outputs and how it becomes a forecast: points, quantiles, a Gaussian or dropout samples.

Each method is one class with the same four parts: the output layers
after the LSTMs, the training loss, and the map from the network's output
(in scaled units) to quantile forecasts and to samples.
"""

import numpy as np
from scipy.special import ndtri

from .. import layers
from ..losses import GaussianNLL, QuantileLoss, gaussian_parameters

METHODS = ("point", "quantile", "normal", "mc_dropout")


class PointHead:
    """One value per step, trained on the mean squared error."""

    probabilistic = False

    def __init__(self, horizon, levels):
        self.horizon, self.levels = horizon, levels

    def output_layers(self):
        """The layers after the LSTMs."""
        return [layers.Dense(self.horizon)]

    def loss(self):
        """The training loss."""
        return "mse"


class QuantileHead(PointHead):
    """One value per step and quantile level, trained on the pinball loss, sorted so that they never cross."""

    probabilistic = True

    def output_layers(self):
        return [layers.Dense(self.horizon * len(self.levels)), layers.Reshape((self.horizon, len(self.levels)))]

    def loss(self):
        return QuantileLoss(self.levels)

    def quantiles(self, output):
        """(windows, horizon, levels) quantile forecasts from the network's output."""
        return np.sort(output, axis=-1)


class NormalHead(PointHead):
    """A Gaussian per step, its mean and scale trained on the negative log-likelihood (as DeepAR's head).

    The steps' distributions are independent given the window: samples of a
    whole path draw each step on its own.
    """

    probabilistic = True

    def output_layers(self):
        return [layers.Dense(self.horizon * 2), layers.Reshape((self.horizon, 2))]

    def loss(self):
        return GaussianNLL()

    def quantiles(self, output):
        mean, deviation = gaussian_parameters(output)
        return mean[..., None] + deviation[..., None] * ndtri(np.asarray(self.levels))

    def samples(self, output, count, rng):
        """(count, windows, horizon) draws of the forecast distributions."""
        mean, deviation = gaussian_parameters(output)
        return mean + deviation * rng.standard_normal((count,) + mean.shape)


class DropoutHead(PointHead):
    """Monte Carlo dropout (Gal and Ghahramani, 2016): a point network sampled with its dropout left on.

    The LSTMs drop recurrent connections and a Dropout layer drops their
    output, in training and in every forecast; the spread of ``samples``
    forecasts of one window stands for the model's uncertainty.
    """

    probabilistic = True

    def __init__(self, horizon, levels, dropout, samples):
        super().__init__(horizon, levels)
        self.dropout, self.sample_count = dropout, samples

    def output_layers(self):
        return [layers.Dropout(self.dropout), layers.Dense(self.horizon)]

    def quantiles_of_samples(self, samples):
        """(windows, horizon, levels) quantiles of (count, windows, horizon) samples."""
        return np.moveaxis(np.quantile(samples, self.levels, axis=0), 0, -1)


def make_head(method, horizon, levels, dropout, samples):
    """The head of ``method`` (one of ``METHODS``) for ``horizon`` steps and quantile ``levels``."""
    if method == "point":
        return PointHead(horizon, None)
    if method == "quantile":
        return QuantileHead(horizon, levels)
    if method == "normal":
        return NormalHead(horizon, levels)
    return DropoutHead(horizon, levels, dropout, samples)
