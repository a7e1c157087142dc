"""The ConvLSTM kernels (``numlstm.convlstm_forward``/``convlstm_backward``) against their oracles, and their
argument checks.

- The forward pass against the plain-numpy reference (tests/helpers/convlstm_reference.py, itself checked
  against Keras 3 in test_convlstm_reference.py) over a grid of geometries and options: float64 to 1e-12,
  float32 to 1e-5 relative (and 1e-6 absolute, for values near zero) of the reference run in float64 on the
  same float32 numbers.
- Every gradient of ``convlstm_backward`` against torch autograd through a ConvLSTM written here with
  ``torch.nn.functional.conv1d/conv2d`` in float64: a second oracle beside the finite differences of
  test_convlstm_gradcheck.py.
- Bad arguments raise ``ValueError``/``TypeError`` naming the argument, never a Numba typing error.
"""

import importlib
import zlib

import numpy as np
import pytest
from helpers.convlstm_reference import conv_output_size
from helpers.convlstm_reference import convlstm_forward as reference_forward
from numba.core.errors import NumbaError

import numlstm

convlstm_module = importlib.import_module("numlstm.convlstm")

TOLERANCES = {np.float64: {"rtol": 1e-12, "atol": 1e-12}, np.float32: {"rtol": 1e-5, "atol": 1e-6}}


def _tuple(value, rank):
    return (value,) * rank if np.isscalar(value) else tuple(value)


def _make_case(seed_name, rank=2, spatial=None, kernel_size=3, recurrent_kernel_size=None, strides=1,
               padding="valid", dilation_rate=1, batch=2, steps=4, channels=3, filters=4, cifg=False,
               peephole=False, initial_state=False, mask=None, zero_output_for_mask=False, recurrent_mask=False,
               reverse=False, bias=True, dtype=np.float64, non_contiguous=False, x_scale=1.0):
    """Random float64 arrays (cast to ``dtype``) and options for one forward call; ``mask`` is None, "random"
    (with a fully masked sequence and a masked first step) or "none-masked"; ``x_scale`` the spread of x
    (large: saturated gates)."""
    rng = np.random.default_rng(zlib.crc32(seed_name.encode()))
    spatial = spatial or ((7, 6) if rank == 2 else (9,))
    kernel_size = _tuple(kernel_size, rank)
    recurrent_kernel_size = _tuple(recurrent_kernel_size or kernel_size, rank)
    gates = 3 if cifg else 4
    state_spatial = tuple(conv_output_size(n, k, s, d, padding)[0] for n, k, s, d in zip(
        spatial, kernel_size, _tuple(strides, rank), _tuple(dilation_rate, rank)))
    state = (batch,) + state_spatial + (filters,)
    args = {"x": rng.normal(scale=x_scale, size=(batch, steps) + spatial + (channels,)),
            "kernel": rng.normal(scale=0.3, size=kernel_size + (channels, gates * filters)),
            "recurrent_kernel": rng.normal(scale=0.3, size=recurrent_kernel_size + (filters, gates * filters))}
    if bias:
        args["bias"] = rng.normal(scale=0.3, size=gates * filters)
    if peephole:
        args["peephole"] = rng.normal(scale=0.5, size=state_spatial + ((gates - 1) * filters,))
    if initial_state:
        args["h0"] = rng.normal(scale=0.5, size=state)
        args["c0"] = rng.normal(scale=0.8, size=state)
    if recurrent_mask:
        args["recurrent_mask"] = (rng.random(state) > 0.3) / 0.7
    args = {name: value.astype(dtype) for name, value in args.items()}
    if non_contiguous:  # the same values, through strided views
        args["x"] = np.moveaxis(np.ascontiguousarray(np.moveaxis(args["x"], 1, 0)), 0, 1)
        args["kernel"] = np.asfortranarray(args["kernel"])
        assert not args["x"].flags.c_contiguous and not args["kernel"].flags.c_contiguous
    options = {"strides": strides, "padding": padding, "dilation_rate": dilation_rate, "cifg": cifg,
               "zero_output_for_mask": zero_output_for_mask}
    if mask == "random":
        m = rng.random((batch, steps)) > 0.35
        m[-1, 0] = False
        if batch > 1:
            m[0] = False
            m[1, -1] = True
        args["mask"] = m
    elif mask == "none-masked":
        args["mask"] = np.ones((batch, steps), bool)
    return args, options, reverse


