"""The CTC cases tests/test_ctc.py checks, and torch.nn.functional.ctc_loss's answers to them.

``python tests/helpers/ctc_cases.py`` rewrites tests/golden/torch_ctc.npz (run it with torch installed,
then commit it), so that the comparison with torch also runs where torch is absent; with torch installed
the tests also ask it live.
"""

import pathlib

import numpy as np

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "golden" / "torch_ctc.npz"

# The float64 cases kept in the golden file: name -> (reduction, blank)
GOLDEN_CASES = {f"{reduction}_blank{blank}": (reduction, blank) for reduction in ("mean", "sum", "none")
                for blank in (0, 4)}


def random_case(rng, samples=5, frames=12, classes=5, max_labels=4, blank=0):
    """Logits, -1-padded labels (one with a repeat, one empty, one shorter), and input lengths."""
    logits = rng.normal(size=(samples, frames, classes))
    non_blank = [k for k in range(classes) if k != blank]
    labels = rng.choice(non_blank, size=(samples, max_labels))
    labels[1, 1] = labels[1, 0]  # a repeated label needs a blank between
    labels[2, 2:] = -1
    labels[3, :] = -1  # an empty transcription
    lengths = np.full(samples, frames)
    lengths[1], lengths[2] = frames - 2, frames // 2 + 1
    return logits, labels, lengths


def torch_case(blank):
    """The inputs of the torch comparisons: 6 samples of 15 frames over 5 classes, seed 3."""
    return random_case(np.random.default_rng(3), samples=6, frames=15, classes=5, max_labels=4, blank=blank)


def torch_value_and_gradient(logits, labels, lengths, blank, reduction, zero_infinity=False):
    """torch's CTC loss of ``log_softmax(logits)`` and its gradient with respect to the logits."""
    import torch

    x = torch.tensor(logits, requires_grad=True)
    log_probs = torch.log_softmax(x, dim=-1).transpose(0, 1)
    label_lengths = torch.tensor((labels >= 0).sum(axis=1))
    targets = torch.tensor(np.where(labels < 0, blank, labels))
    value = torch.nn.functional.ctc_loss(log_probs, targets, torch.tensor(lengths), label_lengths, blank=blank,
                                         reduction=reduction, zero_infinity=zero_infinity)
    value.sum().backward()
    return value.detach().numpy(), x.grad.numpy()


if __name__ == "__main__":
    import torch

    arrays = {"torch_version": np.array(torch.__version__)}
    for name, (reduction, blank) in GOLDEN_CASES.items():
        value, gradient = torch_value_and_gradient(*torch_case(blank), blank, reduction)
        arrays[f"{name}__value"], arrays[f"{name}__gradient"] = value, gradient
    np.savez_compressed(GOLDEN, **arrays)
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes, torch {torch.__version__})")
