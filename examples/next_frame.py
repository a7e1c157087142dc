"""Next-frame prediction: a ConvLSTM encoder-forecaster predicts 10 video frames from the 10 before them.

    python examples/next_frame.py                  # 20 epochs: 4 min on 2 idle cores, 6.5 shared
    python examples/next_frame.py --fast           # a smoke run (CI), about 20 s; the first run
                                                   # also compiles the ConvLSTM kernels, a minute or two
    python examples/next_frame.py --epochs 40 --filters 16 --out strip.png

The videos are numlstm.datasets.moving_shapes: two squares or discs of 4
pixels moving at 0.5 to 1 pixel per frame in a 16 x 16 box and bouncing
off its walls. Training, validation and test videos come from three
seeds spawned from --seed, so no video is in two sets. The model is Shi
et al. (2015)'s encoder-forecaster: two stacked ConvLSTM2D layers read
the 10 input frames; two more, started from the encoder's final states
[h, c], run 10 steps over a sequence of zeros (they see no frames, only
the states), and a 1 x 1 convolution (Dense on the channel axis) with a
sigmoid turns their concatenated hidden states into pixels. It trains
with binary cross-entropy (pixels are intensities in [0, 1], as in Shi
et al.) and Adam, stopping early on the validation loss.

It prints the test mean squared error per predicted frame and overall
beside two baselines: the last input frame copied 10 times, and a blank
(all-zero) frame. The blank frame matters: past a few frames copying
does worse than predicting nothing, so beating the copy alone does not
show that a model tracks motion. With matplotlib installed it writes a
PNG strip of the test video of median error: its 10 input frames, then
the true, predicted and copied frames 11-20.

Measured, full run (default options, seed 0), float32, on a 2-core KVM
VM, lscpu "AMD EPYC" family 25 model 1 (Zen 3, AVX2), 2026-12-05, with
other jobs sharing the cores: 20 epochs (still improving slowly: val MSE
0.0426 at 12, 0.0392 at 20) in 378 s, epochs of 11 s when the machine
was quiet and 20 to 40 s when not; 6 min 26 s for the whole script (340 s
of user CPU). Test MSE, 256 videos:

    frame             11     12     13     14     15  ...     20    all
    ConvLSTM      0.0051 0.0117 0.0209 0.0300 0.0382  ... 0.0653 0.0391
    copy frame 10 0.0210 0.0573 0.0903 0.1163 0.1322  ... 0.1489 0.1150
    blank frame   0.0909 0.0909 0.0908 0.0908 0.0903  ... 0.0893 0.0904

2.9 times lower than the copied frame overall (4.1 times at frame 11)
and 2.3 times lower than the blank frame, and lower than both at every
frame. In the strip the first 2 or 3 predicted frames are sharp and in
place (squares come out rounded); then the objects smear along their
paths into a fading arc, the model's mean over the futures it cannot
tell apart.

Parameters and why:

- 16 x 16 frames: the smallest box that leaves two 4-pixel objects room
  to move and bounce, and cheap (256 positions per convolution) so that
  four ConvLSTM layers train in minutes on two cores; 32 x 32 costs four
  times as much per frame.
- 0.5 to 1 pixel per frame (moving_shapes' default is 1 to 2): objects
  move 5 to 10 pixels over the predicted frames, so some bounce, and
  their motion stays predictable for a model trained in minutes. At 1 to
  2 pixels per frame, the same model after 15 epochs got to test MSE
  0.061 against the blank frame's 0.091: its predictions fade to a grey
  mean after 3 or 4 frames.
- 12 filters, 3 x 3 kernels: two stacked 3 x 3 layers see 5 x 5 pixels
  per step, more than an object moves; 16 filters cost about 1.6 times
  as much per epoch.
- Batch 8, Adam at 3e-3: an epoch in batches of 8 took no longer than
  in batches of 16 and trained further (validation MSE 0.0627 after 5
  epochs against 0.0643, at 1 to 2 pixels per frame). Early stopping
  after 4 epochs without progress, keeping the best weights.
- --fast: 256 videos, 8 filters, 3 epochs. The model then predicts
  little more than a blur where the objects were, yet beats both
  baselines (1.6 and 1.3 times lower MSE at seed 0), which the test
  checks.
"""

import argparse
import time

import numpy as np

import numlstm
from numlstm import callbacks, layers

SIZE, INPUT_FRAMES, OUTPUT_FRAMES = 16, 10, 10
SPEED = (0.5, 1.0)  # pixels per frame, drawn per object


def build_model(filters, kernel_size=3):
    """Two ConvLSTM2D layers encode the input frames; two more, started from their states, forecast."""
    frames = numlstm.Input((INPUT_FRAMES, SIZE, SIZE, 1), name="frames")
    encoded, h1, c1 = layers.ConvLSTM2D(filters, kernel_size, padding="same", return_sequences=True,
                                        return_state=True, name="encoder_1")(frames)
    _, h2, c2 = layers.ConvLSTM2D(filters, kernel_size, padding="same", return_state=True, name="encoder_2")(encoded)
    # The forecaster sees no frames: its input is zeros with the frames' shape (frames - frames, as numlstm
    # has no Lambda layer), so everything it knows comes through the initial states.
    blank = layers.Subtract(name="blank")([frames, frames])
    f1 = layers.ConvLSTM2D(filters, kernel_size, padding="same", return_sequences=True,
                           name="forecaster_1")(blank, initial_state=[h1, c1])
    f2 = layers.ConvLSTM2D(filters, kernel_size, padding="same", return_sequences=True,
                           name="forecaster_2")(f1, initial_state=[h2, c2])
    pixels = layers.Dense(1, activation="sigmoid", name="pixels")(layers.Concatenate(name="both")([f1, f2]))
    return numlstm.Model(frames, pixels, name="encoder_forecaster")