def _compare_forward(args, options, reverse):
    """numlstm against the reference; returns the largest absolute and relative differences."""
    got = numlstm.convlstm_forward(**args, **options, reverse=reverse)
    dtype = args["x"].dtype.type
    reference_args = {name: (value.astype(np.float64) if value.dtype != np.bool_ else value)
                      for name, value in args.items()}
    outputs, h, c = reference_forward(**reference_args, **options, go_backwards=reverse)
    if reverse:  # numlstm keeps the caller's time order; the reference (as Keras) returns processing order
        outputs = outputs[:, ::-1]
    worst = [0.0, 0.0]
    for label, g, e in zip(["outputs", "h_n", "c_n"], got[:3], [outputs, h, c]):
        assert g.dtype == dtype, label
        assert g.shape == e.shape, label
        np.testing.assert_allclose(g, e, err_msg=label, **TOLERANCES[dtype])
        difference = np.abs(g.astype(np.float64) - e)
        worst[0] = max(worst[0], float(difference.max()))
        worst[1] = max(worst[1], float((difference / np.maximum(np.abs(e), 1e-3)).max()))
    return worst


# name: options of _make_case
GRID = {
    # geometry, ConvLSTM1D
    "1d-valid": {"rank": 1},
    "1d-same": {"rank": 1, "padding": "same"},
    "1d-same-stride-2": {"rank": 1, "padding": "same", "strides": 2},
    "1d-valid-stride-3-even-kernel": {"rank": 1, "kernel_size": 2, "strides": 3},
    "1d-same-dilation-2": {"rank": 1, "padding": "same", "dilation_rate": 2},
    "1d-valid-dilation-3": {"rank": 1, "dilation_rate": 3},
    "1d-same-even-kernel-4": {"rank": 1, "padding": "same", "kernel_size": 4},
    # geometry, ConvLSTM2D
    "2d-valid": {},
    "2d-same": {"padding": "same"},
    "2d-valid-strides-2-1": {"kernel_size": (3, 2), "strides": (2, 1)},
    "2d-same-strides-2": {"padding": "same", "strides": 2},
    "2d-same-strides-1-3": {"padding": "same", "strides": (1, 3)},
    "2d-valid-dilation-2": {"dilation_rate": 2},
    "2d-same-dilation-1-2": {"padding": "same", "dilation_rate": (1, 2)},
    "2d-same-even-2x2": {"padding": "same", "kernel_size": 2},
    "2d-valid-even-4x2": {"kernel_size": (4, 2)},
    "2d-same-even-2x4-stride-2": {"padding": "same", "kernel_size": (2, 4), "strides": 2},
    "2d-recurrent-kernel-2x2": {"padding": "same", "recurrent_kernel_size": 2},
    "2d-1x1-kernel-5x3-recurrent": {"kernel_size": 1, "recurrent_kernel_size": (5, 3)},
    "2d-kernel-larger-than-input-same": {"spatial": (3, 2), "kernel_size": (5, 5), "padding": "same"},
    "2d-no-bias": {"padding": "same", "bias": False},
    "2d-non-contiguous": {"padding": "same", "non_contiguous": True},
    # direction, states
    "1d-reverse": {"rank": 1, "padding": "same", "reverse": True},
    "2d-reverse-initial-state": {"padding": "same", "reverse": True, "initial_state": True},
    "1d-initial-state": {"rank": 1, "initial_state": True},
    "2d-valid-initial-state": {"initial_state": True, "strides": (1, 2)},
    # peepholes, CIFG
    "1d-peephole": {"rank": 1, "padding": "same", "peephole": True, "initial_state": True},
    "2d-peephole": {"peephole": True, "initial_state": True},
    "2d-peephole-reverse": {"padding": "same", "peephole": True, "initial_state": True, "reverse": True},
    "1d-cifg": {"rank": 1, "cifg": True, "initial_state": True},
    "2d-cifg": {"padding": "same", "cifg": True},
    "2d-cifg-peephole": {"cifg": True, "peephole": True, "initial_state": True, "strides": 2},
    "2d-cifg-peephole-reverse": {"padding": "same", "cifg": True, "peephole": True, "initial_state": True,
                                 "reverse": True},
    # masks
    "1d-mask": {"rank": 1, "mask": "random", "initial_state": True},
    "2d-mask": {"padding": "same", "mask": "random", "initial_state": True, "steps": 5},
    "2d-mask-zero-output": {"padding": "same", "mask": "random", "zero_output_for_mask": True,
                            "initial_state": True, "steps": 5},
    "2d-mask-reverse-peephole": {"padding": "same", "mask": "random", "reverse": True, "peephole": True,
                                 "initial_state": True, "steps": 5},
    "1d-mask-zero-output-cifg-reverse": {"rank": 1, "mask": "random", "zero_output_for_mask": True,
                                         "cifg": True, "reverse": True, "initial_state": True, "steps": 5},
    "2d-mask-all-true": {"mask": "none-masked", "zero_output_for_mask": True},
    "1d-recurrent-mask": {"rank": 1, "padding": "same", "recurrent_mask": True},
    "2d-recurrent-mask": {"padding": "same", "recurrent_mask": True, "initial_state": True},
    "2d-everything": {"padding": "same", "strides": (2, 1), "kernel_size": (3, 2), "peephole": True,
                      "cifg": True, "mask": "random", "zero_output_for_mask": True, "recurrent_mask": True,
                      "reverse": True, "initial_state": True, "steps": 5},
    "2d-everything-standard": {"dilation_rate": (2, 1), "peephole": True, "mask": "random",
                               "recurrent_mask": True, "reverse": True, "initial_state": True, "steps": 5},
    "2d-recurrent-kernel-even-4x4": {"spatial": (3, 5), "padding": "same", "recurrent_kernel_size": 4,
                                     "cifg": True},
    "2d-saturated-gates": {"padding": "same", "peephole": True, "initial_state": True, "x_scale": 300.0},
    "2d-saturated-gates-cifg": {"padding": "same", "peephole": True, "cifg": True, "x_scale": 1e4},
    # ConvLSTM3D: the kernels take any rank
    "3d-same-peephole": {"rank": 3, "spatial": (3, 4, 3), "kernel_size": 2, "padding": "same", "peephole": True,
                         "initial_state": True},
    "3d-valid-strides-mask": {"rank": 3, "spatial": (5, 4, 3), "kernel_size": (3, 2, 1), "strides": (2, 1, 1),
                              "mask": "random"},
    # sizes
    "2d-batch-1": {"padding": "same", "batch": 1, "peephole": True},
    "2d-1x1-grid": {"spatial": (1, 1), "kernel_size": 1, "initial_state": True},
    "2d-1x1-grid-3x3-same": {"spatial": (1, 1), "padding": "same", "peephole": True, "initial_state": True},
    "1d-1-position": {"rank": 1, "spatial": (1,), "kernel_size": 1, "batch": 1, "steps": 1},
    "2d-one-timestep": {"padding": "same", "steps": 1, "initial_state": True, "peephole": True},
    "2d-one-timestep-masked-reverse": {"steps": 1, "mask": "random", "reverse": True, "initial_state": True},
    "2d-one-channel-one-filter": {"padding": "same", "channels": 1, "filters": 1, "peephole": True},
    "2d-large": {"batch": 5, "steps": 6, "spatial": (9, 7), "filters": 8, "padding": "same", "peephole": True,
                 "initial_state": True},
    "2d-large-mask-recurrent-mask": {"batch": 5, "steps": 6, "spatial": (9, 7), "filters": 8,
                                     "padding": "same", "mask": "random", "recurrent_mask": True,
                                     "reverse": True, "cifg": True},
    "1d-more-positions-than-a-block": {"rank": 1, "spatial": (1100,), "steps": 3, "filters": 2,
                                       "padding": "same", "peephole": True},
    "2d-recurrent-kernel-larger-than-state": {"spatial": (2, 2), "padding": "same", "recurrent_kernel_size": 5,
                                              "peephole": True, "initial_state": True},
    "1d-large": {"rank": 1, "batch": 7, "steps": 6, "spatial": (40,), "filters": 8, "channels": 5,
                 "padding": "same", "initial_state": True},
    # float32
    "float32-1d-valid": {"rank": 1, "dtype": np.float32},
    "float32-2d-same-peephole": {"padding": "same", "peephole": True, "initial_state": True,
                                 "dtype": np.float32},
    "float32-2d-everything": {"padding": "same", "strides": 2, "peephole": True, "cifg": True,
                              "mask": "random", "recurrent_mask": True, "reverse": True, "initial_state": True,
                              "dtype": np.float32},
    "float32-2d-large": {"batch": 5, "steps": 6, "spatial": (9, 7), "filters": 8, "padding": "same",
                         "mask": "random", "zero_output_for_mask": True, "dtype": np.float32},
}


