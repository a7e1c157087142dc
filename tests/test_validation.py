"""Bad input reaches the user as a clear TypeError/ValueError, never a Numba error."""

import numpy as np
import pytest

import numlstm
from helpers.cases import random_lstm_args


@pytest.fixture
def args(rng):
    return random_lstm_args(rng, B=2, T=3, F=2, H=4, dtype=np.float32)


@pytest.mark.parametrize("name,value,error,match", [
    ("x", np.zeros((2, 3)), ValueError, r"x must have shape \(batch, timesteps, features\), got 2-D"),
    ("x", np.zeros((2, 3, 2, 1), np.float32), ValueError, "x must have shape"),
    ("x", np.zeros((0, 3, 2), np.float32), ValueError, "at least one batch row"),
    ("x", np.zeros((2, 3, 2), np.int64), TypeError, "x must be a float32 or float64 array, got dtype int64"),
    ("x", np.zeros((2, 3, 2), object), TypeError, "x must be a float32 or float64 array, got dtype object"),
    ("x", [[["a", "b"]]], TypeError, "x must be a float32 or float64 array"),
    ("x", np.zeros((2, 3, 2), np.float16), TypeError, "float16"),
    ("kernel", np.zeros((3, 16), np.float32), ValueError, r"kernel must have shape \(features, 4 \* units\) = \(2, 16\), got \(3, 16\)"),
    ("kernel", np.zeros((2, 16), np.float64), TypeError, "kernel has dtype float64 but x has dtype float32"),
    ("recurrent_kernel", np.zeros((4, 12), np.float32), ValueError, r"recurrent_kernel must have shape \(units, 4 \* units\)"),
    ("recurrent_kernel", np.zeros(16, np.float32), ValueError, "recurrent_kernel must have shape"),
    ("bias", np.zeros(15, np.float32), ValueError, r"bias must have shape \(4 \* units,\) = \(16,\), got \(15,\)"),
    ("h0", np.zeros((3, 4), np.float32), ValueError, r"h0 must have shape \(batch, units\) = \(2, 4\)"),
    ("c0", np.zeros((2, 4), np.int32), TypeError, "c0 must be a float32 or float64 array"),
    ("peephole", np.zeros(8, np.float32), ValueError, r"peephole must have shape \(3 \* units,\) = \(12,\)"),
    ("mask", np.ones((2, 4), bool), ValueError, r"mask must have shape \(batch, timesteps\) = \(2, 3\)"),
    ("mask", np.ones((2, 3), np.int64), TypeError, "mask must be a bool array, got dtype int64"),
])
def test_bad_forward_arguments(args, name, value, error, match):
    args[name] = value
    with pytest.raises(error, match=match):
        numlstm.lstm_forward(**args)


def test_cifg_expects_three_gates(args):
    with pytest.raises(ValueError, match=r"recurrent_kernel must have shape \(units, 3 \* units\) for gates f, c, o"):
        numlstm.lstm_forward(**{**args, "cifg": True})


@pytest.mark.parametrize("name", ["x", "kernel", "recurrent_kernel", "bias", "h0", "c0"])
def test_nan_is_reported_with_its_index(args, name):
    args.setdefault("h0", np.zeros((2, 4), np.float32))
    args.setdefault("c0", np.zeros((2, 4), np.float32))
    bad = args[name].copy()
    index = (0,) * (bad.ndim - 1) + (1,)
    bad[index] = np.nan
    args[name] = bad
    with pytest.raises(ValueError, match=rf"{name} contains NaN or infinity \(first at index \({', '.join(map(str, index))},?\)\)"):
        numlstm.lstm_forward(**args)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_scan_counts_exactly_the_nans_and_infinities(dtype):
    from numlstm.kernels.checks import count_non_finite, first_non_finite

    info = np.finfo(dtype)
    edges = [0.0, -0.0, 1.0, -1.0, info.max, -info.max, info.tiny, info.smallest_subnormal, -info.smallest_subnormal]
    specials = [np.nan, -np.nan, np.inf, -np.inf]
    rng = np.random.default_rng(3)
    for length in (1, 7, 8, 33, 1000):  # around the vector width and its remainder loop
        values = rng.choice(np.array(edges + specials, dtype), length)
        values[rng.random(length) < 0.5] = rng.choice(np.array(edges, dtype))  # mostly finite
        assert count_non_finite(values) == np.count_nonzero(~np.isfinite(values)), values
        bad = np.flatnonzero(~np.isfinite(values))
        assert first_non_finite(values) == (bad[0] if len(bad) else -1)
    assert count_non_finite(np.array(edges, dtype)) == 0
    payload_nan = np.array([0x7FC00001], np.uint32).view(np.float32).astype(dtype)  # a NaN with payload bits
    assert count_non_finite(payload_nan) == 1


