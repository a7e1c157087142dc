"""Plots of training curves and forecasts (the optional ``plot`` extra: matplotlib).

matplotlib is imported inside the functions, with its file-only Agg
backend, so that numlstm imports and runs without it and without a display.
"""

import numpy as np


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError('plotting needs matplotlib: pip install "numlstm[plot]"') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def matplotlib_available():
    """True when matplotlib (the ``plot`` extra) can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def plot_history(history, path, title="Training"):
    """Loss and validation loss per epoch (log scale) from ``fit``'s History, saved as an image at ``path``.

    The best validation epoch is circled.

    Parameters
    ----------
    history : History or dict
        What ``fit`` returns, or its ``history`` dict (``"loss"`` and
        optionally ``"val_loss"``: one value per epoch).
    path : str or path
        Where the image is written (the format follows the extension).
    title : str, default "Training"
    """
    plt = _pyplot()
    curves = history.history if hasattr(history, "history") else history
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    for key, label in (("loss", "training loss"), ("val_loss", "validation loss")):
        if key in curves:
            epochs = np.arange(1, len(curves[key]) + 1)
            ax.plot(epochs, curves[key], marker="o", markersize=3, label=label)
    if curves.get("val_loss"):
        best = int(np.argmin(curves["val_loss"]))
        ax.plot(best + 1, curves["val_loss"][best], "o", markersize=9, markerfacecolor="none", color="0.2",
                label=f"best validation (epoch {best + 1})")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_forecast(time, actual, forecasts, path, boundaries=(), title="Forecast", units="",
                  context_start=None, bands=None):
    """A series against forecasts of it, with the train/validation/test boundaries marked.

    Parameters
    ----------
    time : array (steps,)
        Time stamps (datetime64 or numbers) of ``actual``.
    actual : array (steps,)
    forecasts : dict of label -> (time array, values array)
        Each forecast drawn over its own time stamps; 2-D arrays (one row
        per forecast origin) are drawn as separate segments.
    path : str or path
        Where the image is written (the format follows the extension).
    boundaries : sequence of (label, time)
        Vertical lines, for example where validation and test begin.
    title : str, default "Forecast"
    units : str, default ""
        The y axis's label.
    context_start : time, optional
        First time shown (the default shows the whole series).
    bands : dict of label -> (time array, lower array, upper array), optional
        Prediction intervals shaded between their bounds, in the colour of
        the forecast of the same position in ``forecasts``; 2-D arrays (one
        row per origin) shade one band per origin.
    """
    plt = _pyplot()
    time = np.asarray(time)
    fig, ax = plt.subplots(figsize=(10, 4.5), layout="constrained")
    shown = slice(None) if context_start is None else time >= context_start
    ax.plot(time[shown], np.asarray(actual)[shown], color="0.25", linewidth=1.0, label="actual")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for colour, (label, (stamps, values)) in zip(colours, forecasts.items()):
        stamps, values = np.asarray(stamps), np.asarray(values, dtype=float)
        if values.ndim == 2:  # a NaN after each segment keeps the segments apart
            stamps = np.hstack([stamps, stamps[:, -1:]]).ravel()
            values = np.hstack([values, np.full((len(values), 1), np.nan)]).ravel()
        ax.plot(stamps, values, color=colour, linewidth=1.4, label=label)
    for colour, (label, (stamps, lower, upper)) in zip(colours, (bands or {}).items()):
        stamps, lower, upper = np.atleast_2d(stamps), np.atleast_2d(lower), np.atleast_2d(upper)
        for i in range(len(stamps)):
            ax.fill_between(stamps[i], lower[i], upper[i], color=colour, alpha=0.25, linewidth=0,
                            label=label if i == 0 else None)
    for label, stamp in boundaries:
        ax.axvline(stamp, color="0.5", linestyle="--", linewidth=0.9)
        ax.annotate(label, (stamp, 1), xycoords=("data", "axes fraction"), xytext=(3, -12),
                    textcoords="offset points", fontsize=9, color="0.35")
    ax.set_ylabel(units)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", framealpha=0.9)
    fig.savefig(path, dpi=120)
    plt.close(fig)