@pytest.mark.parametrize("name", GRID)
def test_forward_matches_reference(name):
    args, options, reverse = _make_case(name, **GRID[name])
    _compare_forward(args, options, reverse)


@pytest.mark.parametrize("chunks", [1, 3, 7])
def test_forward_and_backward_in_any_number_of_blocks(monkeypatch, chunks):
    """The row and frame blocks (one per thread) partition the work: forced to 1, 3 or 7 blocks whatever the
    cores, the forward pass still equals the reference and the gradients those of the default split."""
    args, options, reverse = _make_case("blocks", batch=5, steps=4, spatial=(9, 7), filters=8, padding="same",
                                        peephole=True, mask="random", recurrent_mask=True, initial_state=True)
    rng = np.random.default_rng(chunks)
    *_, workspace = numlstm.convlstm_forward(**args, **options, reverse=reverse)
    d_outputs = rng.normal(size=(5, 4, 9, 7, 8))
    expected = numlstm.convlstm_backward(workspace, d_outputs)
    monkeypatch.setattr(convlstm_module, "_row_split", lambda work: min(work, chunks))
    _compare_forward(args, options, reverse)
    *_, workspace = numlstm.convlstm_forward(**args, **options, reverse=reverse)
    got = numlstm.convlstm_backward(workspace, d_outputs)
    for label, g, e in zip(got._fields, got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-11, atol=1e-12, err_msg=label)