def test_nan_propagates_when_checks_are_off(args):
    args["x"][1, 1, 0] = np.nan
    out, h_n, _, _ = numlstm.lstm_forward(**args, check_finite=False)
    assert np.isnan(out[1, 1:]).all() and np.isnan(h_n[1]).all()
    assert np.isfinite(out[0]).all() and np.isfinite(out[1, 0]).all(), "other rows and earlier steps stay clean"


def test_infinite_gradient_is_rejected(args):
    out, _, _, ws = numlstm.lstm_forward(**args)
    d_out = np.ones_like(out)
    d_out[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="d_outputs contains NaN or infinity"):
        numlstm.lstm_backward(ws, d_out)


@pytest.mark.parametrize("name,value,error,match", [
    ("d_outputs", np.zeros((2, 3, 5), np.float32), ValueError, r"d_outputs must have shape \(batch, timesteps, units\) = \(2, 3, 4\)"),
    ("d_outputs", np.zeros((2, 3, 4), np.float64), TypeError,
     r"d_outputs has dtype float64 but the forward pass ran in float32; pass d_outputs.astype\(np.float32\)"),
    ("d_h_n", np.zeros((2, 3), np.float32), ValueError, r"d_h_n must have shape \(batch, units\)"),
    ("d_c_n", np.zeros((2, 4), np.int8), TypeError, "d_c_n must be a float32 or float64 array"),
])
def test_bad_backward_arguments(args, name, value, error, match):
    _, _, _, ws = numlstm.lstm_forward(**args)
    with pytest.raises(error, match=match):
        numlstm.lstm_backward(ws, **{name: value})
    assert not ws.consumed, "a rejected call leaves the workspace usable"


def test_backward_needs_a_workspace():
    with pytest.raises(TypeError, match="workspace must be the LSTMWorkspace returned by lstm_forward"):
        numlstm.lstm_backward({"gates": None})


def test_backward_after_an_inference_pass_says_it_kept_no_workspace(rng):
    args = random_lstm_args(rng)
    workspace = numlstm.lstm_forward(**args, keep_workspace=False)[3]
    with pytest.raises(TypeError, match=r"got NoneType; lstm_forward\(..., keep_workspace=False\) keeps none"):
        numlstm.lstm_backward(workspace)


def test_non_contiguous_arrays_are_accepted(args):
    expected, _, _, _ = numlstm.lstm_forward(**args)
    strided = {
        **args,
        "x": np.asfortranarray(args["x"]),
        "kernel": np.ascontiguousarray(args["kernel"].T).T,
        "recurrent_kernel": np.repeat(args["recurrent_kernel"], 2, axis=1)[:, ::2],
    }
    assert not strided["x"].flags.c_contiguous and not strided["recurrent_kernel"].flags.c_contiguous
    got, _, _, ws = numlstm.lstm_forward(**strided)
    np.testing.assert_array_equal(got, expected)
    grads = numlstm.lstm_backward(ws, np.ones_like(got)[:, ::-1])
    assert np.isfinite(grads.dx).all()


def test_lists_of_floats_are_not_silently_cast(args):
    with pytest.raises(TypeError, match="x must be a float32 or float64 array, got dtype int64"):
        numlstm.lstm_forward(**{**args, "x": [[[1, 2]] * 3] * 2})


def test_a_model_names_the_input_shape_it_takes():
    """The whole x's shape and the model's, not a batch's shape from deep inside a layer."""
    model = numlstm.Sequential([numlstm.layers.Input((20, 1)), numlstm.layers.LSTM(4), numlstm.layers.Dense(1)])
    model.compile("adam", "mse")
    expected = r"x has shape \(64, 20, 2\), but sequential\w* takes input of shape \(None, 20, 1\)"
    with pytest.raises(ValueError, match=expected):
        model.fit(np.zeros((64, 20, 2)), np.zeros((64, 1)), verbose=0)
    with pytest.raises(ValueError, match=r"x has shape \(64, 20\), but .*\(None, 20, 1\)$"):
        model.predict(np.zeros((64, 20)))
    with pytest.raises(ValueError, match=r"x has shape \(20, 1\), .*; for one sample, add the batch axis: x\[None\]"):
        model.predict(np.zeros((20, 1)))
    variable = numlstm.Sequential([numlstm.layers.Input((None, 3)), numlstm.layers.LSTM(2)])
    variable.predict(np.zeros((2, 7, 3)))  # any length
    with pytest.raises(ValueError, match=r"x has shape \(2, 9, 1\).*\(None, 20, 1\); for sequences of any length, "
                                         r"declare the input as numlstm.Input\(\(None, 1\)\)$"):
        model.predict(np.zeros((2, 9, 1)))  # Input((20, 1)) declares 20 steps; Input((None, 1)) takes any
    with pytest.raises(ValueError, match=r"takes input of shape \(None, None, 3\)"):
        variable.predict(np.zeros((2, 7, 4)))


