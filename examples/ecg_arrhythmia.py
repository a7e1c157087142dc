"""Premature heartbeats flagged by an LSTM's forecast error, trained on normal rhythm only (MIT-BIH record 100).

    python examples/ecg_arrhythmia.py                # 15 to 30 s on 2 cores
    python examples/ecg_arrhythmia.py --fast         # a smoke run (CI), about 5 s; 18 s when
                                                     # Numba first compiles the LSTM kernels
    python examples/ecg_arrhythmia.py --plot ecg.png

The data are numlstm.datasets.load_ecg(): 30 minutes of lead MLII of a
69-year-old man at 360 Hz, with the cardiologists' beat annotations:
2,239 normal beats (N), 33 atrial premature beats (A), 1 premature
ventricular contraction (V). Both kinds of abnormal beat come early: a
normal RR interval (from one R peak to the next) is about 0.79 s, these
come 0.52 to 0.68 s after the beat before them.

Preprocessing: lead MLII is decimated to 90 Hz (a zero-phase FIR
anti-aliasing filter), its baseline wander removed (a 0.2 s median
filter, then a 0.6 s one, make the baseline that is subtracted) and the
result smoothed with a Gaussian of 0.04 s. The smoothing matters: at
90 Hz an R peak is 2 or 3 samples wide, no wider than the beat-to-beat
jitter of a normal RR interval (0.03 s), so no forecast can place it and
a normal beat a few samples late costs as much squared error as a
premature one (the same model on the unsmoothed trace: test ROC AUC
0.88). Smoothed, an R peak spans about 0.1 s: a beat on time overlaps
its forecast, a premature beat 0.15 to 0.25 s early does not.

Windows are cut at the annotated R peaks (the cardiologists' beat
positions), so no beat detector is needed here; a deployed system would
need one (a QRS detector such as Pan-Tompkins) and would inherit its
errors. For each beat k (k >= 3), the input is the trace from 2 s before
the previous R peak to 0.1 s after it (189 steps), the target the 0.9 s
after that (81 steps), which holds beat k's R peak whether it comes on
time (about 0.7 s into the window) or early (0.42 to 0.58 s in). An LSTM
of 32 units and a Dense layer of 81 forecast the whole target window at
once (direct multi-step). The score of beat k is the mean squared
forecast error over the window (mV^2): a premature beat arrives where
the model expects the flat end of the T wave, and is missing where the
model expects a beat, so its error is large.

The split is in time. The first half of the record (903 s) trains and
validates: the model trains on its first 632 s, on the windows whose
beats (in the input and the target) are all normal; the rest of the
first half is validation: its all-normal windows stop training early
(patience 20, best weights kept) and set the threshold. The test part is
every beat of the second half (1,127 beats, 22 abnormal; the record's
last beat has no 0.9 s after it). The settings (0.04 s smoothing, 2 s of
context, 32 units, patience) were chosen on the first half's 12 abnormal
beats (no window of theirs is trained on) against the validation normal
beats, never on the test part.

A beat is flagged when its score exceeds the 99th percentile of the
scores of the validation part's all-normal windows: no test label is
used. The baseline is RR prematurity: score = 1 - RR_k / (the median of
the previous 8 RR intervals), with its threshold chosen the same way. It
is very hard to beat here: record 100's A beats are premature by the
annotators' definition, and its one V beat is premature too, so RR
timing alone separates them perfectly. The LSTM is told nothing about RR
intervals; it learns from the trace what normal rhythm looks like and
when the next beat comes.

Printed: ROC AUC (rank-based: the Mann-Whitney U), precision and recall
of the abnormal beats and the number of beats flagged, for both methods
on the test part; how many flagged normal beats come right after an
abnormal one (the compensatory pause after a premature beat makes the
next beat late, and the abnormal beat sits in the next window's input,
a kind of window the model never trained on); and, for comparison, the
ROC AUC of a fixed forecast (the mean training target) in place of the
LSTM's. With matplotlib installed it writes a figure: the ECG around
three abnormal test beats (the LSTM's highest, median and lowest
scoring), the test LSTM score distributions, and both ROC curves.

Measured, full run (seed 0), on a 2-core AMD EPYC (KVM VM), 2026-12-06:
152 epochs (best validation loss at epoch 132) in 13 s, the whole script
in 16 s on idle cores (28 s with other jobs sharing them). First half's
abnormal beats against validation normal beats: ROC AUC 0.999. Test
part, 1,127 beats, 22 abnormal (21 A, 1 V):

    method         ROC AUC  precision  recall  flagged
    LSTM             0.993       0.34    0.95       61
    RR baseline      1.000       0.63    1.00       35

LSTM ROC AUC 0.993, precision 0.34, recall 0.95; RR baseline ROC AUC
1.000, precision 0.63, recall 1.00; the fixed forecast 0.983. The LSTM
misses one A beat (1647.4 s, score 0.0041 against a threshold of
0.0043) and flags 40 normal beats: 13 right after an abnormal beat, 3
two beats after, 12 late beats (RR 3 to 11% longer than the recent
median: the squared error does not tell early from late), one more in a
noisy stretch at 1,619-1,621 s, and 11 near their expected time. A 99th
percentile lets about 1% of normal beats through by design (11 of the
test part's 1,105): the RR baseline flags 13, all 8 to 14% early, none
after an abnormal beat. The LSTM's threshold is also low for the second
half, whose normal beats forecast worse than the validation part's
(median score a quarter higher). Most of the LSTM's AUC comes from
forecasting a smoothed trace; the model adds to the fixed forecast's
0.983 by timing the next beat from the ones before it (its validation
MSE is 39% lower).

--fast: a third of the training windows and 5 epochs (test ROC AUC
0.987); the RR baseline does not depend on training.
"""

