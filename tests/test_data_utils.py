"""numlstm.utils' pad_sequences, to_categorical and timeseries_dataset_from_array, as Keras 3's.

The hand-computed tests run everywhere; the comparisons with keras.utils run
where Keras 3 is installed (timeseries_dataset_from_array also needs
TensorFlow, which Keras builds its dataset with).
"""

import os

import numpy as np
import pytest

import numlstm
from numlstm import layers
from numlstm.utils import TimeseriesDataset, pad_sequences, timeseries_dataset_from_array, to_categorical


# -- pad_sequences ---------------------------------------------------------------------------
def test_pad_sequences_as_documented_by_keras():
    sequences = [[1], [2, 3], [4, 5, 6]]
    assert pad_sequences(sequences).tolist() == [[0, 0, 1], [0, 2, 3], [4, 5, 6]]
    assert pad_sequences(sequences, value=-1).tolist() == [[-1, -1, 1], [-1, 2, 3], [4, 5, 6]]
    assert pad_sequences(sequences, padding="post").tolist() == [[1, 0, 0], [2, 3, 0], [4, 5, 6]]
    assert pad_sequences(sequences, maxlen=2).tolist() == [[0, 1], [2, 3], [5, 6]]
    assert pad_sequences(sequences, maxlen=2, truncating="post").tolist() == [[0, 1], [2, 3], [4, 5]]
    assert pad_sequences(sequences).dtype == np.int32


def test_pad_sequences_edge_cases():
    assert pad_sequences([[], [1, 2]]).tolist() == [[0, 0], [1, 2]]
    assert pad_sequences([[], []]).shape == (2, 0)
    assert pad_sequences([], maxlen=3).shape == (0, 3)
    assert pad_sequences([[1, 2]], maxlen=0).shape == (1, 0)
    assert pad_sequences([[1.7, -2.2]]).tolist() == [[1, -2]]  # int32 truncates, as in Keras
    np.testing.assert_array_equal(pad_sequences([[1.5], [2.5, 3.5]], dtype="float32", value=np.nan),
                                  np.array([[np.nan, 1.5], [2.5, 3.5]], np.float32))
    vectors = pad_sequences([np.ones((1, 2)), np.zeros((3, 2))], dtype="float64")
    assert vectors.shape == (2, 3, 2) and vectors[0, :2].sum() == 0 and vectors[0, 2].tolist() == [1, 1]
    assert pad_sequences([["a", "b"], ["c"]], dtype=object, value="").tolist() == [["a", "b"], ["", "c"]]


@pytest.mark.parametrize("arguments,error,message", [
    ({"sequences": 5}, ValueError, "sequences must be a list of sequences"),
    ({"sequences": [[1], 2]}, ValueError, "item 1 is 2"),
    ({"sequences": []}, ValueError, "maxlen must be given"),
    ({"sequences": [[1]], "padding": "middle"}, ValueError, "padding must be 'pre' or 'post'"),
    ({"sequences": [[1]], "truncating": "both"}, ValueError, "truncating must be 'pre' or 'post'"),
    ({"sequences": [[1]], "maxlen": -1}, ValueError, "maxlen must be >= 0"),
    ({"sequences": [[1]], "maxlen": 2.0}, TypeError, "maxlen must be an int or None"),
    ({"sequences": [[1]], "value": "x"}, ValueError, "use dtype=object for strings"),
    ({"sequences": [np.ones((1, 2)), np.ones((1, 3))], "dtype": "float64"}, ValueError,
     r"items of sequence 1 have shape"),
])
def test_pad_sequences_bad_input(arguments, error, message):
    with pytest.raises(error, match=message):
        pad_sequences(**arguments)


# -- to_categorical --------------------------------------------------------------------------
def test_to_categorical():
    np.testing.assert_array_equal(to_categorical([0, 1, 2, 3], num_classes=4), np.eye(4))
    assert to_categorical([[1], [0]]).tolist() == [[0.0, 1.0], [1.0, 0.0]]  # (N, 1) loses its last axis
    assert to_categorical(np.array([[0, 2], [1, 0]])).shape == (2, 2, 3)
    assert to_categorical([1.0, 0.0]).tolist() == [[0.0, 1.0], [1.0, 0.0]]
    assert to_categorical(2, 3).tolist() == [0.0, 0.0, 1.0]
    assert to_categorical([], 3).shape == (0, 3)
    assert to_categorical([0, 1]).dtype == np.float64


@pytest.mark.parametrize("x,num_classes,error,message", [
    ([0, 3], 3, ValueError, r"class indices in \[0, 3\), got values from 0 to 3"),
    ([-1, 0], None, ValueError, r"class indices in \[0, 1\)"),
    ([0.5], None, ValueError, "whole-number class indices"),
    ([], None, ValueError, "num_classes must be given"),
    (["a"], None, TypeError, "x must hold integer class indices"),
    ([0], 0, ValueError, "num_classes must be >= 1"),
])
def test_to_categorical_bad_input(x, num_classes, error, message):
    with pytest.raises(error, match=message):
        to_categorical(x, num_classes)