def test_repeated_calls_check_every_batch():
    """A model called in a loop checks the shapes of a kind of batch once; each batch's values still, and a
    batch of another shape, or after compile with another loss, all over again."""
    rng = np.random.default_rng(7)
    model = numlstm.Sequential([numlstm.layers.Input((6, 2)), numlstm.layers.LSTM(3), numlstm.layers.Dense(2)])
    model.compile("sgd", "mse")
    x = rng.standard_normal((4, 6, 2)).astype(np.float32)
    y = rng.standard_normal((4, 2)).astype(np.float32)
    for _ in range(2):
        model(x)
        model.train_on_batch(x, y)
    bad_x, bad_y = x.copy(), y.copy()
    bad_x[3, 5, 1] = np.nan
    bad_y[2, 0] = np.inf
    with pytest.raises(ValueError, match=r"x contains NaN or infinity at index \(3, 5, 1\)"):
        model(bad_x)
    with pytest.raises(ValueError, match=r"x contains NaN or infinity at index \(3, 5, 1\)"):
        model.train_on_batch(bad_x, y)
    with pytest.raises(ValueError, match=r"y contains NaN or infinity at index \(2, 0\)"):
        model.train_on_batch(x, bad_y)
    with pytest.raises(ValueError, match=r"x and y must hold the same number of samples, got 4 and 3"):
        model.train_on_batch(x, y[:3])
    with pytest.raises(ValueError, match=r"x has shape \(4, 6, 3\), but .* \(None, 6, 2\)"):
        model(np.zeros((4, 6, 3), np.float32))
    with pytest.raises(ValueError, match=r"x has shape \(4, 6, 3\), but .* \(None, 6, 2\)"):
        model.train_on_batch(np.zeros((4, 6, 3), np.float32), y)
    with pytest.raises(ValueError, match="y does not fit the model's output"):
        model.train_on_batch(x, np.zeros((4, 3), np.float32))
    model.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="y does not fit the model's output"):
        model.train_on_batch(x, y)
    assert np.isfinite(model.train_on_batch(x, np.array([0, 1, 1, 0])))


def test_a_misspelt_monitor_is_named_as_such():
    model = numlstm.Sequential([numlstm.layers.Input((5, 1)), numlstm.layers.LSTM(2), numlstm.layers.Dense(1)])
    model.compile("adam", "mse")
    x, y = np.zeros((8, 5, 1)), np.zeros((8, 1))
    with pytest.raises(ValueError, match=r"'val_los', which is not in the logs \(loss, val_loss\); check the name"):
        model.fit(x, y, validation_split=0.5, verbose=0, callbacks=[numlstm.callbacks.EarlyStopping(monitor="val_los")])
    with pytest.raises(ValueError, match="pass validation data"):
        model.fit(x, y, verbose=0, callbacks=[numlstm.callbacks.EarlyStopping(monitor="val_loss")])