import argparse
import pathlib
import time

import numpy as np
import scipy.ndimage
import scipy.signal

import numlstm
from numlstm import callbacks, layers

FACTOR = 4  # 360 Hz -> 90 Hz
CONTEXT_BEFORE, CONTEXT_AFTER, HORIZON = 2.0, 0.1, 0.9  # seconds around the previous R peak
SMOOTHING = 0.04  # seconds, the Gaussian's standard deviation
TRAIN_END = 0.7  # of the first half: training before, validation after
PERCENTILE = 99  # of the validation normal beats' scores: the threshold
RR_HISTORY = 8


def preprocess(mlii, sample_rate):
    """Lead MLII decimated to sample_rate / FACTOR, its baseline wander removed, and smoothed: (trace, rate)."""
    rate = sample_rate // FACTOR
    trace = scipy.signal.decimate(mlii, FACTOR, ftype="fir", zero_phase=True)
    short, long = 2 * round(0.1 * rate) + 1, 2 * round(0.3 * rate) + 1  # 0.2 s and 0.6 s, odd
    baseline = scipy.ndimage.median_filter(scipy.ndimage.median_filter(trace, short, mode="nearest"), long,
                                           mode="nearest")
    trace = trace - baseline
    return trace, scipy.ndimage.gaussian_filter1d(trace, SMOOTHING * rate), rate


def beat_windows(trace, peaks, symbols, rate):
    """Input and target windows of beats 3, 4, ..., cut at the previous beat's R peak (at ``peaks``, in samples).

    Returns the beats' indices, their inputs (beats, steps, 1), targets (beats, horizon), the first
    sample of each target, and whether every beat in the input and target windows is normal.
    """
    before, after, horizon = (round(seconds * rate) for seconds in (CONTEXT_BEFORE, CONTEXT_AFTER, HORIZON))
    beats = np.arange(3, len(peaks))
    target_starts = peaks[beats - 1] + after
    input_starts = target_starts - before - after
    whole = (input_starts >= 0) & (target_starts + horizon <= len(trace))
    beats, target_starts, input_starts = beats[whole], target_starts[whole], input_starts[whole]
    inputs = trace[input_starts[:, None] + np.arange(before + after)][..., None]
    targets = trace[target_starts[:, None] + np.arange(horizon)]
    abnormal_so_far = np.concatenate([[0], np.cumsum(symbols != "N")])
    first, last = np.searchsorted(peaks, input_starts), np.searchsorted(peaks, target_starts + horizon)
    all_normal = abnormal_so_far[last] == abnormal_so_far[first]
    return beats, inputs, targets, target_starts, all_normal