def per_frame_mse(predicted, true):
    """Mean squared error per predicted frame (averaged over videos and pixels), shape (OUTPUT_FRAMES,)."""
    return np.mean((predicted - true) ** 2, axis=(0, 2, 3, 4))


def save_strip(path, inputs, true, predicted, copied):
    """One video as a strip of frames: a row of inputs, then the true, predicted and copied futures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # (label, frames, the time of the first frame when the row is titled with its times)
    rows = [("input", inputs, 1), ("true", true, INPUT_FRAMES + 1), ("predicted", predicted, None),
            (f"copy of t={INPUT_FRAMES}", copied, None)]
    fig, axes = plt.subplots(len(rows), OUTPUT_FRAMES, figsize=(OUTPUT_FRAMES * 1.1, len(rows) * 1.25),
                             layout="constrained")
    for row, (label, video, first) in zip(axes, rows):
        for t, ax in enumerate(row):
            ax.imshow(video[t, :, :, 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if first is not None:
                ax.set_title(f"t={first + t}", fontsize=8)
        row[0].set_ylabel(label, fontsize=9)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="a small, quick run for a smoke test (about 20 s, once the kernels are compiled)")
    parser.add_argument("--epochs", type=int, metavar="N", help="most epochs (early stopping may end sooner); "
                        "default 20, or 3 with --fast")
    parser.add_argument("--train", type=int, metavar="N", help="training videos (default 1024, or 256 with --fast)")
    parser.add_argument("--filters", type=int, metavar="N", help="filters per ConvLSTM layer (default 12, or 8 "
                        "with --fast)")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="seed of the videos and of the weights (default 0)")
    parser.add_argument("--out", default="next_frame.png", metavar="PATH",
                        help="the PNG strip (needs matplotlib; default %(default)s)")
    args = parser.parse_args(argv)
    epochs = args.epochs or (3 if args.fast else 20)
    n_train = args.train or (256 if args.fast else 1024)
    filters = args.filters or (8 if args.fast else 12)
    n_test = 64 if args.fast else 256

    numlstm.utils.set_random_seed(args.seed)
    seeds = np.random.SeedSequence(args.seed).spawn(3)
    train, validation, test = (numlstm.datasets.moving_shapes(n, INPUT_FRAMES + OUTPUT_FRAMES, SIZE, speed=SPEED,
                                                               seed=s)
                               for n, s in zip((n_train, n_test, n_test), seeds))
    print(f"moving shapes, {SIZE}x{SIZE}: {n_train} training, {n_test} validation and {n_test} test videos "
          f"of {INPUT_FRAMES} + {OUTPUT_FRAMES} frames", flush=True)

    model = build_model(filters)
    model.compile(numlstm.optimizers.Adam(3e-3), "binary_crossentropy", metrics=["mse"])
    print(f"encoder-forecaster: 4 ConvLSTM2D layers of {filters} filters, 3x3 kernels, "
          f"{model.count_params()} weights; training up to {epochs} epochs", flush=True)
    start = time.perf_counter()
    history = model.fit(train[:, :INPUT_FRAMES], train[:, INPUT_FRAMES:], batch_size=8, epochs=epochs,
                        validation_data=(validation[:, :INPUT_FRAMES], validation[:, INPUT_FRAMES:]), verbose=2,
                        callbacks=[callbacks.EarlyStopping(patience=4, restore_best_weights=True)])
    seconds = time.perf_counter() - start
    print(f"trained {len(history.history['loss'])} epochs in {seconds:.0f} s", flush=True)

    inputs, true = test[:, :INPUT_FRAMES], test[:, INPUT_FRAMES:]
    predicted = model.predict(inputs, batch_size=64, verbose=0)
    copied = np.repeat(inputs[:, -1:], OUTPUT_FRAMES, axis=1)
    scores = {"ConvLSTM": per_frame_mse(predicted, true), "copy last frame": per_frame_mse(copied, true),
              "blank frame": per_frame_mse(np.zeros_like(true), true)}
    print(f"test MSE per predicted frame ({n_test} videos):")
    print(f"  {'frame':<16}" + "".join(f"{t + 1 + INPUT_FRAMES:>7}" for t in range(OUTPUT_FRAMES)) + "    all")
    for name, mse in scores.items():
        print(f"  {name:<16}" + "".join(f"{m:7.4f}" for m in mse) + f" {mse.mean():7.4f}")
    result = {name: float(mse.mean()) for name, mse in scores.items()}
    print(f"the ConvLSTM's overall test MSE is {result['copy last frame'] / result['ConvLSTM']:.1f}x lower than "
          f"copying the last frame's, {result['blank frame'] / result['ConvLSTM']:.1f}x lower than a blank frame's")

    if numlstm.plotting.matplotlib_available():
        typical = int(np.argsort(np.mean((predicted - true) ** 2, axis=(1, 2, 3, 4)))[n_test // 2])
        save_strip(args.out, inputs[typical], true[typical], predicted[typical], copied[typical])
        print(f"strip of test video {typical} (the model's median error) written to {args.out}")
    else:
        print('matplotlib is not installed (pip install "numlstm[plot]"): no strip written')
    return result


if __name__ == "__main__":
    main()