# -- timeseries_dataset_from_array -------------------------------------------------------------
def _reference_windows(data, targets, sequence_length, sequence_stride=1, sampling_rate=1, start_index=None,
                       end_index=None):
    """Keras' rule written out: the windows' indices and targets in chronological order."""
    start = start_index or 0
    end = len(data) if end_index is None else end_index
    count = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        count = min(count, len(targets))
    windows, labels = [], []
    for p in range(0, max(count, 0), sequence_stride):
        windows.append([data[start + p + k * sampling_rate] for k in range(sequence_length)])
        if targets is not None:
            labels.append(targets[start + p])
    return np.array(windows), np.array(labels)


def test_the_keras_docstring_examples():
    # Example 1: indices 0..98, sequence_length=10, sampling_rate=2, sequence_stride=3
    dataset = timeseries_dataset_from_array(np.arange(99), None, 10, sequence_stride=3, sampling_rate=2,
                                            batch_size=None)
    windows = list(dataset)
    assert windows[0].tolist() == list(range(0, 20, 2)) and windows[1].tolist() == list(range(3, 23, 2))
    assert windows[-1].tolist() == list(range(78, 98, 2)) and len(dataset) == len(windows) == 27
    # Example 2: the past 10 steps predict the next one
    data = np.arange(50) * 1.5
    x, y = next(iter(timeseries_dataset_from_array(data[:-10], data[10:], sequence_length=10)))
    assert np.array_equal(x[0], data[:10]) and y[0] == data[10]
    # Example 3: non-overlapping windows of inputs and of targets
    inputs = timeseries_dataset_from_array(np.arange(100), None, 20, sequence_stride=20)
    targets = timeseries_dataset_from_array(np.arange(100) * 2, None, 20, sequence_stride=20)
    for x, y in zip(inputs, targets):
        assert np.array_equal(x[1], np.arange(20, 40)) and np.array_equal(y[1], np.arange(20, 40) * 2)


@pytest.mark.parametrize("arguments", [
    {"sequence_length": 4, "batch_size": 3},
    {"sequence_length": 3, "sequence_stride": 2, "sampling_rate": 3, "batch_size": 4},
    {"sequence_length": 2, "start_index": 5, "end_index": 17, "batch_size": 5},
    {"sequence_length": 5, "start_index": 3, "batch_size": 128},
    {"sequence_length": 20, "batch_size": 2},  # longer than the data: no windows
])
def test_windows_follow_the_keras_rule(arguments):
    data = np.random.default_rng(0).standard_normal((20, 2))
    targets = np.arange(20) * 10
    expected_x, expected_y = _reference_windows(data, targets, **{k: v for k, v in arguments.items()
                                                                   if k != "batch_size"})
    dataset = timeseries_dataset_from_array(data, targets, **arguments)
    batches = list(dataset)
    assert len(dataset) == len(batches) == -(-len(expected_x) // arguments["batch_size"])
    assert all(len(x) == arguments["batch_size"] for x, _ in batches[:-1])
    if batches:
        np.testing.assert_array_equal(np.concatenate([x for x, _ in batches]), expected_x)
        np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), expected_y)
        assert batches[0][0].shape[1:] == (arguments["sequence_length"], 2)
        assert batches[0][0].dtype == data.dtype and batches[0][1].dtype == targets.dtype


def test_shorter_targets_limit_the_windows():
    x, y = next(iter(timeseries_dataset_from_array(np.arange(10), np.arange(4) + 100, 3)))
    assert x.tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]] and y.tolist() == [100, 101, 102, 103]


