"""The CTC loss and its gradient: numlstm's Numba recursion beside ``torch.nn.functional.ctc_loss``.

Each size is (batch, frames, classes, labels): ``digits`` is ``examples/digit_sequences.py``'s batch (32
strings of up to 5 digits over ~150 frames of 20 ms, 10 digits and the blank), ``characters`` a character
recogniser's (28 letters, space and apostrophe, 60 characters over 400 frames). Both compute the loss
and the gradient with respect to the logits in float32; torch through ``log_softmax`` and autograd, as a
torch user trains. ``track_speedup`` is torch's median over numlstm's, from one process.
"""

import time

import numpy as np

SIZES = {"digits": (32, 150, 11, 5), "characters": (32, 400, 30, 60)}


def _case(size):
    batch, frames, classes, labels = SIZES[size]
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(batch, frames, classes)).astype(np.float32)
    lengths = rng.integers(labels // 2, labels + 1, batch)
    targets = rng.integers(1, classes, (batch, labels))
    targets[np.arange(labels) >= lengths[:, None]] = -1
    return logits, targets


class NumlstmCTC:
    params = list(SIZES)
    param_names = ["size"]

    def setup(self, size):
        from numlstm.losses import CTC

        self.logits, self.targets = _case(size)
        self.loss = CTC()
        self.time_loss_and_gradient(size)

    def time_loss_and_gradient(self, size):
        self.loss.value_and_gradient(self.targets, self.logits)


class TorchCTC:
    params = list(SIZES)
    param_names = ["size"]

    def setup(self, size):
        try:
            import torch
        except ImportError:
            raise NotImplementedError("torch is not installed (the torch extra)")
        logits, targets = _case(size)
        self.torch = torch
        self.logits = torch.tensor(logits, requires_grad=True)
        self.targets = torch.tensor(np.where(targets < 0, 0, targets))
        self.target_lengths = torch.tensor((targets >= 0).sum(axis=1))
        self.input_lengths = torch.full((len(targets),), logits.shape[1], dtype=torch.long)
        self.time_loss_and_gradient(size)

    def time_loss_and_gradient(self, size):
        self.logits.grad = None
        log_probs = self.torch.log_softmax(self.logits, dim=-1).transpose(0, 1)
        loss = self.torch.nn.functional.ctc_loss(log_probs, self.targets, self.input_lengths, self.target_lengths)
        loss.backward()


class CTCSpeedup:
    """torch's time over numlstm's for the same loss and gradient, both timed here in alternating rounds."""

    params = list(SIZES)
    param_names = ["size"]

    def setup(self, size):
        self.ours, self.theirs = NumlstmCTC(), TorchCTC()
        self.ours.setup(size)
        self.theirs.setup(size)

    def track_speedup(self, size):
        ours, theirs = [], []
        for _ in range(15):
            for timings, bench in ((ours, self.ours), (theirs, self.theirs)):
                start = time.perf_counter()
                bench.time_loss_and_gradient(size)
                timings.append(time.perf_counter() - start)
        return float(np.median(theirs) / np.median(ours))

    track_speedup.unit = "x"
