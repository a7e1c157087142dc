"""The CTC loss (numlstm.losses.CTC, ctc_loss) and the CTC decoders (numlstm.decoding).

Three independent references: the probability of a labelling summed over every frame-wise path, enumerated
by brute force (plain numpy, tiny cases); central finite differences in float64; and torch.nn.CTCLoss (loss
and gradient, through log_softmax: always against its answers in tests/golden/torch_ctc.npz, and live where
torch is installed) and keras.losses.CTC where installed.
"""

import itertools
import os

import numpy as np
import pytest
from helpers.ctc_cases import GOLDEN, GOLDEN_CASES, random_case, torch_case, torch_value_and_gradient
from helpers.loss_checks import finite_difference_gradient

import numlstm
from numlstm import decoding, layers, losses
from numlstm.losses import CTC, ctc_loss


def _collapse(path, blank):
    """B: repeats merged, then blanks removed."""
    merged = [label for i, label in enumerate(path) if i == 0 or label != path[i - 1]]
    return tuple(label for label in merged if label != blank)


def _labelling_probabilities(logits, blank):
    """{labelling: probability} of one sample's (T, C) logits, over all C ** T paths."""
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    totals = {}
    for path in itertools.product(range(logits.shape[1]), repeat=len(logits)):
        p = np.prod(probabilities[np.arange(len(path)), path])
        key = _collapse(path, blank)
        totals[key] = totals.get(key, 0.0) + p
    return totals


@pytest.mark.parametrize("blank", [0, 2])
def test_loss_is_minus_log_of_the_summed_path_probabilities(blank):
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(4, 5, 3))
    a, b = [k for k in range(3) if k != blank]
    labels = np.array([[a, a], [b, -1], [-1, -1], [a, b]])
    values, _ = ctc_loss(logits, labels, blank=blank, reduction="none")
    for sample in range(4):
        wanted = tuple(int(k) for k in labels[sample] if k >= 0)
        probability = _labelling_probabilities(logits[sample], blank)[wanted]
        assert values[sample] == pytest.approx(-np.log(probability), rel=1e-12)


def test_gradient_matches_finite_differences_in_float64():
    rng = np.random.default_rng(2)
    logits, labels, lengths = random_case(rng, samples=4, frames=7, classes=4, max_labels=3)
    weights = np.array([1.0, 0.5, 2.0, 1.5])
    for reduction in ("mean", "sum", "sum_over_batch_size"):
        def value(y_true, y_pred):
            return ctc_loss(y_pred, y_true, input_lengths=lengths, reduction=reduction, sample_weight=weights)[0]

        _, gradient = ctc_loss(logits, labels, input_lengths=lengths, reduction=reduction, sample_weight=weights)
        np.testing.assert_allclose(gradient, finite_difference_gradient(value, labels, logits), atol=1e-8)
        assert np.all(gradient[1, lengths[1]:] == 0) and np.all(gradient[2, lengths[2]:] == 0)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("blank", [0, 4])
