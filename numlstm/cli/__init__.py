"""The ``numlstm`` command: ``demo``, ``train``, ``forecast``, ``backtest``, ``textgen`` and ``info``.

Each sub-command is a thin layer over the library (``numlstm.datasets``,
``numlstm.preprocessing``, ``Sequential``); errors in what the user gave
(files, columns, numbers, window sizes) and usage errors (an unknown option,
a missing or malformed value) print one line and exit with 1; ``--help``
prints the help and exits with 0.
"""

import argparse
import contextlib
import dataclasses
import os
import pathlib
import sys

from .errors import CommandError

DEMO_DATA = "co2"


class UsageError(Exception):
    """What argparse found wrong in the command line, as the one line ``main`` prints."""


class _Parser(argparse.ArgumentParser):
    """argparse without its usage text and exit status 2: an error is one line, and ``main`` returns 1."""

    def error(self, message):
        raise UsageError(f"{self.prog}: error: {' '.join(message.split())} (see `{self.prog} --help`)")


def _units(text):
    try:
        units = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer sizes such as 64,32, got {text!r}") from None
    if not units or min(units) < 1:
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return units


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _fraction(text):
    value = _positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1), got {text!r}")
    return value


def _quantiles(text):
    from ..forecasting import quantile_levels

    try:
        return quantile_levels(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _calendar(text):
    from ..forecasting.calendar import check_calendar

    try:
        return check_calendar(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _names(text):
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names such as temp,humidity, got {text!r}")
    return names


def _use_device(stack, name):
    """Run the command on ``name``; None: on what numlstm.dispatch resolves (NUMLSTM_DEVICE, else auto)."""
    from ..dispatch import DeviceError, current_device, device

    try:
        if name is None:
            current_device()  # a bad NUMLSTM_DEVICE fails here, before any training
        else:
            stack.enter_context(device(name))
    except (DeviceError, ValueError) as exc:
        raise CommandError(str(exc)) from None


def _output_file(path, option):
    """Check, before any work, that the file ``path`` can be written: its folder exists, it is not a folder."""
    path = pathlib.Path(path)
    if path.is_dir():
        raise CommandError(f"{option} {path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise CommandError(f"{option} {path}: no such directory: {path.parent} (create it first)")
    return path


_DEVICE_HELP = "where the LSTMs run (default: NUMLSTM_DEVICE if set, else auto)"
_VERBOSE_HELP = "0 silent, 1 progress bar, 2 one line per epoch (default: 1 on a terminal, 2 otherwise)"


def _training_options(parser, epochs, layers, lookback, horizon, always_bidirectional=False, probabilistic=True):
    """The options every training command takes; ``always_bidirectional``: its layers are (the demo's), and
    ``probabilistic``: it can train a probabilistic forecast, whose intervals the validation steps calibrate."""
    group = parser.add_argument_group("model and training")
    group.add_argument("--lookback", type=_positive_int, default=lookback, help="steps each window reads (%(default)s)")
    group.add_argument("--horizon", type=_positive_int, default=horizon, help="steps forecast (%(default)s)")
    sizes = ",".join(map(str, layers))
    group.add_argument("--layers", type=_units, default=layers, metavar="N,N,...",
                       help=f"LSTM sizes from the input up ({sizes})" + (
                           "; each layer is bidirectional, its output twice as wide" if always_bidirectional
                           else ""))
    group.add_argument("--cell", choices=("lstm", "peephole", "cifg"), default="lstm",
                       help="LSTM cell variant (%(default)s)")
    group.add_argument("--epochs", type=_positive_int, default=epochs, help="at most this many (%(default)s)")
    group.add_argument("--patience", type=_positive_int, default=5,
                       help="stop after this many epochs without a better validation loss (%(default)s)")
    group.add_argument("--batch-size", type=_positive_int, default=32,
                       help="windows per training step (%(default)s)")
    group.add_argument("--learning-rate", type=_positive_float, default=3e-3,
                       help="the Adam optimizer's step size (%(default)s)")
    group.add_argument("--validation", type=_fraction, default=0.15,
                       help="share of the series' steps, before the test's, held out to stop training"
                            + (" (and to calibrate the intervals of a probabilistic forecast)" if probabilistic
                               else "") + " (%(default)s)")
    group.add_argument("--test", type=_fraction, default=0.15,
                       help="share of the series' steps, at its end, held out to score the forecasts (%(default)s)")
    group.add_argument("--seed", type=int, default=0, help="random seed (%(default)s)")
    group.add_argument("--device", choices=("auto", "cpu", "cuda"), help=_DEVICE_HELP)
    group.add_argument("--verbose", type=int, choices=(0, 1, 2), help=_VERBOSE_HELP)


def _csv_options(parser):
    group = parser.add_argument_group("CSV files")
    group.add_argument("--target", "--column", dest="target", metavar="NAME",
                       help="the column to forecast (needed when the file has several numeric columns)")
    group.add_argument("--covariates", type=_names, default=[], metavar="NAME,NAME,...",
                       help="other columns read beside the target (past covariates: known up to the forecast "
                            "origin)")
    group.add_argument("--id", metavar="NAME",
                       help="a long file of several series: the column naming each row's series; one model "
                            "learns them all (a global model), each series scaled on its own")
    group.add_argument("--time-column", metavar="NAME", help="the date/time column (default: found by its values)")
    group.add_argument("--freq", metavar="FREQ",
                       help="the data's frequency: D, W, M, Q, Y, h, min or s with an optional multiple such as "
                            "15min (default: inferred from the dates)")
    group.add_argument("--fill", choices=("interpolate", "ffill", "refuse"), default="interpolate",
                       help="what fills missing cells and dates: linear interpolation, the last value, or an "
                            "error (%(default)s)")


def build_parser():
    parser = _Parser(prog="numlstm", description="Numba-accelerated LSTMs: train, forecast, generate.")
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"numlstm {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo", help="train a stacked bidirectional LSTM on the packaged Mauna Loa CO2 series",
        description="Forecast the next 52 weeks of atmospheric CO2 from the past 104 with a stacked bidirectional "
                    "LSTM, report test RMSE beside the naive and seasonal-naive forecasts, save the model, and "
                    "plot the forecasts when matplotlib is installed.")
    _training_options(demo, epochs=30, layers=[32, 16], lookback=104, horizon=52, always_bidirectional=True,
                      probabilistic=False)
    demo.add_argument("--out-dir", default="numlstm-demo",
                      help="folder for the model and plots (%(default)s); created if missing, its parent must "
                           "exist")

    train = commands.add_parser(
        "train", help="train a forecaster on a packaged series or columns of a CSV file",
        description="Train an LSTM forecaster, report its test scores beside the naive baselines and save it with "
                    "its window sizes, columns, frequency and scaler. A CSV file's date column is found and parsed "
                    "(ISO dates and times, YYYYMMDD, years, year-months); missing cells (empty, NA, NaN, n/a, null) "
                    "and missing dates are filled and reported.")
    train.add_argument("--data", required=True, metavar="{co2,sunspots,elnino,nile,PATH.csv}",
                       help="a packaged series by name, or the path of a CSV file with a date column")
    train.add_argument("--out", required=True, metavar="MODEL", help="model file to write (.numlstm)")
    _csv_options(train)
    probabilistic = train.add_argument_group("probabilistic forecasts")
    probabilistic.add_argument(
        "--quantiles", type=_quantiles, metavar="Q,Q,...",
        help="forecast these quantile levels (e.g. 0.1,0.5,0.9: an 80%% interval and the median) instead of one "
             "value per step")
    probabilistic.add_argument(
        "--method", choices=("quantile", "normal", "mc_dropout"),
        help="how the forecast is probabilistic: quantile regression (the default with --quantiles), a Gaussian "
             "likelihood head, or Monte Carlo dropout; the last two report --quantiles (0.1,0.5,0.9 by default)")
    probabilistic.add_argument("--dropout", type=_fraction, metavar="RATE",
                               help="the dropout of --method mc_dropout (0.2)")
    train.add_argument("--calendar", type=_calendar, metavar="NAME,NAME,...",
                       help="calendar features of every step read and forecast, as known-future covariates: "
                            "hour, dayofweek, dayofmonth, dayofyear, month")
    train.add_argument("--bidirectional", action="store_true", help="bidirectional LSTM layers")
    train.add_argument("--plots", action="store_true",
                       help='write training and forecast PNGs beside the model (needs matplotlib: '
                            'pip install "numlstm[plot]")')
    _training_options(train, epochs=50, layers=[64, 32], lookback=24, horizon=1)

    forecast = commands.add_parser("forecast", help="forecast the steps after the end of a series with a saved model",
                                   description="Forecast the horizon after the last step of the data and print it "
                                               "as CSV: step, time, forecast, and a q<level> column per quantile "
                                               "level for a quantile model (a model of several series puts an id "
                                               "column first). The data must hold the columns the model was "
                                               "trained on.")
    forecast.add_argument("model", metavar="MODEL", help="a model written by `numlstm train` or `numlstm demo`")
    forecast.add_argument("--data", help="series to continue (default: the one the model was trained on)")
    forecast.add_argument("--target", "--column", dest="target", help=argparse.SUPPRESS)
    forecast.add_argument("--out", metavar="CSV", help="write the CSV to this file instead of printing it")
    forecast.add_argument("--seed", type=int, default=0,
                          help="random seed of a Monte Carlo dropout model's passes (%(default)s)")

    back = commands.add_parser(
        "backtest", help="score a saved model from rolling origins, beside the naive baselines",
        description="Forecast from every origin of the test part (or from --start), score RMSE, MAE, MASE and "
                    "sMAPE beside the naive and seasonal-naive forecasts, and interval coverage, pinball loss and "
                    "CRPS for a quantile model. With --refit K the model is trained anew every K origins on the "
                    "data before them. Instead of a model, a JSON config of the forecaster's design (e.g. "
                    '{"lookback": 36, "horizon": 12, "units": [16], "quantiles": [0.1, 0.5, 0.9], "target": "load"}) '
                    "backtests a design that was never trained, with --data and --refit.")
    back.add_argument("model", metavar="MODEL|CONFIG.json",
                      help="a model written by `numlstm train` or `numlstm demo`, or a JSON config")
    back.add_argument("--data", help="series to backtest on (default: the one the model was trained on)")
    back.add_argument("--start", metavar="STEP|DATE", help="first origin (default: the start of the test part)")
    back.add_argument("--stride", type=_positive_int, default=1, help="steps between origins (%(default)s)")
    back.add_argument("--horizon", type=_positive_int,
                      help="score the first HORIZON steps of each forecast (default: all the model forecasts)")
    back.add_argument("--refit", type=int, default=0, metavar="K",
                      help="retrain every K origins (default 0: never)")
    back.add_argument("--window", choices=("expanding", "sliding"), default="expanding",
                      help="what a refit trains on: everything before the origin, or --train-steps of it "
                           "(%(default)s)")
    back.add_argument("--train-steps", type=_positive_int, metavar="N", help="steps a sliding window trains on")
    back.add_argument("--epochs", type=_positive_int, default=50, help="at most this many per refit (%(default)s)")
    back.add_argument("--seed", type=int, default=0, help="random seed of the refits (%(default)s)")
    back.add_argument("--out", metavar="CSV", help="write the score table here as CSV")
    back.add_argument("--device", choices=("auto", "cpu", "cuda"), help=_DEVICE_HELP)

    textgen = commands.add_parser("textgen", help="train a character-level LSTM on Shakespeare and sample from it",
                                  description="Train a character-level language model on the packaged Shakespeare "
                                              "text (or load one with --model) and print text sampled from it.")
    source = textgen.add_mutually_exclusive_group()
    source.add_argument("--model", help="sample from this saved model instead of training")
    source.add_argument("--out", metavar="MODEL", help="save the trained model here")
    textgen.add_argument("--chars", type=_positive_int, default=100_000, help="training characters (%(default)s)")
    textgen.add_argument("--lookback", type=_positive_int, default=48, help="characters per window (%(default)s)")
    textgen.add_argument("--stride", type=_positive_int, default=3, help="characters between windows (%(default)s)")
    textgen.add_argument("--units", type=_positive_int, default=128, help="LSTM size (%(default)s)")
    textgen.add_argument("--embedding", type=_positive_int, default=32, help="embedding size (%(default)s)")
    textgen.add_argument("--epochs", type=_positive_int, default=6, help="passes over the text (%(default)s)")
    textgen.add_argument("--batch-size", type=_positive_int, default=64, help="windows per training step (%(default)s)")
    textgen.add_argument("--learning-rate", type=_positive_float, default=4e-3,
                         help="the Adam optimizer's step size (%(default)s)")
    textgen.add_argument("--length", type=_positive_int, default=400, help="characters to sample (%(default)s)")
    textgen.add_argument("--temperature", type=float, default=0.7, help="below 1: safer text (%(default)s)")
    textgen.add_argument("--prime", default="ROMEO:\n", help="text the sample continues (%(default)r)")
    textgen.add_argument("--seed", type=int, default=0, help="(%(default)s)")
    textgen.add_argument("--device", choices=("auto", "cpu", "cuda"), help=_DEVICE_HELP)
    textgen.add_argument("--verbose", type=int, choices=(0, 1, 2), help=_VERBOSE_HELP)

    commands.add_parser("info", help="versions, threads, BLAS, CUDA status and the JIT cache",
                        description="Print what numlstm runs on.")
    return parser


def _demo(options):
    from .. import datasets
    from ..forecasting import series_data
    from .forecasting import train_and_report, write_plots

    out_dir = pathlib.Path(options.out_dir)  # the demo's own folder: created, but inside one that exists
    if out_dir.exists() and not out_dir.is_dir():
        raise CommandError(f"--out-dir {out_dir} is a file, not a directory")
    if not out_dir.parent.is_dir():
        raise CommandError(f"--out-dir {out_dir}: no such directory: {out_dir.parent} (create it first)")
    out_dir.mkdir(exist_ok=True)
    series = datasets.load_co2()
    print("numlstm demo: forecast a year of weekly Mauna Loa CO2 (Keeling & Whorf; public domain) from the two "
          "years before it\n")
    options.data, options.bidirectional = DEMO_DATA, True
    source = series_data(series)
    source = dataclasses.replace(source, description=f"{series.name} ({series.units}, weekly, {len(series)} steps, "
                                                     f"{series.filled.sum()} missing weeks interpolated)")
    forecaster, result = train_and_report(source, options, out_dir / "co2.numlstm")
    write_plots(forecaster, result, "Mauna Loa CO2", "CO2 (ppmv)", out_dir / "co2")


def _train(options):
    from .. import datasets, plotting
    from .data import load_data
    from .forecasting import train_and_report, write_plots

    _output_file(options.out, "--out")
    plots = options.plots and plotting.matplotlib_available()
    if options.plots and not plots:  # said before training, not after it
        print('numlstm train: --plots needs matplotlib (pip install "numlstm[plot]"): training without plots',
              file=sys.stderr)
    source = load_data(options.data, options.target, options.covariates, options.time_column, options.freq,
                       options.fill, options.id)
    forecaster, result = train_and_report(source, options, options.out)
    if plots:
        out = pathlib.Path(options.out)
        target = forecaster.target
        title = options.data if target == options.data else f"{options.data}: {target}"
        units = datasets.load_series(options.data).units if options.data in datasets.SERIES else target
        write_plots(forecaster, result, title, units, out.with_suffix(""))


def main(argv=None):
    try:
        options = build_parser().parse_args(argv)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        with contextlib.ExitStack() as stack:
            if hasattr(options, "device"):
                _use_device(stack, options.device)
            if getattr(options, "verbose", 0) is None:  # as fit's "auto": a bar on a terminal, else a line an epoch
                options.verbose = "auto"
            _run(options)
    except CommandError as exc:
        print(f"numlstm {options.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"numlstm {options.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


def _run(options):
    if options.command == "demo":
        _demo(options)
    elif options.command == "train":
        _train(options)
    elif options.command in ("forecast", "backtest"):
        from .forecasting import forecast, run_backtest

        if options.out:
            _output_file(options.out, "--out")
        (forecast if options.command == "forecast" else run_backtest)(options)
    elif options.command == "textgen":
        from .textgen import textgen

        if options.out:
            _output_file(options.out, "--out")
        textgen(options)
    else:
        from .info import info

        info()