def rr_prematurity(peaks, beats):
    """1 - RR_k / median(RR_k-8, ..., RR_k-1), for each beat k (>= 2) in ``beats``; ``peaks`` in samples."""
    rr = np.diff(peaks).astype(float)  # rr[k - 1] = RR_k, from beat k - 1 to beat k
    history = np.array([np.median(rr[max(0, k - 1 - RR_HISTORY):k - 1]) for k in beats])
    return 1 - rr[beats - 1] / history


def roc_auc(scores, labels):
    """Area under the ROC curve: the chance that an abnormal beat outscores a normal one (ties count half).

    The Mann-Whitney U statistic from the average ranks of the scores, divided by (abnormal x normal).
    """
    labels = np.asarray(labels, bool)
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse]  # 1-based, ties at their average rank
    positives, negatives = labels.sum(), (~labels).sum()
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def roc_curve(scores, labels):
    """False and true positive rates as the threshold falls past each distinct score, from (0, 0) to (1, 1)."""
    labels = np.asarray(labels, bool)
    order = np.argsort(-scores, kind="stable")
    scores, labels = scores[order], labels[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]  # the last of each run of equal scores
    tpr = np.r_[0, np.cumsum(labels)[last] / labels.sum()]
    fpr = np.r_[0, np.cumsum(~labels)[last] / (~labels).sum()]
    return fpr, tpr


def evaluate(scores, threshold, abnormal, after_abnormal):
    """ROC AUC, precision, recall, beats flagged, normal beats flagged, and those right after an abnormal one."""
    flagged = scores > threshold
    hits = int(np.sum(flagged & abnormal))
    return {"auc": roc_auc(scores, abnormal), "precision": float(hits / flagged.sum()) if flagged.any() else 0.0,
            "recall": float(hits / abnormal.sum()), "flagged": int(flagged.sum()),
            "flagged_normal": int(np.sum(flagged & ~abnormal)),
            "flagged_after_abnormal": int(np.sum(flagged & ~abnormal & after_abnormal)), "threshold": float(threshold)}