def test_matches_torch(reduction, dtype, tolerance, blank):
    pytest.importorskip("torch", reason="torch (the [torch] extra) is the CTC loss's live oracle; the golden "
                                        "file below is checked without it")
    logits, labels, lengths = torch_case(blank)
    logits = logits.astype(dtype)
    ours, gradient = ctc_loss(logits, labels, input_lengths=lengths, blank=blank, reduction=reduction)
    theirs, their_gradient = torch_value_and_gradient(logits, labels, lengths, blank, reduction)
    assert gradient.dtype == dtype
    np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(gradient, their_gradient, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("name", GOLDEN_CASES)
def test_matches_torch_golden_file(name):
    """torch's answers kept in tests/golden/torch_ctc.npz (tests/helpers/ctc_cases.py), checked without torch."""
    reduction, blank = GOLDEN_CASES[name]
    logits, labels, lengths = torch_case(blank)
    ours, gradient = ctc_loss(logits, labels, input_lengths=lengths, blank=blank, reduction=reduction)
    with np.load(GOLDEN, allow_pickle=False) as golden:
        np.testing.assert_allclose(ours, golden[f"{name}__value"], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(gradient, golden[f"{name}__gradient"], rtol=1e-12, atol=1e-12)


def test_zero_infinity_matches_torch_and_without_it_the_sample_is_named():
    pytest.importorskip("torch", reason="torch (the [torch] extra) is the CTC loss's oracle")
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(3, 4, 4))
    labels = np.array([[1, 2, -1], [1, 1, 1], [3, -1, -1]])  # 1 1 1 needs 5 frames
    ours, gradient = ctc_loss(logits, labels, zero_infinity=True, reduction="sum")
    theirs, their_gradient = torch_value_and_gradient(logits, labels, np.full(3, 4), 0, "sum", True)
    assert ours == pytest.approx(float(theirs), rel=1e-12)
    np.testing.assert_allclose(gradient, their_gradient, atol=1e-12)
    assert np.all(gradient[1] == 0)
    with pytest.raises(ValueError, match=r"sample 1 \(of this batch\): its 3 labels need at least 5 frames .* but it has 4"):
        ctc_loss(logits, labels)


def test_matches_keras_ctc_with_blank_padding():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras", reason="Keras 3 (the [keras] extra) is the other oracle")
    if keras.backend.backend() != "jax":
        pytest.skip("Keras runs on another backend")
    import jax

    rng = np.random.default_rng(5)
    logits = rng.normal(size=(4, 10, 5)).astype(np.float32)
    labels = np.array([[1, 2, 2, 3], [4, 0, 0, 0], [2, 3, 0, 0], [1, 1, 1, 0]])  # Keras pads with the blank 0
    theirs, their_gradient = jax.value_and_grad(lambda p: keras.losses.CTC()(labels, p))(jax.numpy.asarray(logits))
    ours, gradient = CTC().value_and_gradient(labels, logits)  # the default reduction is Keras'
    assert ours == pytest.approx(float(theirs), rel=1e-5)
    np.testing.assert_allclose(gradient, np.asarray(their_gradient), atol=1e-5)


def test_bad_input_is_refused_with_a_clear_message():
    logits = np.zeros((2, 6, 4))
    with pytest.raises(ValueError, match="row 0 has a label after its padding"):
        ctc_loss(logits, np.array([[1, -1, 2], [1, 2, 3]]))
    with pytest.raises(ValueError, match=r"class indices in \[0, 4\) other than the blank \(0\); row 1 holds 7"):
        ctc_loss(logits, np.array([[1, 2], [7, 1]]))
    with pytest.raises(ValueError, match="labels \\(y_true\\) must be integers of shape \\(2, max_labels\\)"):
        ctc_loss(logits, np.array([[0.5, 1.0], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="input_lengths must lie between 1 and the 6 frames"):
        ctc_loss(logits, np.array([[1], [2]]), input_lengths=np.array([6, 7]))
    with pytest.raises(ValueError, match="blank must be a class index in \\[0, 4\\)"):
        ctc_loss(logits, np.array([[1], [2]]), blank=4)
    with pytest.raises(ValueError, match="reduction must be one of"):
        CTC(reduction="average")
    with pytest.raises(ValueError, match="needs one row of logits per frame \\(return_sequences=True\\)"):
        CTC().value_and_gradient(np.array([[1], [2]]), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="sample 1's does not"):
        CTC().value_and_gradient(np.array([[1], [2]]), logits, mask=np.array([[1, 1, 1, 0, 0, 0],
                                                                              [0, 1, 1, 1, 1, 1]], bool))


def test_label_lengths_read_from_blank_or_minus_one_padding():
    assert losses.label_lengths_of(np.array([[2, 1, -1], [3, 0, 0], [-1, -1, -1]])).tolist() == [2, 1, 0]
    assert losses.label_lengths_of(np.array([[0, 1, 2]]), blank=2).tolist() == [2]
    with pytest.raises(ValueError, match="row 0 has a label after its padding"):
        losses.label_lengths_of(np.array([[2, 1, 0]]), blank=2)


def _masked_ctc_model(steps, features, classes):
    model = numlstm.Sequential([layers.Input((steps, features)), layers.Masking(0.0),
                                layers.Bidirectional(layers.LSTM(8, return_sequences=True)), layers.Dense(classes)])
    model.compile(numlstm.optimizers.Adam(0.02), loss=CTC(reduction="mean"))
    return model


def test_a_model_reads_each_samples_frames_from_its_mask():
    numlstm.utils.set_random_seed(0)
    rng = np.random.default_rng(6)
    x = rng.normal(size=(3, 9, 2))
    lengths = np.array([9, 6, 4])
    x[np.arange(9) >= lengths[:, None]] = 0.0  # padding at the end, which Masking finds
    y = np.array([[1, 2], [2, -1], [1, 1]])
    model = _masked_ctc_model(9, 2, 3)
    logits = model.predict(x, verbose=0)
    wanted, _ = ctc_loss(logits, y, input_lengths=lengths)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(wanted, rel=1e-5)
    assert wanted != pytest.approx(ctc_loss(logits, y)[0], rel=1e-3)  # all 9 frames would give another loss


def test_a_model_learns_to_transcribe_and_survives_saving(tmp_path):
    """A toy transcription task: each label is a burst of its one-hot feature over 2-4 frames, with silence
    between; the model must read the bursts' order, and greedy and beam decoding must agree with it."""
    numlstm.utils.set_random_seed(0)
    rng = np.random.default_rng(7)
    samples, steps, classes = 96, 24, 4
    x = np.zeros((samples, steps, classes - 1))
    y = np.full((samples, 3), -1)
    for i in range(samples):
        count = rng.integers(1, 4)
        y[i, :count] = rng.integers(1, classes, count)
        t = 1
        for label in y[i, :count]:
            width = rng.integers(2, 5)
            x[i, t:t + width, label - 1] = 1.0
            t += width + rng.integers(1, 3)
    x += 0.05 * rng.normal(size=x.shape)
    model = numlstm.Sequential([layers.Input((steps, classes - 1)),
                                layers.Bidirectional(layers.LSTM(16, return_sequences=True)), layers.Dense(classes)])
    model.compile(numlstm.optimizers.Adam(0.01), loss="ctc")
    history = model.fit(x, y, epochs=40, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]
    logits = model.predict(x, verbose=0)
    truth = [row[row >= 0] for row in y]
    assert decoding.label_error_rate(truth, decoding.ctc_greedy_decode(logits)) < 0.05
    assert decoding.label_error_rate(truth, decoding.ctc_beam_search_decode(logits, beam_width=4)) < 0.05
    path = tmp_path / "ctc.numlstm"
    model.save(path)
    loaded = numlstm.models.load_model(path)
    assert isinstance(loaded.loss, CTC) and loaded.evaluate(x, y, verbose=0) == pytest.approx(
        model.evaluate(x, y, verbose=0), rel=1e-6)


# -- decoding -------------------------------------------------------------------------------
def test_greedy_decoding_merges_repeats_then_drops_blanks():
    best = np.array([[1, 1, 0, 1, 2, 2, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]])
    decoded = decoding.ctc_greedy_decode(np.eye(3)[best], input_lengths=np.array([6, 8]))
    assert [d.tolist() for d in decoded] == [[1, 1, 2], []]


def test_beam_search_finds_the_most_probable_labelling():
    rng = np.random.default_rng(8)
    for _ in range(6):
        logits = rng.normal(scale=1.5, size=(1, 6, 3))
        probabilities = _labelling_probabilities(logits[0], 0)
        best = max(probabilities, key=probabilities.get)
        paths = decoding.ctc_beam_search_decode(logits, beam_width=64, top_paths=3)[0]
        assert tuple(paths[0][0].tolist()) == best
        for labels, log_probability in paths:  # the beam's scores are the labellings' exact probabilities
            assert np.exp(log_probability) == pytest.approx(probabilities[tuple(labels.tolist())], rel=1e-9)


def test_edit_distance_and_label_error_rate():
    assert decoding.edit_distance("kitten", "sitting") == 3
    assert decoding.edit_distance([], [1, 2]) == 2 and decoding.edit_distance([1, 2], []) == 2
    assert decoding.label_error_rate([[1, 2, 3, 4]], [[1, 3, 4, 4, 5]]) == pytest.approx(3 / 4)  # delete 2, insert 4 and 5
    with pytest.raises(ValueError, match="as many sequences"):
        decoding.label_error_rate([[1]], [])
    with pytest.raises(ValueError, match="beam_width must be a positive integer"):
        decoding.ctc_beam_search_decode(np.zeros((1, 2, 3)), beam_width=0)


def test_metrics_beside_the_ctc_loss_are_refused_with_what_to_do_instead():
    model = numlstm.Sequential([layers.Input((10, 3)), layers.LSTM(4, return_sequences=True), layers.Dense(5)])
    with pytest.raises(ValueError, match="has the ctc loss.*score transcriptions after predict, with numlstm.decoding"):
        model.compile("adam", loss="ctc", metrics=["accuracy"])


def test_a_nan_logit_gives_a_nan_loss_as_the_other_losses_do_and_a_zero_weight_hides_it():
    logits = np.random.default_rng(9).normal(size=(3, 6, 4))
    logits[1, 2, 3] = np.nan
    values, gradient = ctc_loss(logits, np.array([[1, 2], [2, 3], [3, -1]]), reduction="none")
    assert np.isnan(values[1]) and np.all(np.isnan(gradient[1])) and np.all(np.isfinite(values[[0, 2]]))
    value, gradient = ctc_loss(logits, np.array([[1, 2], [2, 3], [3, -1]]), sample_weight=[1.0, 0.0, 1.0])
    assert np.isfinite(value) and np.all(gradient[1] == 0)


def test_settings_of_the_wrong_type_and_a_blank_among_the_labels_are_explained():
    with pytest.raises(TypeError, match="zero_infinity must be True or False, got 'yes'"):
        CTC(zero_infinity="yes")
    with pytest.raises(TypeError, match="blank must be an integer class index, got 1.5"):
        CTC(blank=1.5)
    assert repr(CTC()) == "CTC(blank=0, reduction='sum_over_batch_size', zero_infinity=False)"
    with pytest.raises(ValueError, match="shift the labels by one"):  # digit 0 left as class 0, the blank
        ctc_loss(np.zeros((1, 6, 4)), np.array([[0, 1, -1]]))


def test_label_error_rate_drops_the_padding_of_targets():
    assert decoding.label_error_rate(np.array([[3, -1], [4, 4]]), [[3], [4, 4]]) == 0.0
