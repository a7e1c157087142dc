"""Next-frame prediction: a ConvLSTM encoder-forecaster predicts 10 video frames from the 10 before them.

    python examples/next_frame.py                  # FIXME on 2 cores
    python examples/next_frame.py --fast           # a smoke run (CI), FIXME
    python examples/next_frame.py --epochs 30 --out strip.png

The videos are numlstm.datasets.moving_shapes: two squares or discs of 4
pixels moving at 1 to 2 pixels per frame in a 16 x 16 box and bouncing
off its walls. Training, validation and test videos come from three
seeds spawned from --seed, so they never overlap. The model is Shi et al.
(2015)'s encoder-forecaster: two stacked ConvLSTM2D layers read the 10
input frames; two more, started from the encoder's final states [h, c],
run 10 steps over a sequence of zeros (they see no frames, only the
states) and a 1 x 1 convolution (Dense on the channel axis) with a
sigmoid turns their concatenated hidden states into pixels. It trains
with binary cross-entropy (pixels are intensities in [0, 1], as in Shi
et al.) and Adam, stopping early on the validation loss.

It prints the test mean squared error per predicted frame and overall
beside two baselines: the last input frame copied 10 times, and a blank
(all-zero) frame, which a model that only blurs would also beat. With
matplotlib installed it writes a PNG strip of one test video: the input
frames, then the true, predicted and copied frames.

Measured (full run, FIXME)

Parameters and why: 16 x 16 frames are the smallest that leave room for
two 4-pixel objects to move and bounce (an object crosses the box in 8 to
16 frames, so most videos bounce within the 20), and they keep a
convolution step cheap (256 positions) so that four ConvLSTM layers train
in minutes on two cores; 32 x 32 costs four times as much per frame.
16 filters with 3 x 3 kernels: two stacked 3 x 3 layers see 5 x 5
pixels per step, more than the 2 pixels an object moves. FIXME
"""

import argparse
import time

import numpy as np

import numlstm
from numlstm import callbacks, layers

SIZE, INPUT_FRAMES, OUTPUT_FRAMES = 16, 10, 10
SPEED = (0.5, 1.0)  # pixels per frame, drawn per object


def build_model(filters, kernel_size):
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

    rows = [("input frames 1-10", inputs), ("true frames 11-20", true), ("predicted", predicted),
            ("copy of frame 10", copied)]
    fig, axes = plt.subplots(len(rows), OUTPUT_FRAMES, figsize=(OUTPUT_FRAMES * 1.1, len(rows) * 1.25),
                             layout="constrained")
    for row, (label, video) in zip(axes, rows):
        for t, ax in enumerate(row):
            ax.imshow(video[t, :, :, 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if label.startswith("input"):
                ax.set_title(f"t={t + 1}", fontsize=8)
            elif label.startswith("true"):
                ax.set_title(f"t={t + 1 + INPUT_FRAMES}", fontsize=8)
        row[0].set_ylabel(label, fontsize=8)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="a small, quick run for a smoke test (about FIXME s)")
    parser.add_argument("--epochs", type=int, default=None, help="most epochs (early stopping may end sooner); "
                        "default 20, or 3 with --fast")
    parser.add_argument("--train", type=int, default=None, help="training videos (default 1024, or 256 with --fast)")
    parser.add_argument("--filters", type=int, default=None, help="filters per ConvLSTM layer (default 12, or 8 "
                        "with --fast)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the videos and of the weights (default 0)")
    parser.add_argument("--out", default="next_frame.png", help="the PNG strip (needs matplotlib; default "
                        "%(default)s)")
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

    model = build_model(filters, 3)
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