def save_figure(path, ecg, trace, smooth, rate, peaks, beats, forecasts, target_starts, lstm, rr, test,
                abnormal, lstm_threshold, results):
    """The ECG around three abnormal test beats, the test score distributions and both ROC curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(10.5, 10), layout="constrained")
    grid = fig.add_gridspec(4, 2, height_ratios=[1, 1, 1, 1.25])
    shown = np.flatnonzero(test & abnormal)
    shown = shown[np.argsort(-lstm[shown])][[0, len(shown) // 2, -1]]  # highest, median and lowest LSTM score
    seconds = np.arange(len(trace)) / rate
    flagged = lstm > lstm_threshold
    horizon = forecasts.shape[1]
    for row, centre in enumerate(shown):
        ax = fig.add_subplot(grid[row, :])
        middle = peaks[beats[centre]] / rate
        view = (seconds >= middle - 3) & (seconds <= middle + 3)
        ax.plot(seconds[view], trace[view], color="0.55", linewidth=0.8, label="ECG, MLII, baseline removed (90 Hz)")
        ax.plot(seconds[view], smooth[view], color="k", linewidth=1.3, label="smoothed: the LSTM's input and target")
        for i in np.flatnonzero((peaks[beats] / rate > middle - 3) & (peaks[beats] / rate < middle + 3)):
            if flagged[i] or abnormal[i]:
                stamps = (target_starts[i] + np.arange(horizon)) / rate
                ax.plot(stamps, forecasts[i], color="tab:blue", linestyle="--", linewidth=1.3,
                        label="LSTM forecast (flagged or abnormal beats)")
        low, top = trace[view].min(), trace[view].max()
        ax.set_ylim(low - 0.1, top + 0.45 * (top - low))  # room above the trace for the symbols and flags
        above = ax.get_xaxis_transform()  # x in seconds, y in axes fractions
        for peak, symbol in zip(peaks, ecg.beat_symbols):
            if middle - 3 < peak / rate < middle + 3:
                ax.text(peak / rate, 0.82, symbol, transform=above, ha="center", fontsize=10, fontweight="bold",
                        color="tab:red" if symbol != "N" else "0.3")
        marks = flagged & (np.abs(peaks[beats] / rate - middle) < 3)
        ax.plot(peaks[beats[marks]] / rate, np.full(marks.sum(), 0.95), "v", color="tab:orange", markersize=8,
                transform=above, label="flagged by the LSTM")
        ax.set_xlim(middle - 3, middle + 3)
        ax.set_ylabel("mV")
        ax.set_title(f"{ecg.beat_symbols[beats[centre]]} beat at {middle:.1f} s: LSTM score {lstm[centre]:.4f} "
                     f"(threshold {lstm_threshold:.4f}), RR prematurity {rr[centre]:.2f}", fontsize=10)
        ax.grid(True, alpha=0.3)
        if row == 0:
            handles, labels = ax.get_legend_handles_labels()
            unique = dict(zip(labels, handles))
            ax.legend(unique.values(), unique.keys(), loc="lower left", fontsize=8, ncol=2, framealpha=0.9)
        if row == len(shown) - 1:
            ax.set_xlabel("time (s)")

    ax = fig.add_subplot(grid[3, 0])
    # the last edge a little above the largest score: logspace's rounding could leave it out of every bin
    bins = np.logspace(np.log10(lstm[test].min()), np.log10(lstm[test].max() * 1.01), 50)
    ax.hist(lstm[test & ~abnormal], bins, color="0.5", label=f"normal ({np.sum(test & ~abnormal)})")
    ax.hist(lstm[test & abnormal], bins, color="tab:red", alpha=0.8, label=f"abnormal ({np.sum(test & abnormal)})")
    ax.axvline(lstm_threshold, color="tab:orange", linestyle="--", label="threshold (validation 99th pct.)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("LSTM score: mean squared forecast error (mV$^2$)")
    ax.set_ylabel("test beats")
    ax.set_title("LSTM scores, test part", fontsize=10)
    ax.legend(fontsize=8)

    ax = fig.add_subplot(grid[3, 1])
    for name, scores in (("LSTM", lstm), ("RR baseline", rr)):
        fpr, tpr = roc_curve(scores[test], abnormal[test])
        ax.plot(fpr, tpr, linewidth=1.5, label=f"{name} (AUC {results[name]['auc']:.3f})")
    ax.set_xlim(-0.002, 0.1)
    ax.set_xlabel("false positive rate (normal flagged), up to 0.1")
    ax.set_ylabel("true positive rate (abnormal flagged)")
    ax.set_title("ROC curves, test part", fontsize=10)
    ax.legend(loc="lower right", fontsize=9)
    ax.grid(True, alpha=0.3)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="5 epochs on a third of the windows, for a smoke test")
    parser.add_argument("--plot", default="ecg_arrhythmia.png", metavar="PATH",
                        help="where the figure goes (needs matplotlib; default %(default)s)")
    args = parser.parse_args(argv)
    folder = pathlib.Path(args.plot).resolve().parent
    if not folder.is_dir():  # say so now, not after training
        parser.error(f"--plot {args.plot}: the folder {folder} does not exist")

    numlstm.utils.set_random_seed(0)
    ecg = numlstm.datasets.load_ecg()
    trace, smooth, rate = preprocess(ecg.signals[:, ecg.leads.index("MLII")], ecg.sample_rate)
    peaks = np.round(ecg.beat_samples / FACTOR).astype(np.int64)
    beats, inputs, targets, target_starts, all_normal = beat_windows(smooth, peaks, ecg.beat_symbols, rate)
    abnormal = ecg.beat_symbols[beats] != "N"
    after_abnormal = ecg.beat_symbols[beats - 1] != "N"

    half = len(smooth) // 2
    first_half = target_starts + targets.shape[1] <= half  # the whole target window in the first half
    train = first_half & all_normal & (peaks[beats] < TRAIN_END * half)
    validation = first_half & (peaks[beats] >= TRAIN_END * half)
    test = peaks[beats] >= half
    if args.fast:
        train &= np.arange(len(beats)) % 3 == 0
    scale = inputs[train].std()  # the model sees the trace in units of the training windows' spread

    model = numlstm.Sequential([layers.Input(inputs.shape[1:]), layers.LSTM(32), layers.Dense(targets.shape[1])])
    model.compile(numlstm.optimizers.Adam(3e-3), "mse")
    start = time.perf_counter()
    history = model.fit(inputs[train] / scale, targets[train] / scale, batch_size=32, epochs=5 if args.fast else 200,
                        validation_data=(inputs[validation & all_normal] / scale,
                                         targets[validation & all_normal] / scale),
                        verbose=0, callbacks=[callbacks.EarlyStopping(patience=20, restore_best_weights=True)])
    seconds = time.perf_counter() - start
    forecasts = model.predict(inputs / scale, batch_size=256) * scale
    lstm = np.mean((forecasts - targets) ** 2, axis=1)
    rr = rr_prematurity(ecg.beat_samples, beats)

    losses = history.history["val_loss"]
    print(f"MIT-BIH record 100, lead MLII at {rate} Hz: {train.sum()} training windows (normal beats), "
          f"{np.sum(validation & all_normal)} validation; {len(losses)} epochs in {seconds:.0f} s, best validation "
          f"loss {min(losses):.3f} at epoch {int(np.argmin(losses)) + 1}")
    tuning = (first_half & abnormal) | (validation & all_normal)
    print(f"first half: ROC AUC of the LSTM's score, its {np.sum(first_half & abnormal)} abnormal beats against the "
          f"validation normal beats: {roc_auc(lstm[tuning], abnormal[tuning]):.3f}")
    results = {}
    for name, scores in (("LSTM", lstm), ("RR baseline", rr)):
        threshold = np.percentile(scores[validation & all_normal], PERCENTILE)
        results[name] = evaluate(scores[test], threshold, abnormal[test], after_abnormal[test])
    kinds = zip(*np.unique(ecg.beat_symbols[beats[test & abnormal]], return_counts=True))
    print(f"test part (second half): {test.sum()} beats, {np.sum(test & abnormal)} abnormal "
          f"({', '.join(f'{count} {symbol}' for symbol, count in kinds)}); "
          f"threshold: the {PERCENTILE}th percentile of the scores of the validation all-normal windows")
    print(f"  {'method':<13} {'ROC AUC':>8} {'precision':>10} {'recall':>7} {'flagged':>8}")
    for name, result in results.items():
        print(f"  {name:<13} {result['auc']:8.3f} {result['precision']:10.2f} {result['recall']:7.2f} "
              f"{result['flagged']:8d}")
    for name, result in results.items():
        print(f"{name}: {result['flagged_normal']} normal beats flagged, {result['flagged_after_abnormal']} of them "
              "right after an abnormal beat (its compensatory pause)")
    mean_target = np.mean((targets[train].mean(axis=0) - targets) ** 2, axis=1)
    print(f"for comparison, a fixed forecast (the mean training target) in place of the LSTM's: test ROC AUC "
          f"{roc_auc(mean_target[test], abnormal[test]):.3f}")
    if args.fast:
        print("(--fast: a smoke run, 5 epochs on a third of the training windows; the LSTM's figures say little)")

    if numlstm.plotting.matplotlib_available():
        save_figure(args.plot, ecg, trace, smooth, rate, peaks, beats, forecasts, target_starts, lstm, rr, test,
                    abnormal, results["LSTM"]["threshold"], results)
        print(f"figure written to {args.plot}")
    else:
        print('matplotlib is not installed (pip install "numlstm[plot]"): no figure written')
    return results


if __name__ == "__main__":
    main()