@pytest.mark.parametrize("make,error,match", [
    (lambda c: c.EarlyStopping(monitor=3), TypeError, "EarlyStopping: monitor must be a non-empty string, got 3"),
    (lambda c: c.EarlyStopping(monitor=None), TypeError, "monitor must be a non-empty string"),
    (lambda c: c.EarlyStopping(patience=-1), ValueError, "patience must be >= 0, got -1"),
    (lambda c: c.EarlyStopping(patience=1.5), TypeError, "patience must be an int"),
    (lambda c: c.EarlyStopping(patience="3"), TypeError, "patience must be an int"),
    (lambda c: c.EarlyStopping(restore_best_weights="no"), TypeError, "restore_best_weights must be True or False"),
    (lambda c: c.EarlyStopping(start_from_epoch=-2), ValueError, "start_from_epoch must be >= 0"),
    (lambda c: c.EarlyStopping(baseline="x"), TypeError, "baseline must be a number or None"),
    (lambda c: c.EarlyStopping(min_delta="a"), TypeError, "min_delta must be a number"),
    (lambda c: c.ReduceLROnPlateau(monitor=3), TypeError, "ReduceLROnPlateau: monitor"),
    (lambda c: c.ReduceLROnPlateau(cooldown=-1), ValueError, "cooldown must be >= 0"),
    (lambda c: c.ReduceLROnPlateau(min_lr="0"), TypeError, "min_lr must be a number"),
    (lambda c: c.ModelCheckpoint(3), TypeError, "ModelCheckpoint: filepath must be a file path"),
    (lambda c: c.ModelCheckpoint("m.numlstm", save_best_only="yes"), TypeError, "save_best_only must be True or False"),
    (lambda c: c.CSVLogger(3), TypeError, "CSVLogger: filename must be a file path"),
    (lambda c: c.CSVLogger("log.csv", separator=""), TypeError, "separator must be a non-empty string"),
])
def test_bad_callback_arguments_fail_at_construction(make, error, match):
    with pytest.raises(error, match=match):
        make(numlstm.callbacks)


def test_callback_arguments_take_numpy_scalars():
    stop = numlstm.callbacks.EarlyStopping(patience=np.int64(3), restore_best_weights=np.bool_(True),
                                           baseline=np.float32(0.5))
    assert (stop.patience, stop.restore_best_weights, stop.baseline) == (3, True, 0.5)


def test_backward_passes_take_no_gradient_at_all():
    """An empty set of gradients to check for NaN once failed Numba typing (an empty tuple)."""
    workspace = numlstm.lstm_forward(np.ones((2, 3, 4)), np.ones((4, 8)), np.ones((2, 8)))[3]
    assert not numlstm.lstm_backward(workspace).dx.any()
    workspace = numlstm.convlstm_forward(np.ones((2, 3, 4, 1)), np.ones((3, 1, 8)), np.ones((3, 2, 8)))[3]
    assert not numlstm.convlstm_backward(workspace).dx.any()


def test_read_only_and_writable_arrays_mix():
    x = np.ones((2, 3, 4))
    x.setflags(write=False)
    kernel = np.ones((4, 8))
    kernel[1, 2] = np.inf
    with pytest.raises(ValueError, match=r"kernel contains NaN or infinity \(first at index \(1, 2\)\)"):
        numlstm.lstm_forward(x, kernel, np.ones((2, 8)))


@pytest.mark.parametrize("make,match", [
    (lambda: numlstm.optimizers.Adam(learning_rate="0.01"), "Adam: learning_rate must be a number, got '0.01'"),
    (lambda: numlstm.optimizers.SGD(learning_rate="0.1"), "SGD: learning_rate must be a number"),
    (lambda: numlstm.optimizers.SGD(momentum="0.9"), "SGD: momentum must be a number"),
    (lambda: numlstm.optimizers.Adam(beta_1="0.9"), "Adam: beta_1 must be a number"),
    (lambda: numlstm.optimizers.AdamW(weight_decay=None), "AdamW: weight_decay must be a number"),
    (lambda: numlstm.optimizers.RMSprop(rho="x"), "RMSprop: rho must be a number"),
    (lambda: numlstm.optimizers.Adagrad(epsilon="1e-7"), "Adagrad: epsilon must be a number"),
    (lambda: numlstm.optimizers.Adam(clipnorm="1"), "Adam: clipnorm must be a number or None"),
    (lambda: numlstm.layers.Dropout("0.5"), "rate must be a number, got '0.5'"),
    (lambda: numlstm.layers.LSTM(8, dropout="0.1"), "dropout must be a number"),
    (lambda: numlstm.layers.LSTM(8, recurrent_dropout=True), "recurrent_dropout must be a number, got True"),
    (lambda: numlstm.preprocessing.time_split(100, test_fraction="0.2"), "test_fraction must be a number"),
])
def test_a_string_for_a_number_is_named(make, match):
    """A string where a number belongs fails at construction, naming the argument, not as a comparison of a
    string with a number."""
    with pytest.raises(TypeError, match=match):
        make()


def test_a_string_validation_split_is_named():
    model = numlstm.Sequential([numlstm.layers.Input((5, 1)), numlstm.layers.LSTM(2), numlstm.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(TypeError, match="validation_split must be a number, got '0.2'"):
        model.fit(np.zeros((8, 5, 1)), np.zeros((8, 1)), validation_split="0.2", verbose=0)