# -- gradients against torch autograd ------------------------------------------------------------------------
def _torch_convlstm(torch, x, kernel, recurrent_kernel, bias, peephole, h0, c0, *, strides, padding,
                    dilation_rate, cifg, mask, zero_output_for_mask, recurrent_mask, reverse):
    """A ConvLSTM in torch (channels-last tensors, Keras-layout weights), outputs in the caller's time order."""
    functional = torch.nn.functional
    rank = x.dim() - 3
    convolve = functional.conv1d if rank == 1 else functional.conv2d

    def keras_conv(inputs, weight, stride, dilation, mode):
        """Keras' cross-correlation of (N, *spatial, C) by (*kernel, C, F), as a torch convolution."""
        pads = []
        for n, k, s, d in zip(inputs.shape[1:-1], weight.shape[:rank], stride, dilation):
            span = (k - 1) * d + 1
            total = max((-(-n // s) - 1) * s + span - n, 0) if mode == "same" else 0
            pads.append((total // 2, total - total // 2))  # the smaller half before, as Keras/XLA
        channels_first = inputs.permute(0, rank + 1, *range(1, rank + 1))
        padded = functional.pad(channels_first, [p for pair in reversed(pads) for p in pair])
        out = convolve(padded, weight.permute(rank + 1, rank, *range(rank)), stride=stride, dilation=dilation)
        return out.permute(0, *range(2, rank + 2), 1)

    gates = 3 if cifg else 4
    strides, dilation_rate, ones = _tuple(strides, rank), _tuple(dilation_rate, rank), (1,) * rank
    T = x.shape[1]
    h, c = h0, c0
    outputs = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        h_in = h if recurrent_mask is None else h * recurrent_mask
        z = (keras_conv(x[:, t], kernel, strides, dilation_rate, padding) + bias
             + keras_conv(h_in, recurrent_kernel, ones, ones, "same"))
        parts = list(torch.split(z, z.shape[-1] // gates, dim=-1))
        p = dict(zip("fo" if cifg else "ifo", torch.split(peephole, peephole.shape[-1] // (gates - 1), dim=-1)))
        if cifg:
            z_f, z_c, z_o = parts
            f = torch.sigmoid(z_f + p["f"] * c)
            i = 1 - f
        else:
            z_i, z_f, z_c, z_o = parts
            i = torch.sigmoid(z_i + p["i"] * c)
            f = torch.sigmoid(z_f + p["f"] * c)
        c_new = f * c + i * torch.tanh(z_c)
        h_new = torch.sigmoid(z_o + p["o"] * c_new) * torch.tanh(c_new)
        if mask is None:
            h, c, outputs[t] = h_new, c_new, h_new
        else:
            keep = mask[:, t].reshape((-1,) + (1,) * (h.dim() - 1))
            h, c = torch.where(keep, h_new, h), torch.where(keep, c_new, c)
            outputs[t] = torch.where(keep, h, torch.zeros_like(h)) if zero_output_for_mask else h
    return torch.stack(outputs, dim=1), h, c


TORCH_CASES = {
    "2d-same-peephole": {"padding": "same", "peephole": True, "initial_state": True, "spatial": (5, 4)},
    "2d-cifg": {"cifg": True, "peephole": True, "initial_state": True, "spatial": (5, 4),
                "kernel_size": (2, 3), "strides": (2, 1)},
    "2d-cifg-same-no-peephole": {"cifg": True, "padding": "same", "spatial": (4, 4), "kernel_size": 2},
    "2d-mask-recurrent-mask-reverse": {"padding": "same", "peephole": True, "initial_state": True,
                                       "mask": "random", "recurrent_mask": True, "reverse": True,
                                       "spatial": (4, 5), "steps": 5},
    "1d-cifg-mask-zero-output-reverse-dilated": {"rank": 1, "padding": "same", "dilation_rate": 2, "cifg": True,
                                         "peephole": True, "initial_state": True, "mask": "random",
                                         "zero_output_for_mask": True, "recurrent_mask": True, "reverse": True,
                                         "steps": 5},
}


@pytest.mark.parametrize("name", TORCH_CASES)
def test_gradients_match_torch_autograd(name):
    torch = pytest.importorskip("torch", reason="needs the torch extra: pip install -e '.[torch]'")
    case = TORCH_CASES[name]
    args, options, reverse = _make_case("torch-" + name, batch=2, channels=2, filters=3, **case)
    outputs, h_n, c_n, workspace = numlstm.convlstm_forward(**args, **options, reverse=reverse)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    d_outputs, d_h_n, d_c_n = (rng.normal(size=a.shape) for a in (outputs, h_n, c_n))
    got = numlstm.convlstm_backward(workspace, d_outputs, d_h_n, d_c_n)

    gates = 3 if options["cifg"] else 4
    filters = args["recurrent_kernel"].shape[-2]
    full = dict(args)
    full.setdefault("peephole", np.zeros(h_n.shape[1:-1] + ((gates - 1) * filters,)))
    full.setdefault("h0", np.zeros(h_n.shape))
    full.setdefault("c0", np.zeros(h_n.shape))
    differentiable = ["x", "kernel", "recurrent_kernel", "bias", "peephole", "h0", "c0"]
    tensors = {name: torch.tensor(full[name], dtype=torch.float64, requires_grad=name in differentiable)
               for name in full if name != "mask"}
    mask = torch.tensor(full["mask"]) if "mask" in full else None
    recurrent_mask = tensors.pop("recurrent_mask", None)
    expected_outputs, expected_h, expected_c = _torch_convlstm(
        torch, *(tensors[name] for name in differentiable), mask=mask, recurrent_mask=recurrent_mask,
        reverse=reverse, **options)
    for label, g, e in [("outputs", outputs, expected_outputs), ("h_n", h_n, expected_h), ("c_n", c_n, expected_c)]:
        np.testing.assert_allclose(g, e.detach().numpy(), rtol=1e-12, atol=1e-12, err_msg=label)
    loss = ((expected_outputs * torch.tensor(d_outputs)).sum() + (expected_h * torch.tensor(d_h_n)).sum()
            + (expected_c * torch.tensor(d_c_n)).sum())
    loss.backward()
    pairs = {"dx": "x", "d_kernel": "kernel", "d_recurrent_kernel": "recurrent_kernel", "d_bias": "bias",
             "d_peephole": "peephole", "dh0": "h0", "dc0": "c0"}
    for field, argument in pairs.items():
        value = getattr(got, field)
        if field == "d_peephole" and "peephole" not in args:
            assert value is None
            continue
        expected = tensors[argument].grad.numpy()
        assert value.shape == expected.shape, field
        np.testing.assert_allclose(value, expected, rtol=1e-10, atol=1e-12, err_msg=field)


# -- bad input ---------------------------------------------------------------------------------------------------
def _good_call():
    """A valid 2D call: x (2, 3, 4, 5, 2), 3x3 kernels, 2 filters, "same" padding."""
    rng = np.random.default_rng(7)
    return {"x": rng.normal(size=(2, 3, 4, 5, 2)), "kernel": rng.normal(size=(3, 3, 2, 8)),
            "recurrent_kernel": rng.normal(size=(3, 3, 2, 8)), "padding": "same"}


def _with_nan(array, index, value=np.nan):
    array = array.copy()
    array[index] = value
    return array


# name: (changes to _good_call, exception, pattern the message must match: the argument's name)
BAD_FORWARD = {
    "x-rank-3": ({"x": np.zeros((2, 3, 4))}, ValueError, r"^x must have shape \(batch, timesteps, spatial\.\.\."),
    "x-no-timesteps": ({"x": np.zeros((2, 0, 4, 5, 2))}, ValueError, r"^x must have at least one"),
    "x-int": ({"x": np.zeros((2, 3, 4, 5, 2), int)}, TypeError, r"^x must be a float32 or float64 array"),
    "x-complex": ({"x": np.zeros((2, 3, 4, 5, 2), complex)}, TypeError, r"^x must be a float32 or float64"),
    "x-none": ({"x": None}, TypeError, r"^x must be"),
    "kernel-rank": ({"kernel": np.zeros((3, 2, 8))}, ValueError, r"^kernel must have shape kernel_size"),
    # Both kernels of one rank, x of another: the message names x and both kernels' shapes.
    "kernel-1d-for-2d-x": ({"kernel": np.zeros((3, 2, 8)), "recurrent_kernel": np.zeros((3, 2, 8))},
                           ValueError, r"^x must have shape .* with 1 spatial axes, as the kernels \(3, 2, 8\)"),
    "kernel-channels": ({"kernel": np.zeros((3, 3, 3, 8))}, ValueError, r"^kernel must have shape .*\(2, 8\)"),
    "kernel-columns": ({"kernel": np.zeros((3, 3, 2, 6))}, ValueError, r"^kernel must have shape .*\(2, 8\)"),
    "kernel-empty": ({"kernel": np.zeros((0, 3, 2, 8))}, ValueError, r"^kernel must have shape"),
    "kernel-ragged": ({"kernel": [[1.0, 2.0], [3.0]]}, TypeError, r"^kernel must be a numeric array"),
    "kernel-strings": ({"kernel": "abc"}, TypeError, r"^kernel must be a float32 or float64 array"),
    "recurrent-kernel-not-filters-by-4-filters": ({"recurrent_kernel": np.zeros((3, 3, 2, 6))}, ValueError,
                                                  r"^recurrent_kernel must have shape .*\(filters, 4 \* filters\)"),
    "recurrent-kernel-other-filters": ({"recurrent_kernel": np.zeros((3, 3, 3, 12))}, ValueError,
                                       r"^kernel must have shape .*\(2, 12\)"),
    "recurrent-kernel-rank": ({"recurrent_kernel": np.zeros((3, 3, 3, 2, 8))}, ValueError,
                              r"^recurrent_kernel must have shape"),
    "cifg-with-4-gates": ({"cifg": True}, ValueError,
                          r"^recurrent_kernel must have shape .*\(filters, 3 \* filters\) for gates f, c, o"),
    "strides-and-dilation": ({"strides": (2, 1), "dilation_rate": (1, 2)}, ValueError,
                             r"strides > 1 is not supported with dilation_rate > 1"),
    "strides-zero": ({"strides": 0}, ValueError, r"^strides must be a positive int"),
    "strides-wrong-length": ({"strides": (1, 1, 1)}, ValueError, r"^strides must be .* tuple of 2"),
    "strides-float": ({"strides": 1.5}, ValueError, r"^strides must be a positive int"),
    "strides-bool": ({"strides": True}, ValueError, r"^strides must be a positive int"),
    "dilation-negative": ({"dilation_rate": -1}, ValueError, r"^dilation_rate must be a positive int"),
    "padding-causal": ({"padding": "causal"}, ValueError, r"^padding must be one of \('valid', 'same'\)"),
    "padding-none": ({"padding": None}, ValueError, r"^padding must be one of"),
    "kernel-larger-than-valid-input": ({"kernel": np.zeros((5, 3, 2, 8)), "padding": "valid"}, ValueError,
                                       r"kernel of size \(5, 3\) .* padding 'valid' leaves no output position"),
    "dilated-kernel-larger-than-valid-input": ({"dilation_rate": 2, "padding": "valid"}, ValueError,
                                               r"kernel of size \(3, 3\) at dilation \(2, 2\)"),
    "bias-shape": ({"bias": np.zeros(6)}, ValueError, r"^bias must have shape \(4 \* filters,\) = \(8,\)"),
    "h0-shape": ({"h0": np.zeros((2, 4, 5, 3))}, ValueError, r"^h0 must have shape .* = \(2, 4, 5, 2\)"),
    "c0-shape-of-valid-padding": ({"c0": np.zeros((2, 4, 5, 2)), "padding": "valid"}, ValueError,
                                  r"^c0 must have shape .* = \(2, 2, 3, 2\)"),
    "h0-float32": ({"h0": np.zeros((2, 4, 5, 2), np.float32)}, TypeError, r"^h0 has dtype float32"),
    "peephole-shape": ({"peephole": np.zeros((4, 5, 8))}, ValueError,
                       r"^peephole must have shape state_spatial \+ \(3 \* filters,\) = \(4, 5, 6\)"),
    "peephole-cifg-shape": ({"cifg": True, "kernel": np.zeros((3, 3, 2, 6)),
                             "recurrent_kernel": np.zeros((3, 3, 2, 6)), "peephole": np.zeros((4, 5, 6))},
                            ValueError, r"^peephole must have shape state_spatial \+ \(2 \* filters,\)"),
    "peephole-per-filter-only": ({"peephole": np.zeros(6)}, ValueError, r"^peephole must have shape"),
    "float32-kernel-with-float64-x": ({"kernel": np.zeros((3, 3, 2, 8), np.float32)}, TypeError,
                                      r"^kernel has dtype float32 but x has dtype float64"),
    "float32-recurrent-kernel": ({"recurrent_kernel": np.zeros((3, 3, 2, 8), np.float32)}, TypeError,
                                 r"^recurrent_kernel has dtype float32"),
    "float64-bias-with-float32-x": ({"x": np.zeros((2, 3, 4, 5, 2), np.float32),
                                     "kernel": np.zeros((3, 3, 2, 8), np.float32),
                                     "recurrent_kernel": np.zeros((3, 3, 2, 8), np.float32),
                                     "bias": np.zeros(8)}, TypeError, r"^bias has dtype float64 but x has"),
    "mask-int": ({"mask": np.ones((2, 3), int)}, TypeError, r"^mask must be a bool array"),
    "mask-float": ({"mask": np.ones((2, 3))}, TypeError, r"^mask must be a bool array"),
    "mask-shape": ({"mask": np.ones((2, 4), bool)}, ValueError, r"^mask must have shape \(batch, timesteps\)"),
    "mask-3d": ({"mask": np.ones((2, 3, 1), bool)}, ValueError, r"^mask must have shape"),
    "recurrent-mask-shape": ({"recurrent_mask": np.ones((2, 4, 5))}, ValueError, r"^recurrent_mask must have"),
    "recurrent-mask-bool": ({"recurrent_mask": np.ones((2, 4, 5, 2), bool)}, TypeError,
                            r"^recurrent_mask must be a float32 or float64"),
    "nan-in-x": ({"x": _with_nan(np.zeros((2, 3, 4, 5, 2)), (1, 2, 3, 4, 1))}, ValueError,
                 r"^x contains NaN or infinity \(first at index \(1, 2, 3, 4, 1\)\)"),
    "inf-in-kernel": ({"kernel": _with_nan(np.zeros((3, 3, 2, 8)), (0, 1, 1, 2), -np.inf)}, ValueError,
                      r"^kernel contains NaN or infinity"),
    "nan-in-h0": ({"h0": _with_nan(np.zeros((2, 4, 5, 2)), (0, 0, 0, 0))}, ValueError,
                  r"^h0 contains NaN or infinity"),
    "nan-in-peephole": ({"peephole": _with_nan(np.zeros((4, 5, 6)), (3, 4, 5))}, ValueError,
                        r"^peephole contains NaN or infinity"),
}


@pytest.mark.parametrize("name", BAD_FORWARD)
def test_bad_forward_arguments_raise_naming_them(name):
    changes, error, pattern = BAD_FORWARD[name]
    call = {**_good_call(), **changes}
    with pytest.raises(error, match=pattern) as raised:
        numlstm.convlstm_forward(**call)
    assert not isinstance(raised.value, NumbaError)


def test_nan_propagates_without_check_finite():
    call = _good_call()
    call["x"] = _with_nan(call["x"], (0, 1, 0, 0, 0))
    outputs = numlstm.convlstm_forward(**call, check_finite=False)[0]
    assert np.isnan(outputs[0, 1:]).any() and np.isfinite(outputs[1]).all() and np.isfinite(outputs[0, 0]).all()


def test_a_list_mask_and_mixed_case_padding_are_accepted():
    call = _good_call()
    expected = numlstm.convlstm_forward(**call, mask=np.ones((2, 3), bool))[0]
    call["padding"] = "SAME"
    np.testing.assert_array_equal(numlstm.convlstm_forward(**call, mask=[[True] * 3] * 2)[0], expected)


def _workspace():
    return numlstm.convlstm_forward(**_good_call())[3]


def test_backward_twice_raises():
    workspace = _workspace()
    assert not workspace.consumed
    numlstm.convlstm_backward(workspace, np.ones((2, 3, 4, 5, 2)))
    assert workspace.consumed
    with pytest.raises(ValueError, match=r"^workspace was already used by convlstm_backward"):
        numlstm.convlstm_backward(workspace, np.ones((2, 3, 4, 5, 2)))


@pytest.mark.parametrize("not_a_workspace", [None, {}, "workspace", "forward-tuple", "lstm-workspace"])
def test_backward_of_a_non_workspace_raises(not_a_workspace):
    if not_a_workspace == "forward-tuple":
        not_a_workspace = numlstm.convlstm_forward(**_good_call())
    elif not_a_workspace == "lstm-workspace":
        not_a_workspace = numlstm.lstm_forward(np.zeros((2, 3, 2)), np.zeros((2, 8)), np.zeros((2, 8)))[3]
    with pytest.raises(TypeError, match=r"^workspace must be the ConvLSTMWorkspace returned by convlstm_forward"):
        numlstm.convlstm_backward(not_a_workspace)


BAD_BACKWARD = {
    "d-outputs-shape": ({"d_outputs": np.ones((2, 3, 4, 5, 3))}, ValueError, r"^d_outputs must have shape"),
    "d-outputs-without-time": ({"d_outputs": np.ones((2, 4, 5, 2))}, ValueError, r"^d_outputs must have shape"),
    "d-h-n-shape": ({"d_h_n": np.ones((2, 4, 5))}, ValueError, r"^d_h_n must have shape"),
    "d-c-n-float32": ({"d_c_n": np.ones((2, 4, 5, 2), np.float32)}, TypeError, r"^d_c_n has dtype float32"),
    "nan-in-d-outputs": ({"d_outputs": _with_nan(np.ones((2, 3, 4, 5, 2)), (1, 0, 0, 0, 0))}, ValueError,
                         r"^d_outputs contains NaN or infinity"),
}


@pytest.mark.parametrize("name", BAD_BACKWARD)
def test_bad_backward_arguments_raise_and_leave_the_workspace_usable(name):
    changes, error, pattern = BAD_BACKWARD[name]
    workspace = _workspace()
    with pytest.raises(error, match=pattern) as raised:
        numlstm.convlstm_backward(workspace, **changes)
    assert not isinstance(raised.value, NumbaError)
    assert not workspace.consumed
    assert numlstm.convlstm_backward(workspace, np.ones((2, 3, 4, 5, 2))).dx.shape == (2, 3, 4, 5, 2)


# -- read-only arrays ------------------------------------------------------------------------------------------
def _read_only(array):
    array = np.array(array)
    array.setflags(write=False)
    return array


# Read-only arrays (np.asarray of a JAX array, np.load(mmap_mode="r")) beside writable ones: the finite check
# once failed Numba typing on the mixed tuple.
@pytest.mark.parametrize("check_finite", [False, True])
@pytest.mark.parametrize("which", ["x", "kernel", "h0"])
def test_read_only_arguments(which, check_finite):
    args, options, _ = _make_case("read-only", padding="same", peephole=True, initial_state=True)
    expected = numlstm.convlstm_forward(**args, **options)
    args[which] = _read_only(args[which])
    got = numlstm.convlstm_forward(**args, **options, check_finite=check_finite)
    for g, e in zip(got[:3], expected[:3]):
        np.testing.assert_array_equal(g, e)


def test_read_only_output_gradient():
    workspace = _workspace()
    got = numlstm.convlstm_backward(workspace, _read_only(np.ones((2, 3, 4, 5, 2))), np.ones((2, 4, 5, 2)))
    assert got.dx.shape == (2, 3, 4, 5, 2)