def test_shuffling_is_keras_first_shuffle_and_reshuffles_each_epoch():
    data = np.arange(30)
    dataset = timeseries_dataset_from_array(data, data * 2, 4, batch_size=5, shuffle=True, seed=7)
    first = np.concatenate([y for _, y in dataset]) // 2
    expected = np.arange(27)
    np.random.RandomState(7).shuffle(expected)  # Keras' first stage
    np.testing.assert_array_equal(first, expected)
    second = np.concatenate([y for _, y in dataset]) // 2
    assert sorted(second) == list(range(27)) and not np.array_equal(first, second)
    for x, y in dataset:
        np.testing.assert_array_equal(x[:, 0], y // 2)  # windows stay with their targets
    again = timeseries_dataset_from_array(data, data * 2, 4, batch_size=5, shuffle=True, seed=7)
    np.testing.assert_array_equal(np.concatenate([y for _, y in again]) // 2, first)
    numlstm.utils.set_random_seed(3)
    a = np.concatenate(list(timeseries_dataset_from_array(data, None, 4, shuffle=True)))
    numlstm.utils.set_random_seed(3)
    b = np.concatenate(list(timeseries_dataset_from_array(data, None, 4, shuffle=True)))
    np.testing.assert_array_equal(a, b)


def test_the_dataset_is_reiterable():
    dataset = timeseries_dataset_from_array(np.arange(12.0), None, 3, batch_size=4)
    assert isinstance(dataset, TimeseriesDataset) and len(dataset) == 3 and dataset.num_samples == 10
    first, second = [b.tolist() for b in dataset], [b.tolist() for b in dataset]
    assert first == second
    assert "10 windows of 3 steps" in repr(dataset)


def test_the_batches_train_a_model():
    series = np.sin(np.arange(80) / 4.0)
    dataset = timeseries_dataset_from_array(series[:-5, None], series[5:], 5, batch_size=16)
    numlstm.utils.set_random_seed(0)
    model = numlstm.Sequential([layers.Input((5, 1)), layers.LSTM(4, dtype="float64"),
                                layers.Dense(1, dtype="float64")])
    model.compile(numlstm.optimizers.Adam(0.05), "mse")
    losses = [model.train_on_batch(x, y[:, None]) for _ in range(5) for x, y in dataset]
    assert np.mean(losses[-len(dataset):]) < np.mean(losses[:len(dataset)])


@pytest.mark.parametrize("arguments,error,message", [
    ({"sequence_length": 0}, ValueError, "sequence_length must be >= 1"),
    ({"sequence_length": 2.5}, TypeError, "sequence_length must be an int"),
    ({"sequence_length": 2, "sequence_stride": 0}, ValueError, "sequence_stride must be >= 1"),
    ({"sequence_length": 2, "sequence_stride": 10}, ValueError, "sequence_stride must be lower than the length"),
    ({"sequence_length": 2, "sampling_rate": 10}, ValueError, "sampling_rate must be lower than the length"),
    ({"sequence_length": 2, "batch_size": 0}, ValueError, "batch_size must be >= 1"),
    ({"sequence_length": 2, "start_index": -1}, ValueError, "start_index must be >= 0"),
    ({"sequence_length": 2, "start_index": 10}, ValueError, "start_index must be lower than the length"),
    ({"sequence_length": 2, "end_index": 10}, ValueError, "end_index must be lower than the length"),
    ({"sequence_length": 2, "end_index": 0}, ValueError, "end_index must be >= 1"),
    ({"sequence_length": 2, "start_index": 5, "end_index": 5}, ValueError, "end_index must be higher than start"),
    ({"sequence_length": 2, "seed": "a"}, TypeError, "seed must be an int or None"),
])
def test_timeseries_bad_input(arguments, error, message):
    with pytest.raises(error, match=message):
        timeseries_dataset_from_array(np.arange(10), None, **arguments)


def test_timeseries_targets_too_short_for_start_index():
    with pytest.raises(ValueError, match="targets is too short"):
        timeseries_dataset_from_array(np.arange(20), np.arange(6), 2, start_index=3)


# -- against Keras 3 ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("Keras runs on another backend")
    return keras


PAD_CASES = [
    ([[1], [2, 3], [4, 5, 6]], {}),
    ([[1], [2, 3], [4, 5, 6]], {"maxlen": 2}),
    ([[1], [2, 3], [4, 5, 6]], {"maxlen": 2, "truncating": "post", "padding": "post"}),
    ([[1], [2, 3], [4, 5, 6]], {"maxlen": 5, "padding": "post", "value": 9}),
    ([[], [1.5, 2.7]], {"dtype": "float32", "value": -1.0}),
    ([[], []], {}),
    ([[], [1, 2]], {"maxlen": 5}),
    ([np.ones((2, 3)), np.zeros((4, 3))], {"dtype": "float64", "maxlen": 3}),
    ([[1.7, 2.2]], {}),
    ([np.array([3, 4, 5]), [7]], {"dtype": "int64", "truncating": "post", "maxlen": 2}),
    ([["a", "b"], ["c"]], {"dtype": object, "value": ""}),
]


@pytest.mark.parametrize("sequences,arguments", PAD_CASES)
def test_pad_sequences_matches_keras(keras, sequences, arguments):
    expected = keras.utils.pad_sequences(sequences, **arguments)
    got = pad_sequences(sequences, **arguments)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("x,num_classes", [
    ([0, 1, 2, 3], None), ([[1], [2]], 4), (np.array([[0, 1], [2, 0]]), None), ([1.0, 2.0], None), (3, 5),
    ([], 3), (np.array([[[1]], [[0]]]), 2),
])
def test_to_categorical_matches_keras(keras, x, num_classes):
    expected = keras.utils.to_categorical(x, num_classes)
    got = to_categorical(x, num_classes)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("arguments", [
    {"sequence_length": 4, "batch_size": 3},
    {"sequence_length": 3, "sequence_stride": 2, "sampling_rate": 3, "batch_size": 4},
    {"sequence_length": 2, "start_index": 5, "end_index": 17, "batch_size": 5},
    {"sequence_length": 5, "batch_size": None},
])
def test_timeseries_matches_keras(keras, arguments):
    pytest.importorskip("tensorflow")  # Keras builds this dataset with tf.data
    data = np.random.default_rng(1).standard_normal((20, 2))
    targets = np.arange(20)
    expected = list(keras.utils.timeseries_dataset_from_array(data, targets, **arguments).as_numpy_iterator())
    got = list(timeseries_dataset_from_array(data, targets, **arguments))
    assert len(got) == len(expected)
    for (x, y), (ex, ey) in zip(got, expected):
        np.testing.assert_array_equal(x, ex)
        np.testing.assert_array_equal(y, ey)
